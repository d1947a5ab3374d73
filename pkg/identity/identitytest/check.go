package identitytest

import (
	"crypto"
	"errors"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
)

// Want is what CheckSource expects of a source.
type Want struct {
	// ID is the node's SPIFFE ID.
	ID spiffeid.ID
	// Trusted are the trust domains whose bundles the source must serve: the
	// node's and its counterpart's.
	Trusted []spiffeid.TrustDomain
	// Untrusted are trust domains the source must refuse with
	// identity.ErrUntrusted, e.g. one the Workload API federates with.
	Untrusted []spiffeid.TrustDomain
}

// CheckSource checks the contract every identity.Source a node runs on must
// meet, whatever it is made of: the SVID carries the node's ID, its key
// matches its leaf, and it chains to its own trust domain's bundle; every
// trusted trust domain has a bundle; every other is refused with
// identity.ErrUntrusted.
func CheckSource(t testing.TB, src identity.Source, want Want) {
	t.Helper()
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatalf("GetX509SVID: %v", err)
	}
	if svid.ID != want.ID {
		t.Errorf("SVID is %s, want %s", svid.ID, want.ID)
	}
	pub, ok := svid.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(svid.Certificates[0].PublicKey) {
		t.Errorf("SVID's private key does not match its leaf certificate")
	}
	if _, _, err := x509svid.Verify(svid.Certificates, src); err != nil {
		t.Errorf("SVID does not verify with the source's own bundles: %v", err)
	}
	for _, td := range want.Trusted {
		b, err := src.GetX509BundleForTrustDomain(td)
		if err != nil {
			t.Errorf("bundle of trusted %s: %v", td, err)
			continue
		}
		if b.Empty() || b.TrustDomain() != td {
			t.Errorf("bundle of trusted %s is empty or of %s", td, b.TrustDomain())
		}
	}
	for _, td := range want.Untrusted {
		if _, err := src.GetX509BundleForTrustDomain(td); !errors.Is(err, identity.ErrUntrusted) {
			t.Errorf("bundle of untrusted %s: err = %v, want ErrUntrusted", td, err)
		}
	}
}
