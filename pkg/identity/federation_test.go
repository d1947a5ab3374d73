package identity_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	stdlog "log"
	"net/http"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
)

// bundleEndpoint serves bundle as a SPIFFE bundle endpoint (https_spiffe,
// presenting svid) the way a SPIRE server does.
func bundleEndpoint(t *testing.T, bundle *spiffebundle.Bundle, svid *x509svid.SVID) string {
	t.Helper()
	h, err := federation.NewHandler(bundle.TrustDomain(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", tlsconfig.TLSServerConfig(svid))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: stdlog.New(io.Discard, "", 0)}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return "https://" + lis.Addr().String()
}

// The counterpart's CA rotates: its bundle endpoint serves old and new CA,
// and the node takes the new bundle in, having authenticated the endpoint
// with the bundle it bootstrapped from.
func TestBundleEndpoint(t *testing.T) {
	oldCA, newCA_ := newCA(t, tdKH), newCA(t, tdKH)
	serverID := spiffeid.RequireFromPath(tdKH, "/spire/server")
	served := spiffebundle.FromX509Authorities(tdKH, []*x509.Certificate{oldCA.Bundle().X509Authorities()[0], newCA_.Bundle().X509Authorities()[0]})
	served.SetRefreshHint(time.Hour)
	url := bundleEndpoint(t, served, issue(t, oldCA, serverID))

	log, logs := newLog()
	ep, err := identity.NewBundleEndpoint(tdKH, identity.EndpointOptions{
		URL: url, EndpointID: serverID, Bootstrap: oldCA.Bundle(), Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ep.GetX509BundleForTrustDomain(tdKH); err != nil || len(b.X509Authorities()) != 1 {
		t.Fatalf("before the first fetch: %v, %v; want the bootstrap bundle", b, err)
	}
	fetched := ep.Fetched()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ep.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-fetched:
	case <-time.After(10 * time.Second):
		t.Fatalf("no fetch; logs:\n%s", logs.String())
	}
	if b, _ := ep.GetX509BundleForTrustDomain(tdKH); len(b.X509Authorities()) != 2 {
		t.Fatalf("after the fetch: %d authorities, want 2", len(b.X509Authorities()))
	}
	if _, err := ep.GetX509BundleForTrustDomain(tdID); !errors.Is(err, identity.ErrUntrusted) {
		t.Fatalf("other trust domain: err = %v", err)
	}
}

// An endpoint that presents another SPIFFE ID is not believed: the bootstrap
// bundle stays, and the failure is logged.
func TestBundleEndpointRefusesImpostor(t *testing.T) {
	ca := newCA(t, tdKH)
	impostor := spiffebundle.FromX509Authorities(tdKH, newCA(t, tdKH).Bundle().X509Authorities())
	url := bundleEndpoint(t, impostor, issue(t, ca, spiffeid.RequireFromPath(tdKH, "/not/the/server")))
	log, logs := newLog()
	ep, err := identity.NewBundleEndpoint(tdKH, identity.EndpointOptions{
		URL: url, EndpointID: spiffeid.RequireFromPath(tdKH, "/spire/server"), Bootstrap: ca.Bundle(), Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ep.Run(ctx) }()
	eventually(t, "the refused fetch logged", func() bool { return logs.count("fetching the bundle from the bundle endpoint failed") > 0 })
	cancel()
	<-done
	b, err := ep.GetX509BundleForTrustDomain(tdKH)
	if err != nil || !b.Equal(ca.Bundle()) {
		t.Fatalf("bundle %v, %v; want the bootstrap bundle kept", b, err)
	}
	if _, err := identity.NewBundleEndpoint(tdKH, identity.EndpointOptions{URL: url, EndpointID: spiffeid.RequireFromPath(tdKH, "/spire/server")}); err == nil {
		t.Fatal("https_spiffe without a bootstrap bundle accepted")
	}
	var _ x509bundle.Source = ep
}
