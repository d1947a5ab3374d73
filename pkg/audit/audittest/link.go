// Package audittest runs a real link for the auditor's tests: two nodes in
// the test's process, with a fresh dev PKI and the configuration `focalpoint
// demo` uses, exchanging messages over mutual TLS on loopback and cosigning
// each other's checkpoints through the exchange's own witness loop. The
// ledgers it leaves behind are exactly what nodes write, so tests of the
// auditor can copy and damage them.
package audittest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// Link is a finished exchange between an Indonesian and a Cambodian node;
// both nodes have stopped and closed their ledgers.
type Link struct {
	// Ledgers are the two ledger files, Indonesia's first, and Configs the
	// two nodes' config files.
	Ledgers, Configs [2]string
	// Nodes are the two nodes' dev PKI: keys, including the log keys'
	// private halves (LogKey), and names.
	Nodes [2]devpki.NodeLayout
	// Keys is the published keys file for both nodes, as `focalpoint keys
	// show` prints it: log, cosigner and messages keys.
	Keys string
	// Sent are the IDs of the messages each node sent, in order.
	Sent [2][]string
}

// Run runs a link in a new directory removed when t ends. Each node sends
// perRound test messages in each of rounds rounds, and Run waits after each
// round until every message has its receipt and each ledger's checkpoint
// covering it has been cosigned by the other node, so that each ledger holds
// CHECKPOINT_COSIGNED and CHECKPOINT_WITNESSED entries between its messages.
func Run(t testing.TB, rounds, perRound int) *Link {
	t.Helper()
	// Unix socket paths are short; t.TempDir's can be too long for them.
	dir, err := os.MkdirTemp("", "fpaudit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	layout, err := devpki.Write(filepath.Join(dir, "certs"), devpki.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lis := [2]net.Listener{listen(), listen()}
	link := &Link{Nodes: [2]devpki.NodeLayout{layout.Nodes[0], layout.Nodes[1]}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stopNodes := context.WithCancel(context.Background())
	defer stopNodes()

	var nodes [2]*node.Node
	var clients [2]focalv1.FocalServiceClient
	var conns [2]interface{ Close() error }
	var done [2]chan error
	for i := range 2 {
		me, other := link.Nodes[i], link.Nodes[1-i]
		file := demo.DevConfig(dir, me, other, lis[i].Addr().String(), lis[1-i].Addr().String())
		file.Delivery.InitialBackoff = config.Duration(20 * time.Millisecond)
		file.Delivery.MaxBackoff = config.Duration(200 * time.Millisecond)
		path := filepath.Join(dir, me.Agency+".yaml")
		if err := config.Write(path, file); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := node.New(runCtx, cfg, node.Options{PeerListener: lis[i]})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i], link.Ledgers[i], link.Configs[i] = n, cfg.LedgerPath, path
		done[i] = make(chan error, 1)
		go func() { done[i] <- n.Run(runCtx) }()
		conn, err := node.DialLocal(cfg.LocalSocket)
		if err != nil {
			t.Fatal(err)
		}
		conns[i], clients[i] = conn, focalv1.NewFocalServiceClient(conn)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		stopNodes()
		for i := range 2 {
			if err := <-done[i]; err != nil {
				t.Errorf("%s node stopped with %v", link.Nodes[i].Agency, err)
			}
		}
	}
	defer stop()

	for round := range rounds {
		var ids [2][]string
		for i := range 2 {
			for k := range perRound {
				r, err := clients[i].SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
					Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{
						Nonce: fmt.Sprintf("audittest round %d message %d", round, k),
					}}},
				}})
				if err != nil {
					t.Fatalf("%s submit: %v", link.Nodes[i].Agency, err)
				}
				ids[i] = append(ids[i], r.GetMessageId())
			}
		}
		for i := range 2 {
			for _, id := range ids[i] {
				if _, err := clients[i].AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: id}); err != nil {
					t.Fatalf("%s receipt of %s: %v", link.Nodes[i].Agency, id, err)
				}
			}
			link.Sent[i] = append(link.Sent[i], ids[i]...)
		}
		for i := range 2 {
			for {
				need, err := nodes[i].Ledger().NeedsCosign()
				if err != nil {
					t.Fatal(err)
				}
				if !need {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("%s's ledger was not cosigned in time", link.Nodes[i].Agency)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	stop()

	var keys strings.Builder
	for _, n := range link.Nodes {
		cosigner, err := fnote.VKeyToCosignatureV1(n.LogVKey)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&keys, "# %s (%s)\nlog %s\ncosigner %s\nmessages %s\n", n.NodeID, n.Agency, n.LogVKey, cosigner, n.MessagesVKey)
	}
	link.Keys = keys.String()
	return link
}
