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
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
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

// clientAs connects to the local TCP API with the given SVID files.
func clientAs(t *testing.T, addr string, n devpki.NodeLayout, cert, key string) focalv1.FocalServiceClient {
	t.Helper()
	svid, err := x509svid.Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509bundle.Load(n.TrustDomain, n.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(
		identity.ClientCredentials(identity.Static{SVID: svid, Bundles: x509bundle.NewSet(b)}, n.NodeID)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return focalv1.NewFocalServiceClient(conn)
}

// Roles over the local API: what each may do, and nothing for a caller
// without a role or from another trust domain.
func TestLocalTCPRoles(t *testing.T) {
	f := newFixture(t)
	id := f.layout.Nodes[0]
	addr := freeAddr(t)
	_, n := f.start(t, func(c *config.File) {
		c.Local.Listen = addr
		c.Local.Roles = map[string][]string{
			"officer": {id.OfficerID.String()},
			"auditor": {id.AuditorID.String()},
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	test := &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: "roles"}}},
	}}
	officer := clientAs(t, addr, id, id.OfficerCert, id.OfficerKey)
	if _, err := officer.SubmitMessage(ctx, test); err != nil {
		t.Fatalf("officer may send: %v", err)
	}
	if _, err := officer.GetOutbox(ctx, &focalv1.GetOutboxRequest{}); err != nil {
		t.Fatalf("officer may read: %v", err)
	}
	withdrawal := &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		InReplyTo: "01900000-0000-7000-8000-000000000001",
		Handling:  &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_AlertWithdrawal{AlertWithdrawal: &messagev1.AlertWithdrawal{
			ReasonCode: messagev1.WithdrawalReason_WITHDRAWAL_REASON_ERROR, Reason: "wrong person",
		}}},
	}}
	if _, err := officer.SubmitMessage(ctx, withdrawal); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("officer withdraw: %v, want PermissionDenied", err)
	}
	stream, err := officer.ExportEntries(ctx, &focalv1.ExportEntriesRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("officer export: %v, want PermissionDenied", err)
	}
	auditor := clientAs(t, addr, id, id.AuditorCert, id.AuditorKey)
	size := n.Ledger().Size()
	if _, err := auditor.SubmitMessage(ctx, test); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("auditor send: %v, want PermissionDenied", err)
	}
	if n.Ledger().Size() != size {
		t.Fatal("a refused call wrote to the ledger")
	}
	if _, err := auditor.GetCheckpoint(ctx, &focalv1.GetCheckpointRequest{}); err != nil {
		t.Fatalf("auditor may read: %v", err)
	}
	// The node's own SVID is of this trust domain but has no role.
	stranger := clientAs(t, addr, id, id.NodeCert, id.NodeKey)
	if _, err := stranger.GetOutbox(ctx, &focalv1.GetOutboxRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("caller without a role: %v, want PermissionDenied", err)
	}
	kh := f.layout.Nodes[1]
	if _, err := clientAs(t, addr, id, kh.OfficerCert, kh.OfficerKey).GetOutbox(ctx, &focalv1.GetOutboxRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("officer of the other trust domain: %v, want the handshake refused", err)
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

// The config's limit on delivery.batch is what the peer API takes in one call.
func TestConfigBatchLimitIsThePeerAPIs(t *testing.T) {
	if config.MaxDeliveryBatch != exchange.MaxDeliverBatch {
		t.Fatalf("config allows delivery.batch up to %d, the peer API takes %d", config.MaxDeliveryBatch, exchange.MaxDeliverBatch)
	}
}
