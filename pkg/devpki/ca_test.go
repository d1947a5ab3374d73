package devpki_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
)

var (
	tdID = spiffeid.RequireTrustDomainFromString("imigrasi.go.id")
	tdKH = spiffeid.RequireTrustDomainFromString("immigration.gov.kh")
)

func newCA(t *testing.T, td spiffeid.TrustDomain, now time.Time) *devpki.CA {
	t.Helper()
	ca, err := devpki.NewCA(td, now, 365*24*time.Hour)
	if err != nil {
		t.Fatalf("NewCA(%s): %v", td, err)
	}
	return ca
}

func issue(t *testing.T, ca *devpki.CA, id spiffeid.ID, notBefore, notAfter time.Time) *x509svid.SVID {
	t.Helper()
	svid, err := ca.IssueSVID(id, notBefore, notAfter)
	if err != nil {
		t.Fatalf("IssueSVID(%s): %v", id, err)
	}
	return svid
}

func TestNewCA(t *testing.T) {
	now := time.Now()
	ca := newCA(t, tdID, now)
	if got := ca.TrustDomain(); got != tdID {
		t.Errorf("TrustDomain() = %s, want %s", got, tdID)
	}
	b := ca.Bundle()
	if b.TrustDomain() != tdID {
		t.Errorf("Bundle().TrustDomain() = %s, want %s", b.TrustDomain(), tdID)
	}
	auths := b.X509Authorities()
	if len(auths) != 1 {
		t.Fatalf("bundle has %d authorities, want 1", len(auths))
	}
	c := auths[0]
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("CA cert IsCA=%v BasicConstraintsValid=%v, want both true", c.IsCA, c.BasicConstraintsValid)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("CA KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://imigrasi.go.id" {
		t.Errorf("CA URIs = %v, want [spiffe://imigrasi.go.id]", c.URIs)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if c.NotBefore.After(now.Add(-time.Hour)) || c.NotBefore.Before(now.Add(-time.Hour-time.Second)) {
		t.Errorf("CA NotBefore = %s, want now-1h (%s)", c.NotBefore, now.Add(-time.Hour))
	}
	if want := now.Add(365 * 24 * time.Hour); c.NotAfter.After(want) || c.NotAfter.Before(want.Add(-time.Second)) {
		t.Errorf("CA NotAfter = %s, want now+ttl (%s)", c.NotAfter, want)
	}
	// Bundle hands out copies: changing one does not change the CA.
	b.RemoveX509Authority(c)
	if ca.Bundle().Empty() {
		t.Error("changing a returned bundle changed the CA's")
	}
}

func TestNewCARefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		td   spiffeid.TrustDomain
		ttl  time.Duration
	}{
		{"zero trust domain", spiffeid.TrustDomain{}, time.Hour},
		{"zero ttl", tdID, 0},
		{"negative ttl", tdID, -time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ca, err := devpki.NewCA(tc.td, time.Now(), tc.ttl); err == nil {
				t.Fatalf("NewCA = %v, want an error", ca)
			}
		})
	}
}

func TestIssueSVID(t *testing.T) {
	now := time.Now()
	ca := newCA(t, tdID, now)
	id := devpki.NodeID(tdID)
	svid := issue(t, ca, id, now.Add(-time.Minute), now.Add(time.Hour))

	if svid.ID != id {
		t.Errorf("svid.ID = %s, want %s", svid.ID, id)
	}
	if len(svid.Certificates) != 1 {
		t.Fatalf("chain has %d certificates, want 1 (the leaf)", len(svid.Certificates))
	}
	leaf := svid.Certificates[0]
	if leaf.IsCA {
		t.Error("leaf IsCA = true")
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; leaf.KeyUsage != want {
		t.Errorf("leaf KeyUsage = %v, want %v", leaf.KeyUsage, want)
	}
	for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if !slices.Contains(leaf.ExtKeyUsage, eku) {
			t.Errorf("leaf ExtKeyUsage = %v, missing %v", leaf.ExtKeyUsage, eku)
		}
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		t.Errorf("leaf URIs = %v, want exactly [%s]", leaf.URIs, id)
	}
	if len(leaf.DNSNames) != 0 {
		t.Errorf("leaf DNSNames = %v, want none", leaf.DNSNames)
	}

	// go-spiffe's own checks: parsing back from the marshalled form, and
	// verification against the bundle.
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if _, err := x509svid.Parse(certPEM, keyPEM); err != nil {
		t.Fatalf("x509svid.Parse: %v", err)
	}
	raw := [][]byte{leaf.Raw}
	gotID, _, err := x509svid.ParseAndVerify(raw, ca.Bundle())
	if err != nil {
		t.Fatalf("x509svid.ParseAndVerify: %v", err)
	}
	if gotID != id {
		t.Errorf("ParseAndVerify ID = %s, want %s", gotID, id)
	}
}

