// Package devpki makes the throwaway PKI that development, tests and the demo
// run on: one self-signed CA per trust domain, X.509-SVIDs for a node and its
// local officer and auditor clients, and the node's Ed25519 message-signing
// key as a C2SP signed-note key pair.
//
// Nothing here is for production. There, SPIRE issues short-lived X.509-SVIDs
// through the SPIFFE Workload API, the two trust domains exchange bundles by
// federation, and the long-lived message-signing key may live in an HSM, used
// by the node only through crypto.Signer. The CA private keys made here are
// kept in memory only and never written to disk.
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// ErrOutsideTrustDomain is returned by IssueSVID when asked for a SPIFFE ID
// that does not belong to the CA's trust domain. Issue it from the CA of the
// ID's own trust domain instead.
var ErrOutsideTrustDomain = errors.New("devpki: SPIFFE ID is outside the CA's trust domain; issue it from that trust domain's CA")

// organization marks every certificate made here as development material, so
// that one found where it does not belong is recognised for what it is.
const organization = "focalpoint development PKI (not for production)"

// CA is a trust domain's signing authority for X.509-SVIDs.
type CA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a self-signed root CA (ECDSA P-256) for td whose URI SAN is the
// trust domain's SPIFFE ID (spiffe://td), valid from now-1h to now+ttl. The
// hour before now absorbs clock skew between the machines of a demo.
func NewCA(td spiffeid.TrustDomain, now time.Time, ttl time.Duration) (*CA, error) {
	if td.IsZero() {
		return nil, errors.New("devpki: new CA: trust domain is required")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("devpki: new CA for %s: ttl must be positive, got %s", td, ttl)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devpki: new CA for %s: generate key: %w", td, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("devpki: new CA for %s: %w", td, err)
	}
	// X.509 keeps whole seconds; truncate here so that the validity checked
	// in IssueSVID is the validity written into the certificate.
	now = now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{organization},
			CommonName:   td.Name() + " development CA",
		},
		URIs:                  []*url.URL{td.ID().URL()},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devpki: new CA for %s: create certificate: %w", td, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devpki: new CA for %s: parse certificate: %w", td, err)
	}
	return &CA{td: td, cert: cert, key: key}, nil
}

// TrustDomain returns the trust domain the CA signs for.
func (ca *CA) TrustDomain() spiffeid.TrustDomain { return ca.td }

// Bundle returns the CA as a go-spiffe x509bundle.Bundle. Each call returns a
// new bundle, so the caller may change it.
func (ca *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.td, []*x509.Certificate{ca.cert})
}

// IssueSVID issues a leaf X.509-SVID for id, which must be in ca's trust
// domain and have a path, valid in [notBefore, notAfter] (whole seconds; the
// window must lie within the CA's own), with a fresh ECDSA P-256 key.
//
// The leaf carries exactly one URI SAN (id), no DNS names, key usage
// DigitalSignature|KeyEncipherment and extended key usage ServerAuth and
// ClientAuth, so one SVID serves both ends of an mTLS connection. The
// returned SVID is itself an x509svid.Source (it has GetX509SVID), and
// svid.Marshal() gives the PEM files that x509svid.Load reads.
func (ca *CA) IssueSVID(id spiffeid.ID, notBefore, notAfter time.Time) (*x509svid.SVID, error) {
	switch {
	case id.IsZero():
		return nil, errors.New("devpki: issue SVID: SPIFFE ID is required")
	case !id.MemberOf(ca.td):
		return nil, fmt.Errorf("%w: %s is not in %s", ErrOutsideTrustDomain, id, ca.td)
	case id.Path() == "":
		return nil, fmt.Errorf("devpki: issue SVID: %s names the trust domain itself; an SVID needs a path", id)
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	notAfter = notAfter.UTC().Truncate(time.Second)
	switch {
	case !notBefore.Before(notAfter):
		return nil, fmt.Errorf("devpki: issue SVID for %s: notBefore %s is not before notAfter %s",
			id, notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339))
	case notBefore.Before(ca.cert.NotBefore) || notAfter.After(ca.cert.NotAfter):
		return nil, fmt.Errorf("devpki: issue SVID for %s: validity %s to %s is outside the CA's %s to %s",
			id, notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339),
			ca.cert.NotBefore.Format(time.RFC3339), ca.cert.NotAfter.Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devpki: issue SVID for %s: generate key: %w", id, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("devpki: issue SVID for %s: %w", id, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{organization}},
		URIs:                  []*url.URL{id.URL()},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("devpki: issue SVID for %s: create certificate: %w", id, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devpki: issue SVID for %s: parse certificate: %w", id, err)
	}
	// The CA is a root and travels in the bundle, so the chain is the leaf alone.
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{cert}, PrivateKey: key}, nil
}

// newSerial returns a random 128-bit certificate serial number.
func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return serial, nil
}
