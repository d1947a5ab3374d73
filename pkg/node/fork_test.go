package node_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// running is one node of a test, started and stopped on its own.
type running struct {
	n      *node.Node
	cfg    *config.Config
	reg    *prometheus.Registry
	client focalv1.FocalServiceClient
	stop   func()
}

func runNode(t *testing.T, path string, file *config.File, lis net.Listener) *running {
	t.Helper()
	if err := config.Write(path, file); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.New(ctx, cfg, node.Options{PeerListener: lis, Registry: reg})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	conn, err := node.DialLocal(cfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{n: n, cfg: cfg, reg: reg, client: focalv1.NewFocalServiceClient(conn)}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node stopped with %v", err)
		}
	}
	t.Cleanup(r.stop)
	return r
}

func waitCosigned(t *testing.T, r *running) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		need, err := r.n.Ledger().NeedsCosign()
		if err != nil {
			t.Fatal(err)
		}
		if !need {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's ledger not cosigned in time", r.cfg.Agency)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node whose ledger is rolled back to an older copy and then appended to is
// caught by its counterpart at the next exchange, and by audit reconcile.
func TestRollbackIsCaughtAsAFork(t *testing.T) {
	f := newFixture(t)
	id, kh := f.layout.Nodes[0], f.layout.Nodes[1]
	listen := func(addr string) net.Listener {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	idLis, khLis := listen("127.0.0.1:0"), listen("127.0.0.1:0")
	idAddr := idLis.Addr().String()
	idFile := demo.DevConfig(f.dir, id, kh, idAddr, khLis.Addr().String())
	khFile := demo.DevConfig(f.dir, kh, id, khLis.Addr().String(), idAddr)
	for _, c := range []*config.File{idFile, khFile} {
		c.Delivery.InitialBackoff = config.Duration(20 * time.Millisecond)
		c.Delivery.MaxBackoff = config.Duration(200 * time.Millisecond)
	}
	khNode := runNode(t, filepath.Join(f.dir, "kh.yaml"), khFile, khLis)
	idNode := runNode(t, filepath.Join(f.dir, "id.yaml"), idFile, idLis)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exchange := func(r *running, tag string) {
		t.Helper()
		for _, mid := range submitTests(t, r.client, 3, tag) {
			if _, err := r.client.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: mid}); err != nil {
				t.Fatal(err)
			}
		}
		waitCosigned(t, r)
	}
	exchange(idNode, "early")
	old := filepath.Join(f.dir, "id-old.db")
	out, err := os.Create(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idNode.n.Ledger().Backup(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
	exchange(idNode, "later")

	// Indonesia's ledger is rolled back to the older copy and the node restarted.
	idNode.stop()
	if err := os.Rename(old, idNode.cfg.LedgerPath); err != nil {
		t.Fatal(err)
	}
	forks := func() float64 { return counterValue(t, khNode.reg, "focalpoint_tlog_forks_detected_total") }
	if forks() != 0 {
		t.Fatal("a fork counted before any rollback")
	}
	idNode = runNode(t, filepath.Join(f.dir, "id.yaml"), idFile, listen(idAddr))
	for _, mid := range submitTests(t, idNode.client, 3, "after rollback") {
		if _, err := idNode.client.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: mid}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for forks() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Cambodia did not detect Indonesia's rolled-back ledger")
		}
		time.Sleep(50 * time.Millisecond)
	}
	evidence, err := khNode.n.Ledger().Forks()
	if err != nil || len(evidence) == 0 {
		t.Fatalf("no fork evidence kept: %v", err)
	}
	if need, _ := idNode.n.Ledger().NeedsCosign(); !need {
		t.Fatal("the rolled-back ledger got a cosignature")
	}
	idNode.stop()
	khNode.stop()

	a, err := ledger.Open(idNode.cfg.LedgerPath, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ledger.Open(khNode.cfg.LedgerPath, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	found, err := audit.Reconcile(context.Background(), a, b, nil)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	var fork bool
	for _, d := range found {
		fork = fork || d.Kind == "fork"
	}
	if !fork {
		t.Fatalf("reconcile did not report the fork: %v", found)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
