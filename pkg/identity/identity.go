// Package identity gives a node its transport identity: its X.509-SVID, the
// trust bundles it accepts, and the gRPC credentials that admit exactly the
// peers it should talk to.
//
// Transport identity answers "which node is on the other end of this
// connection"; it lives an hour and rotates. It never signs a message: that is
// the long-lived signing key's job (package keys), because a signature must
// still verify long after every SVID involved has expired.
//
// Where an identity comes from:
//   - FileSource: SVID and bundles from PEM files; Watch reloads them when
//     they change, keeping the last good ones if new ones are broken.
//   - WorkloadSource: SVID and bundles streamed by the SPIFFE Workload API
//     (a SPIRE agent), rotated by the agent.
//   - BundleFile and BundleEndpoint: the counterpart's bundle alone, from a
//     file or from the counterpart's SPIFFE bundle endpoint.
//
// Combined joins an SVID source with a Trust, which names the bundle source
// of each trusted trust domain and refuses all others: a node trusts exactly
// its own trust domain and its counterpart's, whatever else a source offers.
// identitytest.CheckSource is the contract every combination must meet.
package identity

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
)

// Errors of this package, by when they happen.
var (
	// ErrNoPeerID is returned when a call did not come over mutual TLS with an
	// X.509-SVID.
	ErrNoPeerID = errors.New("identity: caller presented no SPIFFE ID")

	// ErrWrongID is returned when an SVID (from a file or the Workload API)
	// is not the SPIFFE ID the node is configured as. Check the file or the
	// registration entry; the node keeps any SVID it had before.
	ErrWrongID = errors.New("identity: SVID has the wrong SPIFFE ID")

	// ErrUntrusted is returned for a bundle of a trust domain the node does
	// not trust. A node trusts its own trust domain and its counterpart's,
	// whatever else a source (such as a federating Workload API) offers.
	ErrUntrusted = errors.New("identity: trust domain not trusted by this node")
)

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
	// ID, if not zero, is the SPIFFE ID the SVID must have. A file with another
	// ID is refused, when first loaded and when reloaded.
	ID spiffeid.ID
}

// paths lists every file, in a fixed order.
func (f Files) paths() []string {
	tds := slices.SortedFunc(maps.Keys(f.Bundles), func(a, b spiffeid.TrustDomain) int {
		return cmp.Compare(a.Name(), b.Name())
	})
	out := []string{f.Cert, f.Key}
	for _, td := range tds {
		out = append(out, f.Bundles[td])
	}
	return out
}

// FileSource serves an SVID and bundles read from files. Reload re-reads them,
// and Watch reloads them whenever they change, so an SVID rotated by whatever
// writes the files (spiffe-helper, cert-manager, an operator) is used for new
// connections without a restart.
type FileSource struct {
	files Files

	mu      sync.RWMutex
	svid    *x509svid.SVID
	bundles *x509bundle.Set
	seen    fileStamp // the files as they were when last (re)loaded
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
//
// The new SVID must carry Files.ID (if set) and chain to its own trust
// domain's new bundle: a file that parses but would make every handshake fail
// is as broken as one that does not parse.
func (s *FileSource) Reload() error {
	// Stamp before reading: a change made while reading is seen next time.
	stamp := stampFiles(s.files.paths()...)
	svid, set, err := s.files.load()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = stamp
	if err != nil {
		return err
	}
	s.svid, s.bundles = svid, set
	return nil
}

func (f Files) load() (*x509svid.SVID, *x509bundle.Set, error) {
	svid, err := x509svid.Load(f.Cert, f.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: load SVID %s: %w", f.Cert, err)
	}
	if !f.ID.IsZero() && svid.ID != f.ID {
		return nil, nil, fmt.Errorf("%w: the SVID in %s is %s, want %s", ErrWrongID, f.Cert, svid.ID, f.ID)
	}
	set := x509bundle.NewSet()
	for td, path := range f.Bundles {
		b, err := loadBundle(td, path)
		if err != nil {
			return nil, nil, err
		}
		set.Add(b)
	}
	if _, ok := set.Get(svid.ID.TrustDomain()); !ok {
		return nil, nil, fmt.Errorf("identity: no bundle for the SVID's own trust domain %s", svid.ID.TrustDomain())
	}
	if _, _, err := x509svid.Verify(svid.Certificates, set); err != nil {
		return nil, nil, fmt.Errorf("identity: the SVID in %s does not verify with the bundle of %s: %w", f.Cert, svid.ID.TrustDomain(), err)
	}
	return svid, set, nil
}

// Watch checks the files every interval and reloads them when any of them
// changed (size, modification time or inode), until ctx ends. A reload that
// fails is logged, and the previous SVID and bundles stay in use until the
// files change again. Write new files atomically (write elsewhere, then
// rename) where you can; a half-written file is retried on its next change.
func (s *FileSource) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	watchFiles(ctx, interval, func() {
		s.mu.RLock()
		seen := s.seen
		s.mu.RUnlock()
		if stampFiles(s.files.paths()...) == seen {
			return
		}
		old, _ := s.GetX509SVID()
		if err := s.Reload(); err != nil {
			logger(log).Error("identity: reloading the SVID and bundle files failed; the previous ones stay in use",
				"svid_cert", s.files.Cert, "error", err)
			return
		}
		svid, _ := s.GetX509SVID()
		logger(log).Info("identity: reloaded the SVID and bundle files",
			"spiffe_id", svid.ID.String(), "serial", serial(svid), "not_after", svid.Certificates[0].NotAfter,
			"rotated", serial(old) != serial(svid))
	})
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
	if _, ok := s.bundles.Get(td); !ok {
		return nil, fmt.Errorf("%w: %s", ErrUntrusted, td)
	}
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

// TrustDomainCredentials admit any client with an SVID of td; what each may do
// is then decided by its SPIFFE ID (the local API's roles), so that a caller
// without a role is refused with a reason rather than at the handshake.
func TrustDomainCredentials(src Source, td spiffeid.TrustDomain) credentials.TransportCredentials {
	return grpccredentials.MTLSServerCredentials(src, src, tlsconfig.AuthorizeMemberOf(td))
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
