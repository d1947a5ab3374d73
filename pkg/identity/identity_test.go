package identity_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity/identitytest"
)

var (
	tdID    = spiffeid.RequireTrustDomainFromString("imigrasi.go.id")
	tdKH    = spiffeid.RequireTrustDomainFromString("immigration.gov.kh")
	tdOther = spiffeid.RequireTrustDomainFromString("example.org")
	nodeID  = devpki.NodeID(tdID)
	khNode  = devpki.NodeID(tdKH)
)

func newCA(t *testing.T, td spiffeid.TrustDomain) *devpki.CA {
	t.Helper()
	ca, err := devpki.NewCA(td, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t *testing.T, ca *devpki.CA, id spiffeid.ID) *x509svid.SVID {
	t.Helper()
	svid, err := ca.IssueSVID(id, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

// logBuffer collects a logger's output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// eventually polls cond until it holds or ten seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tlsServer serves TLS with src's SVID and reports, per handshake, the serial
// number of the leaf a client saw.
func tlsServer(t *testing.T, src x509svid.Source) (serialSeen func(bundle x509bundle.Source) string) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", tlsconfig.TLSServerConfig(src))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return func(bundle x509bundle.Source) string {
		t.Helper()
		c, err := tls.Dial("tcp", lis.Addr().String(), tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(nodeID)))
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	}
}

func serialOf(s *x509svid.SVID) string { return s.Certificates[0].SerialNumber.Text(16) }

