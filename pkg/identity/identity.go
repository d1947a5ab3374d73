// Package identity gives a node its transport identity: its X.509-SVID, the
// trust bundles it accepts, and the gRPC credentials that admit exactly the
// peers it should talk to.
//
// Transport identity answers "which node is on the other end of this
// connection"; it lives an hour and rotates. It never signs a message: that is
// the long-lived signing key's job (package keys), because a signature must
// still verify long after every SVID involved has expired.
package identity

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
)

// ErrNoPeerID is returned when a call did not come over mutual TLS with an
// X.509-SVID.
var ErrNoPeerID = errors.New("identity: caller presented no SPIFFE ID")

// Source is where a node gets its SVID and the bundles it trusts.
type Source interface {
	x509svid.Source
	x509bundle.Source
}

// Files names the PEM files of a file-based identity.
type Files struct {
	// Cert is the SVID certificate chain, leaf first.
	Cert string
	// Key is the SVID's PKCS#8 private key.
	Key string
	// Bundles maps each trusted trust domain to its CA bundle file. A node trusts
	// exactly its own trust domain and its counterpart's.
	Bundles map[spiffeid.TrustDomain]string
}

// FileSource serves an SVID and bundles read from files. Reload re-reads them,
// so a rotated SVID is used for new connections without a restart.
type FileSource struct {
	files Files

	mu      sync.RWMutex
	svid    *x509svid.SVID
	bundles *x509bundle.Set
}

var _ Source = (*FileSource)(nil)

// LoadFiles reads an SVID and bundles from files.
func LoadFiles(files Files) (*FileSource, error) {
	s := &FileSource{files: files}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads every file. On any error the previous identity stays in use.
func (s *FileSource) Reload() error {
	svid, err := x509svid.Load(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("identity: load SVID %s: %w", s.files.Cert, err)
	}
	set := x509bundle.NewSet()
	for td, path := range s.files.Bundles {
		b, err := x509bundle.Load(td, path)
		if err != nil {
			return fmt.Errorf("identity: load bundle of %s: %w", td, err)
		}
		set.Add(b)
	}
	if _, ok := set.Get(svid.ID.TrustDomain()); !ok {
		return fmt.Errorf("identity: no bundle for the SVID's own trust domain %s", svid.ID.TrustDomain())
	}
	s.mu.Lock()
	s.svid, s.bundles = svid, set
	s.mu.Unlock()
	return nil
}

// GetX509SVID returns the current SVID.
func (s *FileSource) GetX509SVID() (*x509svid.SVID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.svid, nil
}

// GetX509BundleForTrustDomain returns the bundle of a trusted trust domain.
func (s *FileSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bundles.GetX509BundleForTrustDomain(td)
}

// Static serves a fixed SVID and bundles; for tests and the demo.
type Static struct {
	SVID    *x509svid.SVID
	Bundles *x509bundle.Set
}

// GetX509SVID returns the SVID.
func (s Static) GetX509SVID() (*x509svid.SVID, error) { return s.SVID, nil }

// GetX509BundleForTrustDomain returns a trusted bundle.
func (s Static) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return s.Bundles.GetX509BundleForTrustDomain(td)
}

// Expiry is when the current SVID's leaf expires.
func Expiry(src x509svid.Source) (time.Time, error) {
	svid, err := src.GetX509SVID()
	if err != nil {
		return time.Time{}, fmt.Errorf("identity: %w", err)
	}
	return svid.Certificates[0].NotAfter, nil
}

// ServerCredentials admit only clients whose SVID is one of allowed.
func ServerCredentials(src Source, allowed ...spiffeid.ID) credentials.TransportCredentials {
	return grpccredentials.MTLSServerCredentials(src, src, tlsconfig.AuthorizeOneOf(allowed...))
}

// ClientCredentials connect only to a server whose SVID is want.
func ClientCredentials(src Source, want spiffeid.ID) credentials.TransportCredentials {
	return grpccredentials.MTLSClientCredentials(src, src, tlsconfig.AuthorizeID(want))
}

// PeerID is the SPIFFE ID of the caller of a gRPC call.
func PeerID(ctx context.Context) (spiffeid.ID, error) {
	id, ok := grpccredentials.PeerIDFromContext(ctx)
	if !ok {
		return spiffeid.ID{}, ErrNoPeerID
	}
	return id, nil
}

// LeafID is the SPIFFE ID of a certificate, for logs.
func LeafID(cert *x509.Certificate) (spiffeid.ID, error) {
	return x509svid.IDFromCert(cert)
}
