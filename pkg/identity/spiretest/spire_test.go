package spiretest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity/identitytest"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity/spiretest"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

var (
	tdID = spiffeid.RequireTrustDomainFromString("imigrasi.go.id")
	tdKH = spiffeid.RequireTrustDomainFromString("immigration.gov.kh")
	// tdThird is another trust domain Indonesia's SPIRE federates with, as an
	// agency's SPIRE may: its bundle reaches the node, which must ignore it.
	tdThird = spiffeid.RequireTrustDomainFromString("example.org")
)

// svidTTL is the registration entries' SVID lifetime: a minute, so that the
// agents rotate (at about half of it) while the test runs.
const svidTTL = time.Minute

// syncLog is a log destination several goroutines write to.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// runner is one in-process node that the test can stop and start again.
type runner struct {
	t    *testing.T
	cfg  *config.Config
	reg  *prometheus.Registry
	log  *syncLog
	lis  net.Listener
	stop func()
}

func (r *runner) start() {
	r.t.Helper()
	if r.lis == nil {
		var err error
		if r.lis, err = net.Listen("tcp", r.cfg.PeerListen); err != nil {
			r.t.Fatal(err)
		}
	}
	r.reg = prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", r.cfg.Agency)
	n, err := node.New(ctx, r.cfg, node.Options{Logger: logger, Registry: r.reg, PeerListener: r.lis})
	if err != nil {
		cancel()
		r.t.Fatalf("%s: %v", r.cfg.Agency, err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				r.t.Errorf("%s stopped with %v", r.cfg.Agency, err)
			}
			r.lis = nil // Run closed it
		})
	}
	r.t.Cleanup(r.stop)
}

// expiry is the node's own view of its SVID's NotAfter, from its metrics.
func (r *runner) expiry() time.Time {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "focalpoint_identity_svid_expiry_timestamp_seconds" {
			return time.Unix(int64(mf.GetMetric()[0].GetGauge().GetValue()), 0)
		}
	}
	r.t.Fatal("no focalpoint_identity_svid_expiry_timestamp_seconds")
	return time.Time{}
}

// exchange sends n test messages from r, waits for each receipt, and logs it.
func (r *runner) exchange(n int, tag string) {
	r.t.Helper()
	r.send(n, tag)
	r.t.Logf("%s: %d messages %q sent, every one receipted", r.cfg.Agency, n, tag)
}

// send sends n test messages from r and waits for each receipt.
func (r *runner) send(n int, tag string) {
	r.t.Helper()
	conn, err := node.DialLocal(r.cfg.LocalSocket)
	if err != nil {
		r.t.Fatal(err)
	}
	defer conn.Close()
	c := focalv1.NewFocalServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		sub, err := c.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
			Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: fmt.Sprintf("%s %d", tag, i)}}},
		}})
		if err != nil {
			r.t.Fatalf("%s: submit %s %d: %v", r.cfg.Agency, tag, i, err)
		}
		if _, err := c.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: sub.GetMessageId()}); err != nil {
			r.t.Fatalf("%s: receipt of %s %d: %v", r.cfg.Agency, tag, i, err)
		}
	}
}

// presented handshakes with a node's peer API as its counterpart and returns
// the leaf the node presented: the SVID its identity source holds now.
func presented(t *testing.T, addr string, as identity.Source, want spiffeid.ID) *x509svid.SVID {
	t.Helper()
	c, err := tls.Dial("tcp", addr, tlsconfig.MTLSClientConfig(as, as, tlsconfig.AuthorizeID(want)))
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	leaf := c.ConnectionState().PeerCertificates[0]
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: id, Certificates: c.ConnectionState().PeerCertificates}
}

func serialOf(s *x509svid.SVID) string { return s.Certificates[0].SerialNumber.Text(16) }