// writeSVID writes svid's PEM files in place (truncate and write, as most
// tools do), cert first.
func writeSVID(t *testing.T, svid *x509svid.SVID, cert, key string) {
	t.Helper()
	c, k, err := svid.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, c, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, k, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeBundle(t *testing.T, b *x509bundle.Bundle, path string) {
	t.Helper()
	pem, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A rotated SVID written to the same paths is used for new handshakes
// without a restart; a broken or wrong file leaves the last good one in use.
func TestFileSourceWatchRotates(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key")
	bundleID, bundleKH := filepath.Join(dir, "id.pem"), filepath.Join(dir, "kh.pem")
	caID, caKH := newCA(t, tdID), newCA(t, tdKH)
	writeBundle(t, caID.Bundle(), bundleID)
	writeBundle(t, caKH.Bundle(), bundleKH)
	a := issue(t, caID, nodeID)
	writeSVID(t, a, cert, key)

	src, err := identity.LoadFiles(identity.Files{
		Cert: cert, Key: key, ID: nodeID,
		Bundles: map[spiffeid.TrustDomain]string{tdID: bundleID, tdKH: bundleKH},
	})
	if err != nil {
		t.Fatal(err)
	}
	identitytest.CheckSource(t, src, identitytest.Want{ID: nodeID, Trusted: []spiffeid.TrustDomain{tdID, tdKH}, Untrusted: []spiffeid.TrustDomain{tdOther}})
	log, logs := newLog()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Watch(ctx, 10*time.Millisecond, log) }()
	t.Cleanup(func() { cancel(); <-done })

	seen := tlsServer(t, src)
	trust := caID.Bundle()
	if got := seen(trust); got != serialOf(a) {
		t.Fatalf("first handshake saw serial %s, want A's %s", got, serialOf(a))
	}

	b := issue(t, caID, nodeID)
	writeSVID(t, b, cert, key)
	eventually(t, "SVID B in a new handshake", func() bool { return seen(trust) == serialOf(b) })

	// Broken files, one after the other: each is logged and B stays.
	failures := logs.count("reloading the SVID and bundle files failed")
	for name, breakIt := range map[string]func(){
		"corrupt certificate": func() {
			if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"SVID of another ID": func() { writeSVID(t, issue(t, caID, devpki.OfficerID(tdID)), cert, key) },
		"SVID of another CA": func() { writeSVID(t, issue(t, newCA(t, tdID), nodeID), cert, key) },
		"corrupt bundle": func() {
			if err := os.WriteFile(bundleKH, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	} {
		breakIt()
		failures++
		eventually(t, name+" logged", func() bool { return logs.count("reloading the SVID and bundle files failed") >= failures })
		if got := seen(trust); got != serialOf(b) {
			t.Fatalf("%s: handshake saw serial %s, want B's %s kept", name, got, serialOf(b))
		}
		if _, err := src.GetX509BundleForTrustDomain(tdKH); err != nil {
			t.Fatalf("%s: counterpart bundle lost: %v", name, err)
		}
		// Repair what this case broke, so the next case starts from good files.
		writeBundle(t, caKH.Bundle(), bundleKH)
		writeSVID(t, b, cert, key)
		eventually(t, "repaired files reloaded", func() bool {
			return logs.count("reloaded the SVID and bundle files") > 0 && seen(trust) == serialOf(b)
		})
	}
	// Nothing changes, nothing is reloaded: the watcher does not spin on a
	// file it has already read.
	time.Sleep(50 * time.Millisecond) // let the last repair's writes settle
	n := logs.count("reloaded the SVID and bundle files")
	time.Sleep(100 * time.Millisecond)
	if m := logs.count("reloaded the SVID and bundle files"); m != n {
		t.Fatalf("unchanged files reloaded %d times", m-n)
	}

	// A rename into place (the atomic way) is seen too.
	c := issue(t, caID, nodeID)
	writeSVID(t, c, cert+".new", key+".new")
	if err := os.Rename(key+".new", key); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cert+".new", cert); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SVID C in a new handshake", func() bool { return seen(trust) == serialOf(c) })
}

func TestLoadFilesRefuses(t *testing.T) {
	dir := t.TempDir()
	cert, key, bundle := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key"), filepath.Join(dir, "id.pem")
	caID := newCA(t, tdID)
	writeBundle(t, caID.Bundle(), bundle)
	writeSVID(t, issue(t, caID, devpki.OfficerID(tdID)), cert, key)
	_, err := identity.LoadFiles(identity.Files{Cert: cert, Key: key, ID: nodeID, Bundles: map[spiffeid.TrustDomain]string{tdID: bundle}})
	if !errors.Is(err, identity.ErrWrongID) {
		t.Fatalf("officer SVID as the node's: err = %v, want ErrWrongID", err)
	}
	writeSVID(t, issue(t, newCA(t, tdID), nodeID), cert, key)
	if _, err := identity.LoadFiles(identity.Files{Cert: cert, Key: key, Bundles: map[spiffeid.TrustDomain]string{tdID: bundle}}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("SVID of a foreign CA: err = %v", err)
	}
}

func TestBundleFileWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kh.pem")
	first, second := newCA(t, tdKH), newCA(t, tdKH)
	writeBundle(t, first.Bundle(), path)
	b, err := identity.LoadBundleFile(tdKH, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetX509BundleForTrustDomain(tdID); !errors.Is(err, identity.ErrUntrusted) {
		t.Fatalf("other trust domain: err = %v", err)
	}
	log, logs := newLog()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Watch(ctx, 10*time.Millisecond, log)
	both := x509bundle.FromX509Authorities(tdKH, append(first.Bundle().X509Authorities(), second.Bundle().X509Authorities()...))
	writeBundle(t, both, path)
	eventually(t, "the bundle with two CAs", func() bool {
		got, _ := b.GetX509BundleForTrustDomain(tdKH)
		return len(got.X509Authorities()) == 2
	})
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the empty file's error", func() bool { return logs.count("reloading a bundle file failed") == 1 })
	if got, _ := b.GetX509BundleForTrustDomain(tdKH); len(got.X509Authorities()) != 2 {
		t.Fatal("an empty bundle file replaced the good bundle")
	}
}

// Trust refuses every trust domain it does not name, whatever its sources
// could serve.
func TestTrustRefusesOthers(t *testing.T) {
	all := x509bundle.NewSet(newCA(t, tdID).Bundle(), newCA(t, tdKH).Bundle(), newCA(t, tdOther).Bundle())
	trust := identity.Trust{tdID: all, tdKH: all}
	for _, td := range []spiffeid.TrustDomain{tdID, tdKH} {
		if _, err := trust.GetX509BundleForTrustDomain(td); err != nil {
			t.Errorf("%s: %v", td, err)
		}
	}
	if _, err := all.GetX509BundleForTrustDomain(tdOther); err != nil {
		t.Fatalf("the source itself should serve %s: %v", tdOther, err)
	}
	if _, err := trust.GetX509BundleForTrustDomain(tdOther); !errors.Is(err, identity.ErrUntrusted) {
		t.Fatalf("%s: err = %v, want ErrUntrusted", tdOther, err)
	}
}

// handshakeMTLS runs one mutual TLS handshake; server admits any SPIFFE ID
// whose chain its bundles accept, so only the bundles decide.
func handshakeMTLS(t *testing.T, server identity.Source, client *x509svid.SVID, clientTrust x509bundle.Source) error {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", tlsconfig.MTLSServerConfig(server, server, tlsconfig.AuthorizeAny()))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- c.(*tls.Conn).Handshake()
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(c, tlsconfig.MTLSClientConfig(client, clientTrust, tlsconfig.AuthorizeAny()))
	_ = tc.Handshake()
	// Read so that a TLS 1.3 client learns of a refused certificate.
	tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = tc.Read(make([]byte, 1))
	tc.Close()
	return <-errc
}

// The Workload API hands out every federated bundle; the node's source,
// wrapped in a Trust, accepts only its own trust domain and its
// counterpart's, and a peer from a third, federated trust domain fails the
// handshake.
func TestWorkloadSource(t *testing.T) {
	caID, caKH, caOther := newCA(t, tdID), newCA(t, tdKH), newCA(t, tdOther)
	api := identitytest.StartWorkloadAPI(t)
	officer, a := issue(t, caID, devpki.OfficerID(tdID)), issue(t, caID, nodeID)
	bundles := []*x509bundle.Bundle{caID.Bundle(), caKH.Bundle(), caOther.Bundle()}
	// The node's SVID is not the first: the source picks it by ID.
	api.Set(identitytest.Update{SVIDs: []*x509svid.SVID{officer, a}, Bundles: bundles})

	log, logs := newLog()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := identity.NewWorkloadSource(ctx, identity.WorkloadOptions{Addr: api.Addr, ID: nodeID, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	src := identity.Combined{SVIDs: ws, Trust: identity.Trust{tdID: ws, tdKH: ws}}
	identitytest.CheckSource(t, src, identitytest.Want{
		ID: nodeID, Trusted: []spiffeid.TrustDomain{tdID, tdKH}, Untrusted: []spiffeid.TrustDomain{tdOther},
	})
	if _, err := ws.GetX509BundleForTrustDomain(tdOther); err != nil {
		t.Fatalf("the raw Workload API source should have the federated %s bundle: %v", tdOther, err)
	}

	// Only the bundles decide here: a peer of the federated third trust
	// domain gets through the raw source but not the node's.
	stranger := issue(t, caOther, spiffeid.RequireFromPath(tdOther, "/focalpoint/node"))
	if err := handshakeMTLS(t, ws, stranger, caID.Bundle()); err != nil {
		t.Fatalf("raw source refused the federated peer (the test proves nothing): %v", err)
	}
	if err := handshakeMTLS(t, src, stranger, caID.Bundle()); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("node's source admitted a peer of %s: err = %v", tdOther, err)
	}
	if err := handshakeMTLS(t, src, issue(t, caKH, khNode), caID.Bundle()); err != nil {
		t.Fatalf("counterpart refused: %v", err)
	}

	// Rotation: the agent pushes B; the source serves it.
	b := issue(t, caID, nodeID)
	api.Set(identitytest.Update{SVIDs: []*x509svid.SVID{b}, Bundles: bundles})
	eventually(t, "SVID B", func() bool { s, _ := src.GetX509SVID(); return serialOf(s) == serialOf(b) })
	if logs.count("SVID rotated by the Workload API") != 1 {
		t.Fatalf("rotation not logged once:\n%s", logs.String())
	}
	// An update without the node's SVID keeps B.
	api.Set(identitytest.Update{SVIDs: []*x509svid.SVID{officer}, Bundles: bundles})
	eventually(t, "the missing SVID logged", func() bool { return logs.count("has no SVID for this node") == 1 })
	if s, _ := src.GetX509SVID(); serialOf(s) != serialOf(b) {
		t.Fatalf("SVID %s, want B kept", serialOf(s))
	}
}

func TestNewWorkloadSourceRefuses(t *testing.T) {
	caID := newCA(t, tdID)
	api := identitytest.StartWorkloadAPI(t)
	api.Set(identitytest.Update{SVIDs: []*x509svid.SVID{issue(t, caID, devpki.OfficerID(tdID))}, Bundles: []*x509bundle.Bundle{caID.Bundle()}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := identity.NewWorkloadSource(ctx, identity.WorkloadOptions{Addr: api.Addr, ID: nodeID})
	if !errors.Is(err, identity.ErrWrongID) || !strings.Contains(err.Error(), "focalpoint/officer") {
		t.Fatalf("no node SVID offered: err = %v, want ErrWrongID naming what is offered", err)
	}

	// No registration entry: SPIRE says PermissionDenied, the client keeps
	// retrying, and the caller's deadline ends the wait.
	api.Deny()
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := identity.NewWorkloadSource(ctx, identity.WorkloadOptions{Addr: api.Addr, ID: nodeID}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("denied: err = %v, want the deadline", err)
	}
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", "")
	if _, err := identity.NewWorkloadSource(context.Background(), identity.WorkloadOptions{ID: nodeID}); err == nil || !strings.Contains(err.Error(), "SPIFFE_ENDPOINT_SOCKET") {
		t.Fatalf("no address: err = %v", err)
	}
}
