package node_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// proxy stands between two nodes and plays the network: it passes traffic,
// blackholes it (connections accepted, bytes swallowed, nothing answered), or
// drops it (every connection cut at once, new ones refused by closing them).
type proxy struct {
	lis    net.Listener
	target string

	mu    sync.Mutex
	mode  string
	conns map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{lis: lis, target: target, mode: "pass", conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { lis.Close(); p.set("drop") })
	return p
}

func (p *proxy) addr() string { return p.lis.Addr().String() }

func (p *proxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	if mode == "drop" {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "drop" {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) serve() {
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			continue
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == "blackhole" {
			go io.Copy(io.Discard, in)
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil || !p.track(out) {
			in.Close()
			continue
		}
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies while the proxy passes traffic; in blackhole mode it swallows
// what arrives, mid-stream, without closing anything.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == "blackhole" {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

type pair struct {
	id, kh       *node.Node
	idCfg, khCfg *config.Config
	idClient     focalv1.FocalServiceClient
	stop         func()
}

// startPair runs both nodes; Indonesia reaches Cambodia only through p.
func startPair(t *testing.T, f *fixture, viaProxy func(khAddr string) string) *pair {
	t.Helper()
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	idLis, khLis := listen(), listen()
	quick := func(c *config.File) {
		c.Delivery.InitialBackoff = config.Duration(20 * time.Millisecond)
		c.Delivery.MaxBackoff = config.Duration(300 * time.Millisecond)
		c.Delivery.AttemptTimeout = config.Duration(500 * time.Millisecond)
	}
	id, kh := f.layout.Nodes[0], f.layout.Nodes[1]
	idFile := demo.DevConfig(f.dir, id, kh, idLis.Addr().String(), viaProxy(khLis.Addr().String()))
	khFile := demo.DevConfig(f.dir, kh, id, khLis.Addr().String(), idLis.Addr().String())
	quick(idFile)
	quick(khFile)
	ctx, cancel := context.WithCancel(context.Background())
	p := &pair{}
	var done []chan error
	for _, s := range []struct {
		file *config.File
		lis  net.Listener
		n    **node.Node
		cfg  **config.Config
	}{{idFile, idLis, &p.id, &p.idCfg}, {khFile, khLis, &p.kh, &p.khCfg}} {
		path := filepath.Join(f.dir, s.file.Node.Agency+".yaml")
		if err := config.Write(path, s.file); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := node.New(ctx, cfg, node.Options{PeerListener: s.lis})
		if err != nil {
			t.Fatal(err)
		}
		*s.n, *s.cfg = n, cfg
		ch := make(chan error, 1)
		go func() { ch <- n.Run(ctx) }()
		done = append(done, ch)
	}
	conn, err := node.DialLocal(p.idCfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	p.idClient = focalv1.NewFocalServiceClient(conn)
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			conn.Close()
			cancel()
			for _, ch := range done {
				if err := <-ch; err != nil {
					t.Errorf("node stopped with %v", err)
				}
			}
		})
	}
	t.Cleanup(p.stop)
	return p
}

func submitTests(t *testing.T, c focalv1.FocalServiceClient, n int, tag string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		r, err := c.SubmitMessage(context.Background(), &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
			Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: fmt.Sprintf("%s %d", tag, i)}}},
		}})
		if err != nil {
			t.Fatalf("submit %s %d: %v", tag, i, err)
		}
		ids = append(ids, r.GetMessageId())
	}
	return ids
}

// countKinds counts, per message, the entries of each kind.
func countKinds(t *testing.T, path string) map[string]map[ledgerv1.EntryKind]int {
	t.Helper()
	l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out := map[string]map[ledgerv1.EntryKind]int{}
	if err := l.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		if e.GetMessageId() != "" {
			if out[e.GetMessageId()] == nil {
				out[e.GetMessageId()] = map[ledgerv1.EntryKind]int{}
			}
			out[e.GetMessageId()][e.GetKind()]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The link goes down in every way a network fails; messages accepted
// meanwhile queue, then drain once it returns, none lost and none doubled.
func TestPartitionQueuesAndDrains(t *testing.T) {
	f := newFixture(t)
	var px *proxy
	p := startPair(t, f, func(khAddr string) string {
		px = newProxy(t, khAddr)
		return px.addr()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	await := func(ids []string) {
		t.Helper()
		for _, id := range ids {
			if _, err := p.idClient.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: id}); err != nil {
				t.Fatalf("receipt of %s: %v", id, err)
			}
		}
	}
	var all []string
	before := submitTests(t, p.idClient, 10, "before")
	await(before)
	all = append(all, before...)

	for _, mode := range []string{"blackhole", "drop"} {
		px.set(mode)
		ids := submitTests(t, p.idClient, 25, mode)
		all = append(all, ids...)
		time.Sleep(700 * time.Millisecond) // longer than an attempt's timeout
		ob, err := p.idClient.GetOutbox(ctx, &focalv1.GetOutboxRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if ob.GetPending() != uint64(len(ids)) {
			t.Fatalf("%s: %d pending, want %d", mode, ob.GetPending(), len(ids))
		}
		if ob.GetItems()[0].GetAttempts() == 0 || ob.GetItems()[0].GetLastError() == "" {
			t.Fatalf("%s: oldest pending shows no failed attempt: %v", mode, ob.GetItems()[0])
		}
		px.set("pass")
		await(ids)
	}
	p.stop()

	sent, received := countKinds(t, p.idCfg.LedgerPath), countKinds(t, p.khCfg.LedgerPath)
	for _, id := range all {
		if s := sent[id]; s[ledgerv1.EntryKind_ENTRY_KIND_SENT] != 1 || s[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED] != 1 {
			t.Errorf("sender ledger, %s: %v", id, s)
		}
		if r := received[id]; r[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != 1 || r[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED] != 1 {
			t.Errorf("receiver ledger, %s: %v", id, r)
		}
	}
	a, err := ledger.Open(p.idCfg.LedgerPath, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ledger.Open(p.khCfg.LedgerPath, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	found, err := audit.Reconcile(context.Background(), a, b, nil)
	if err != nil || len(found) > 0 {
		t.Fatalf("reconcile: %v %v", found, err)
	}
}
