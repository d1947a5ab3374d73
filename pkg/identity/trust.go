package identity

import (
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Trust is the set of trust domains a node accepts and, for each, where its
// bundle comes from. Every other trust domain is refused with ErrUntrusted.
//
// It exists because a source may know more bundles than the node should
// trust: the Workload API hands a workload every bundle its SPIRE server
// federates with, and a SPIRE server of an agency may federate with many
// trust domains. A node of the link trusts exactly two: its own and its
// counterpart's. go-spiffe's authorizers already pin the peer's SPIFFE ID;
// this pins the roots the peer's chain may lead to, so a federated trust
// domain can never vouch for anything here.
type Trust map[spiffeid.TrustDomain]x509bundle.Source

var _ x509bundle.Source = Trust(nil)

// GetX509BundleForTrustDomain returns td's bundle from td's source, or
// ErrUntrusted if td is not one of the node's trust domains.
func (t Trust) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	src, ok := t[td]
	if !ok || src == nil {
		return nil, fmt.Errorf("%w: %s", ErrUntrusted, td)
	}
	b, err := src.GetX509BundleForTrustDomain(td)
	if err != nil {
		return nil, fmt.Errorf("identity: bundle of %s: %w", td, err)
	}
	return b, nil
}

// Combined is a Source made of where the SVID comes from and which bundles
// are trusted, e.g. an SVID from the Workload API with the counterpart's
// bundle from its bundle endpoint.
type Combined struct {
	SVIDs x509svid.Source
	Trust Trust
}

var _ Source = Combined{}

// GetX509SVID returns the current SVID.
func (c Combined) GetX509SVID() (*x509svid.SVID, error) {
	svid, err := c.SVIDs.GetX509SVID()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return svid, nil
}

// GetX509BundleForTrustDomain returns a trusted trust domain's bundle.
func (c Combined) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return c.Trust.GetX509BundleForTrustDomain(td)
}