func TestIssueSVIDRefuses(t *testing.T) {
	now := time.Now()
	ca := newCA(t, tdID, now)
	caStart := now.Add(-time.Hour)
	caEnd := now.Add(365 * 24 * time.Hour)
	for _, tc := range []struct {
		name                string
		id                  spiffeid.ID
		notBefore, notAfter time.Time
		want                error // nil: any error
	}{
		{"other trust domain", devpki.NodeID(tdKH), now, now.Add(time.Hour), devpki.ErrOutsideTrustDomain},
		{"zero ID", spiffeid.ID{}, now, now.Add(time.Hour), nil},
		{"trust domain ID", tdID.ID(), now, now.Add(time.Hour), nil},
		{"empty window", devpki.NodeID(tdID), now, now, nil},
		{"inverted window", devpki.NodeID(tdID), now.Add(time.Hour), now, nil},
		{"starts before CA", devpki.NodeID(tdID), caStart.Add(-time.Minute), now, nil},
		{"ends after CA", devpki.NodeID(tdID), now, caEnd.Add(time.Minute), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svid, err := ca.IssueSVID(tc.id, tc.notBefore, tc.notAfter)
			if err == nil {
				t.Fatalf("IssueSVID = %v, want an error", svid.ID)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("IssueSVID error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSVIDFromOtherTrustDomainDoesNotVerify(t *testing.T) {
	now := time.Now()
	caID, caKH := newCA(t, tdID, now), newCA(t, tdKH, now)
	khNode := issue(t, caKH, devpki.NodeID(tdKH), now.Add(-time.Minute), now.Add(time.Hour))

	// With both bundles, as federation gives a node, the SVID verifies.
	both := x509bundle.NewSet(caID.Bundle(), caKH.Bundle())
	if _, _, err := x509svid.Verify(khNode.Certificates, both); err != nil {
		t.Fatalf("Verify against both bundles: %v", err)
	}
	// The other trust domain's bundle alone has nothing for it.
	if _, _, err := x509svid.Verify(khNode.Certificates, caID.Bundle()); err == nil {
		t.Error("KH SVID verified against the ID bundle")
	}
	// The ID CA passed off as KH's still does not sign it.
	forged := x509bundle.FromX509Authorities(tdKH, caID.Bundle().X509Authorities())
	_, _, err := x509svid.Verify(khNode.Certificates, forged)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("Verify against ID's CA labelled %s: err = %v, want x509.UnknownAuthorityError", tdKH, err)
	}
}

func TestExpiredSVIDDoesNotVerify(t *testing.T) {
	now := time.Now()
	// A CA that is still valid, and an SVID from it that ended yesterday, so
	// that expiry is the only thing wrong.
	ca := newCA(t, tdID, now.Add(-48*time.Hour))
	svid := issue(t, ca, devpki.NodeID(tdID), now.Add(-47*time.Hour), now.Add(-24*time.Hour))

	if _, _, err := x509svid.Verify(svid.Certificates, ca.Bundle(), x509svid.WithTime(now.Add(-36*time.Hour))); err != nil {
		t.Fatalf("Verify inside the validity window: %v", err)
	}
	_, _, err := x509svid.Verify(svid.Certificates, ca.Bundle())
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("Verify now: err = %v, want x509.CertificateInvalidError{Reason: Expired}", err)
	}
}

// TestMTLS runs a real TLS handshake between the two nodes with go-spiffe's
// tlsconfig, as the peer API does.
func TestMTLS(t *testing.T) {
	now := time.Now()
	caID, caKH := newCA(t, tdID, now), newCA(t, tdKH, now)
	bundles := x509bundle.NewSet(caID.Bundle(), caKH.Bundle())
	idNode := issue(t, caID, devpki.NodeID(tdID), now.Add(-time.Minute), now.Add(time.Hour))
	khNode := issue(t, caKH, devpki.NodeID(tdKH), now.Add(-time.Minute), now.Add(time.Hour))
	khOfficer := issue(t, caKH, devpki.OfficerID(tdKH), now.Add(-time.Minute), now.Add(time.Hour))

	// The ID node admits exactly the KH node.
	server := tlsconfig.MTLSServerConfig(idNode, bundles, tlsconfig.AuthorizeID(devpki.NodeID(tdKH)))

	t.Run("counterpart node", func(t *testing.T) {
		client := tlsconfig.MTLSClientConfig(khNode, bundles, tlsconfig.AuthorizeID(devpki.NodeID(tdID)))
		if serr, cerr := handshake(t, server, client); serr != nil || cerr != nil {
			t.Fatalf("handshake: server err %v, client err %v", serr, cerr)
		}
	})
	t.Run("counterpart officer", func(t *testing.T) {
		client := tlsconfig.MTLSClientConfig(khOfficer, bundles, tlsconfig.AuthorizeID(devpki.NodeID(tdID)))
		serr, cerr := handshake(t, server, client)
		if serr == nil || cerr == nil {
			t.Fatalf("handshake: server err %v, client err %v; want both to fail", serr, cerr)
		}
		// Refused for who it is, not for a broken certificate.
		if want := `unexpected ID "` + devpki.OfficerID(tdKH).String() + `"`; !strings.Contains(serr.Error(), want) {
			t.Errorf("server err = %v, want it to contain %s", serr, want)
		}
	})
}

// handshake runs one TLS handshake over loopback TCP and returns each side's
// error. The client's error includes the server's verdict on the client's
// certificate, which under TLS 1.3 arrives after the client has finished.
func handshake(t *testing.T, serverConf, clientConf *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		s := tls.Server(conn, serverConf)
		err = s.HandshakeContext(ctx)
		s.Close()
		done <- err
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := tls.Client(conn, clientConf)
	defer c.Close()
	if clientErr = c.HandshakeContext(ctx); clientErr == nil {
		// The server closes after its handshake: EOF means it was content.
		if _, clientErr = c.Read(make([]byte, 1)); errors.Is(clientErr, io.EOF) {
			clientErr = nil
		}
	}
	return <-done, clientErr
}