// Two focal-point nodes get their transport identities from the SPIRE agents
// of their own trust domains, federated through bundle endpoints; messages
// are receipted before and after the agents rotate the one-minute SVIDs, and
// again after the first SVIDs have expired and every connection is new.
//
// Indonesia trusts the counterpart's bundle the Workload API federates;
// Cambodia fetches Indonesia's bundle from Indonesia's SPIRE bundle endpoint
// itself (counterpart.bundle_endpoint_url, https_spiffe). The signing keys
// come from devpki: only the X.509 transport identity is SPIRE's.
func TestNodesOverSPIRE(t *testing.T) {
	fed := spiretest.StartFederation(t, tdID, tdKH)
	start := time.Now()
	uid := fmt.Sprintf("unix:uid:%d", os.Getuid())
	// Both nodes run as this test's user: the agents tell them apart by
	// socket, the servers by the agent each entry is parented to.
	third, err := devpki.NewCA(tdThird, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	thirdPEM, err := third.Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	fed.A.SetBundle(tdThird, thirdPEM)
	fed.A.Register(devpki.NodeID(tdID), svidTTL, uid, tdKH, tdThird)
	fed.B.Register(devpki.NodeID(tdKH), svidTTL, uid, tdID)

	dir, err := os.MkdirTemp("", "fpspire-nodes-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	layout, err := devpki.Write(filepath.Join(dir, "certs"), devpki.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, kh := layout.Nodes[0], layout.Nodes[1]
	idAddr, khAddr := freeAddr(t), freeAddr(t)
	idFile := demo.DevConfig(dir, id, kh, idAddr, khAddr)
	idFile.Identity = config.IdentityFile{WorkloadAPISocket: fed.A.WorkloadAPIAddr()}
	idFile.Counterpart.Bundle = ""
	khFile := demo.DevConfig(dir, kh, id, khAddr, idAddr)
	khFile.Identity = config.IdentityFile{WorkloadAPISocket: fed.B.WorkloadAPIAddr()}
	khFile.Counterpart.Bundle = ""
	khFile.Counterpart.BundleEndpointURL = fed.A.BundleEndpointURL
	khFile.Counterpart.BundleEndpointSpiffeID = fed.A.ServerID().String()
	logs := &syncLog{}
	nodes := map[spiffeid.TrustDomain]*runner{}
	for td, file := range map[spiffeid.TrustDomain]*config.File{tdID: idFile, tdKH: khFile} {
		path := filepath.Join(dir, td.Name()+".yaml")
		if err := config.Write(path, file); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		nodes[td] = &runner{t: t, cfg: cfg, log: logs}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node logs:\n%s", strings.Join(logs.lines(""), "\n"))
		}
	})
	nodes[tdID].start()
	nodes[tdKH].start()
	t.Logf("SPIRE up, entries registered and both nodes started in %s", time.Since(start).Round(time.Millisecond))

	// The test plays each node's counterpart with an SVID from the other
	// agent (same user, so the agent gives it the other node's SVID).
	clientOf := map[spiffeid.TrustDomain]identity.Source{}
	for td, d := range map[spiffeid.TrustDomain]*spiretest.Domain{tdID: fed.A, tdKH: fed.B} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ws, err := identity.NewWorkloadSource(ctx, identity.WorkloadOptions{Addr: d.WorkloadAPIAddr(), ID: devpki.NodeID(td)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		clientOf[td] = ws
		// What a node's source must be, checked on the real thing: the
		// federated counterpart bundle is there, nothing else is.
		other := map[spiffeid.TrustDomain]spiffeid.TrustDomain{tdID: tdKH, tdKH: tdID}[td]
		identitytest.CheckSource(t, identity.Combined{SVIDs: ws, Trust: identity.Trust{td: ws, other: ws}}, identitytest.Want{
			ID: devpki.NodeID(td), Trusted: []spiffeid.TrustDomain{td, other}, Untrusted: []spiffeid.TrustDomain{tdThird},
		})
		if _, err := ws.GetX509BundleForTrustDomain(tdThird); (err == nil) != (td == tdID) {
			t.Fatalf("%s: the Workload API's bundle of %s: %v (Indonesia's agent should send it, Cambodia's not)", td.Name(), tdThird, err)
		}
	}
	// The node whose SVID we look at is addressed as its counterpart would.
	look := func(td spiffeid.TrustDomain) *x509svid.SVID {
		other := map[spiffeid.TrustDomain]spiffeid.TrustDomain{tdID: tdKH, tdKH: tdID}[td]
		return presented(t, nodes[td].cfg.PeerListen, clientOf[other], devpki.NodeID(td))
	}

	first := map[spiffeid.TrustDomain]*x509svid.SVID{tdID: look(tdID), tdKH: look(tdKH)}
	for td, s := range first {
		t.Logf("%s presents serial %s, NotAfter %s (metrics say %s)", td.Name(), serialOf(s),
			s.Certificates[0].NotAfter.Format(time.TimeOnly), nodes[td].expiry().Format(time.TimeOnly))
		if ttl := s.Certificates[0].NotAfter.Sub(s.Certificates[0].NotBefore); ttl > 2*svidTTL {
			t.Fatalf("%s: SVID lives %s, want the entry's %s", td.Name(), ttl, svidTTL)
		}
	}
	nodes[tdID].exchange(5, "before rotation")
	nodes[tdKH].exchange(5, "before rotation")

	// Wait for both agents to rotate; exchange messages meanwhile.
	meanwhile := 0
	for _, td := range []spiffeid.TrustDomain{tdID, tdKH} {
		deadline := time.Now().Add(2 * svidTTL)
		for serialOf(look(td)) == serialOf(first[td]) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: SVID not rotated within %s", td.Name(), 2*svidTTL)
			}
			nodes[tdID].send(1, "while waiting for rotation")
			nodes[tdKH].send(1, "while waiting for rotation")
			meanwhile += 2
			time.Sleep(2 * time.Second)
		}
		now := look(td)
		t.Logf("%s rotated after %s: serial %s -> %s, NotAfter %s -> %s (metrics say %s)", td.Name(),
			time.Since(first[td].Certificates[0].NotBefore).Round(time.Second), serialOf(first[td]), serialOf(now),
			first[td].Certificates[0].NotAfter.Format(time.TimeOnly), now.Certificates[0].NotAfter.Format(time.TimeOnly),
			nodes[td].expiry().Format(time.TimeOnly))
		if !now.Certificates[0].NotAfter.After(first[td].Certificates[0].NotAfter) {
			t.Fatalf("%s: the new SVID does not outlive the old one", td.Name())
		}
		if !nodes[td].expiry().After(first[td].Certificates[0].NotAfter) {
			t.Fatalf("%s: the node's SVID expiry metric still shows the old SVID", td.Name())
		}
	}
	t.Logf("%d messages sent while waiting for the rotations, every one receipted", meanwhile)
	nodes[tdID].exchange(5, "after rotation")
	nodes[tdKH].exchange(5, "after rotation")
	if got := logs.lines("SVID rotated by the Workload API"); len(got) < 2 {
		t.Fatalf("the nodes logged %d rotations, want one each at least", len(got))
	}

	// Once the first SVIDs have expired, restart Cambodia: every connection
	// both ways is new, and must be made with the current SVIDs and bundles.
	if wait := time.Until(first[tdID].Certificates[0].NotAfter.Add(time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	nodes[tdKH].stop()
	nodes[tdKH].start()
	nodes[tdID].exchange(5, "after the first SVIDs expired")
	nodes[tdKH].exchange(5, "after the first SVIDs expired")
	if got := logs.lines("bundle updated from the bundle endpoint"); len(got) == 0 {
		t.Fatal("Cambodia never fetched Indonesia's bundle from its bundle endpoint")
	}
	t.Logf("done in %s", time.Since(start).Round(time.Second))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
