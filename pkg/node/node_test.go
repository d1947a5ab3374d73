package node_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

type fixture struct {
	dir    string
	layout *devpki.Layout
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// Unix socket paths are short; t.TempDir's can be too long for them.
	dir, err := os.MkdirTemp("", "fpnode")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	layout, err := devpki.Write(filepath.Join(dir, "certs"), devpki.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, layout: layout}
}

// start runs the Indonesian node with f changed by edit, until the test ends.
func (f *fixture) start(t *testing.T, edit func(*config.File)) (*config.Config, *node.Node) {
	t.Helper()
	file := demo.DevConfig(f.dir, f.layout.Nodes[0], f.layout.Nodes[1], "127.0.0.1:0", "127.0.0.1:1")
	if edit != nil {
		edit(file)
	}
	path := filepath.Join(f.dir, "id.yaml")
	if err := config.Write(path, file); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.New(ctx, cfg, node.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node stopped with %v", err)
		}
	})
	return cfg, n
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

// callAs calls the local TCP API with the given SVID files.
func callAs(t *testing.T, addr string, n devpki.NodeLayout, cert, key string) error {
	t.Helper()
	svid, err := x509svid.Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	bundles := x509bundle.NewSet()
	for _, l := range []devpki.NodeLayout{n} {
		b, err := x509bundle.Load(l.TrustDomain, l.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		bundles.Add(b)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(
		identity.ClientCredentials(identity.Static{SVID: svid, Bundles: bundles}, n.NodeID)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = focalv1.NewFocalServiceClient(conn).GetOutbox(ctx, &focalv1.GetOutboxRequest{})
	return err
}

func TestLocalTCPAdmitsOnlyConfiguredIDs(t *testing.T) {
	f := newFixture(t)
	id := f.layout.Nodes[0]
	addr := freeAddr(t)
	_, _ = f.start(t, func(c *config.File) {
		c.Local.Listen = addr
		c.Local.AllowedIDs = []string{id.OfficerID.String()}
	})
	if err := callAs(t, addr, id, id.OfficerCert, id.OfficerKey); err != nil {
		t.Fatalf("configured officer refused: %v", err)
	}
	if err := callAs(t, addr, id, id.AuditorCert, id.AuditorKey); status.Code(err) != codes.Unavailable {
		t.Fatalf("auditor not in allowed_ids: err = %v, want the handshake refused", err)
	}
	kh := f.layout.Nodes[1]
	if err := callAs(t, addr, id, kh.OfficerCert, kh.OfficerKey); err == nil {
		t.Fatal("an officer of the other trust domain was admitted")
	}
}

func TestUnixSocket(t *testing.T) {
	f := newFixture(t)
	// A socket file left by a node that died is replaced.
	sock := filepath.Join(f.dir, "state", "imigrasi.go.id", "focal.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	cfg, _ := f.start(t, nil)
	fi, err := os.Stat(cfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	conn, err := node.DialLocal(cfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := focalv1.NewFocalServiceClient(conn).GetOutbox(ctx, &focalv1.GetOutboxRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestNewRefusesMismatchedIdentity(t *testing.T) {
	f := newFixture(t)
	id, kh := f.layout.Nodes[0], f.layout.Nodes[1]
	tests := map[string]struct {
		edit func(*config.File)
		want string
	}{
		"SVID of another node": {func(c *config.File) {
			c.Identity.SVIDCert, c.Identity.SVIDKey = id.OfficerCert, id.OfficerKey
		}, "node.spiffe_id"},
		"own key as the counterpart's": {func(c *config.File) {
			c.Counterpart.MessagesKey = id.MessagesVerifierKey
		}, "own key"},
		"counterpart bundle missing": {func(c *config.File) {
			c.Counterpart.Bundle = filepath.Join(f.dir, "nope.pem")
		}, "bundle"},
		"private key file for the counterpart key": {func(c *config.File) {
			c.Counterpart.MessagesKey = kh.MessagesKey
		}, "not a valid"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			file := demo.DevConfig(f.dir, id, kh, "127.0.0.1:0", "127.0.0.1:1")
			tt.edit(file)
			path := filepath.Join(f.dir, "bad.yaml")
			if err := config.Write(path, file); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			n, err := node.New(context.Background(), cfg, node.Options{})
			if err == nil {
				t.Fatal("node started")
				_ = n
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
