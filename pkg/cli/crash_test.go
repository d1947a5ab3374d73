package cli_test

// TestCrashRecovery is the delivery guarantee under fire: real node processes
// exchange a few hundred messages from several concurrent senders while each
// node is SIGKILLed and restarted at random moments. Afterwards every message
// either node ever recorded as SENT (whether or not its submitter heard
// "accepted") is RECEIVED exactly once by the other, and receipted exactly
// once; both ledgers pass the auditor's checks.

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

var crashSeed = flag.Uint64("crash.seed", 0, "TestCrashRecovery: seed of the kill schedule (0: a new one, logged)")

const (
	// Messages each sender gets accepted, and senders per direction.
	crashPerSender = 50
	crashSendersID = 6 // ID → KH: 300 messages
	crashSendersKH = 2 // KH → ID: 100 messages
	// Kills of each node at least; the schedule goes on while senders send.
	crashMinKills = 3
	crashMaxKills = 24
)

// crashNode is one side of the link across its incarnations. Only the test
// goroutine touches it; senders know only the socket.
type crashNode struct {
	name, config, socket, ledger string
	proc                         *nodeProc
	procs                        []*nodeProc
	kills                        int
}

func (c *crashNode) start(t *testing.T) {
	t.Helper()
	c.proc = startNode(t, fmt.Sprintf("%s (incarnation %d)", c.name, len(c.procs)+1), c.config, c.socket)
	c.procs = append(c.procs, c.proc)
}

// kill SIGKILLs the node and waits until it is reaped, so its ledger's file
// lock is gone before it is started again.
func (c *crashNode) kill(t *testing.T) {
	t.Helper()
	if !c.proc.running() {
		t.Fatalf("%s node exited by itself: %v\n%s", c.name, c.proc.waitErr, c.proc.logs.String())
	}
	if err := c.proc.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL %s node: %v", c.name, err)
	}
	<-c.proc.exited
	c.kills++
}

// accepted is a submission the node answered OK.
type accepted struct {
	id    string
	index uint64 // of its SENT entry, as the node said
}

// senderReport is what one sender did.
type senderReport struct {
	accepted []accepted
	failures map[codes.Code]int
	errs     []error // failures no crash explains
}

// sendUntilAccepted submits test messages through the node's local API until
// n are accepted. A failed submission is not retried as such: the next try is
// a new draft, which the node gives a new message ID. The client is dialled
// afresh after every failure, since the node behind the socket may be a new
// process.
func sendUntilAccepted(ctx context.Context, socket, label string, n int) senderReport {
	rep := senderReport{failures: map[codes.Code]int{}}
	var conn *grpc.ClientConn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for try := 0; len(rep.accepted) < n; try++ {
		if ctx.Err() != nil {
			rep.errs = append(rep.errs, fmt.Errorf("%s: %d of %d accepted when time ran out: %w", label, len(rep.accepted), n, ctx.Err()))
			return rep
		}
		if conn == nil {
			c, err := node.DialLocal(socket)
			if err != nil {
				rep.errs = append(rep.errs, fmt.Errorf("%s: %w", label, err))
				return rep
			}
			conn = c
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := focalv1.NewFocalServiceClient(conn).SubmitMessage(cctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
			Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{
				Nonce: fmt.Sprintf("crash %s try %d", label, try),
			}}},
		}})
		cancel()
		if err == nil {
			rep.accepted = append(rep.accepted, accepted{id: resp.GetMessageId(), index: resp.GetLedgerIndex()})
			// Paced, so that the sending spans the kill schedule.
			time.Sleep(time.Duration(40+rand.IntN(200)) * time.Millisecond)
			continue
		}
		code := status.Code(err)
		rep.failures[code]++
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded:
			// The node is down, starting or was killed during the call.
		default:
			rep.errs = append(rep.errs, fmt.Errorf("%s: submission %d: %w", label, try, err))
		}
		conn.Close()
		conn = nil
		time.Sleep(time.Duration(20+rand.IntN(30)) * time.Millisecond)
	}
	return rep
}

// messageEntries is what one ledger holds about one message: entry indexes
// by kind, and the index each entry refers to.
type messageEntries struct {
	byKind map[ledgerv1.EntryKind][]uint64
	refers map[ledgerv1.EntryKind][]uint64
}

func (m *messageEntries) count(k ledgerv1.EntryKind) int {
	if m == nil {
		return 0
	}
	return len(m.byKind[k])
}

// scanLedger reads a stopped node's ledger file, read-only.
func scanLedger(t *testing.T, path string) (map[string]*messageEntries, map[ledgerv1.EntryKind]int) {
	t.Helper()
	l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	byID := map[string]*messageEntries{}
	kinds := map[ledgerv1.EntryKind]int{}
	err = l.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		kinds[e.GetKind()]++
		if e.GetMessageId() == "" {
			return nil // CONFIG and other entries about no message
		}
		m := byID[e.GetMessageId()]
		if m == nil {
			m = &messageEntries{byKind: map[ledgerv1.EntryKind][]uint64{}, refers: map[ledgerv1.EntryKind][]uint64{}}
			byID[e.GetMessageId()] = m
		}
		m.byKind[e.GetKind()] = append(m.byKind[e.GetKind()], e.GetIndex())
		m.refers[e.GetKind()] = append(m.refers[e.GetKind()], e.GetRefersToIndex())
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", path, err)
	}
	return byID, kinds
}

// checkExactlyOnce checks one direction of the link: every message the
// sending ledger holds as SENT is receipted once there, and RECEIVED and
// receipted once in the receiving ledger; nothing is RECEIVED that was not
// SENT; and every accepted message is among them, at the index the node gave.
func checkExactlyOnce(t *testing.T, dir string, acc []accepted, from, to map[string]*messageEntries) (unacknowledged int) {
	t.Helper()
	const (
		sent            = ledgerv1.EntryKind_ENTRY_KIND_SENT
		receiptReceived = ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED
		received        = ledgerv1.EntryKind_ENTRY_KIND_RECEIVED
		receiptIssued   = ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED
	)
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 20 {
			t.Errorf(dir+": "+format, args...)
		}
	}
	isAccepted := map[string]bool{}
	for _, a := range acc {
		if isAccepted[a.id] {
			fail("message %s accepted twice", a.id)
		}
		isAccepted[a.id] = true
		s := from[a.id]
		if s.count(sent) != 1 {
			fail("accepted message %s has %d SENT entries in the sender's ledger, want 1", a.id, s.count(sent))
			continue
		}
		if got := s.byKind[sent][0]; got != a.index {
			fail("accepted message %s: SENT at index %d, but the node said %d", a.id, got, a.index)
		}
	}
	for id, s := range from {
		if s.count(sent) == 0 {
			continue // a message the other side sent
		}
		if !isAccepted[id] {
			unacknowledged++
		}
		r := to[id]
		if s.count(sent) != 1 || s.count(receiptReceived) != 1 || r.count(received) != 1 || r.count(receiptIssued) != 1 {
			fail("message %s (accepted: %t): sender has %d SENT and %d RECEIPT_RECEIVED, receiver %d RECEIVED and %d RECEIPT_ISSUED; want 1 of each",
				id, isAccepted[id], s.count(sent), s.count(receiptReceived), r.count(received), r.count(receiptIssued))
			continue
		}
		if s.refers[receiptReceived][0] != s.byKind[sent][0] || r.refers[receiptIssued][0] != r.byKind[received][0] {
			fail("message %s: RECEIPT_RECEIVED refers to %d (SENT is %d); RECEIPT_ISSUED refers to %d (RECEIVED is %d)",
				id, s.refers[receiptReceived][0], s.byKind[sent][0], r.refers[receiptIssued][0], r.byKind[received][0])
		}
	}
	for id, r := range to {
		if r.count(received) > 0 && from[id].count(sent) == 0 {
			fail("message %s RECEIVED %d times, but the sender's ledger holds no SENT for it", id, r.count(received))
		}
	}
	if bad > 20 {
		t.Errorf("%s: %d problems in all", dir, bad)
	}
	return unacknowledged
}

// TestCrashRecovery: several concurrent senders on each side; meanwhile a
// seeded schedule SIGKILLs the sender's or the receiver's node at random
// moments and starts it again on the same state directory.
func TestCrashRecovery(t *testing.T) {
	needBinary(t)
	begin := time.Now()
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("kill schedule seed %d (rerun it with -args -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	addrs := freeAddrs(t, 2)
	idState, khState := filepath.Join(dir, "id"), filepath.Join(dir, "kh")
	quick := func(config string) string {
		return replaceOnce(t, config, "delivery:\n  initial_backoff: 50ms\n  max_backoff: 1s\n",
			"delivery:\n  initial_backoff: 20ms\n  max_backoff: 500ms\n  attempt_timeout: 1s\n")
	}
	id := &crashNode{
		name:   "ID",
		config: writeFile(t, filepath.Join(dir, "id.yaml"), quick(nodeConfig(certs, idState, indonesia, cambodia, addrs[0], addrs[1]))),
		socket: filepath.Join(idState, "focal.sock"),
		ledger: filepath.Join(idState, "ledger.db"),
	}
	kh := &crashNode{
		name:   "KH",
		config: writeFile(t, filepath.Join(dir, "kh.yaml"), quick(nodeConfig(certs, khState, cambodia, indonesia, addrs[1], addrs[0]))),
		socket: filepath.Join(khState, "focal.sock"),
		ledger: filepath.Join(khState, "ledger.db"),
	}
	nodes := []*crashNode{id, kh}
	for _, n := range nodes {
		n.start(t)
	}
	for _, n := range nodes {
		n.proc.waitServing(t)
	}

	// The senders.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	type senderSpec struct {
		from, to *crashNode
		label    string
	}
	var specs []senderSpec
	for i := range crashSendersID {
		specs = append(specs, senderSpec{id, kh, fmt.Sprintf("id%d", i)})
	}
	for i := range crashSendersKH {
		specs = append(specs, senderSpec{kh, id, fmt.Sprintf("kh%d", i)})
	}
	reports := make([]senderReport, len(specs))
	var senders sync.WaitGroup
	for i, s := range specs {
		senders.Go(func() { reports[i] = sendUntilAccepted(ctx, s.from.socket, s.label, crashPerSender) })
	}
	sendersDone := make(chan struct{})
	go func() {
		senders.Wait()
		close(sendersDone)
	}()

	// The kill schedule, on the test goroutine: a shuffled plan that kills
	// each node crashMinKills times, then random kills while senders send.
	var plan []*crashNode
	for range crashMinKills {
		plan = append(plan, id, kh)
	}
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	var schedule []string
	for k := 0; k < crashMaxKills; k++ {
		if k >= len(plan) {
			select {
			case <-sendersDone:
			default:
				plan = append(plan, nodes[rng.IntN(2)])
			}
			if k >= len(plan) {
				break
			}
		}
		victim := plan[k]
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		victim.kill(t)
		down := time.Duration(rng.IntN(300)) * time.Millisecond
		schedule = append(schedule, fmt.Sprintf("%.2fs %s down %s", time.Since(begin).Seconds(), victim.name, down))
		time.Sleep(down)
		victim.start(t)
	}
	t.Logf("kills: %s", strings.Join(schedule, "; "))
	<-sendersDone
	chaosEnd := time.Now()

	var sent [2][]accepted // by ID, by KH
	failures := map[codes.Code]int{}
	for i, r := range reports {
		for _, err := range r.errs {
			t.Error(err)
		}
		for c, n := range r.failures {
			failures[c] += n
		}
		from := 0
		if specs[i].from == kh {
			from = 1
		}
		sent[from] = append(sent[from], r.accepted...)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Both nodes up; every outbox drains.
	for _, n := range nodes {
		if !n.proc.running() {
			t.Fatalf("%s node exited by itself: %v\n%s", n.name, n.proc.waitErr, n.proc.logs.String())
		}
		n.proc.waitServing(t)
	}
	for _, n := range nodes {
		eventually(t, 60*time.Second, n.name+"'s outbox drained", func() (bool, string) {
			p, r := outboxPending(t, n.config)
			return p == 0, r.String()
		})
	}
	drained := time.Now()

	// A graceful stop of both.
	var stopped sync.WaitGroup
	for _, n := range nodes {
		stopped.Go(func() {
			code, err := n.proc.stop()
			switch {
			case err != nil:
				t.Error(err)
			case code != 0:
				t.Errorf("%s node exited %d after SIGTERM, want 0", n.name, code)
			}
		})
	}
	stopped.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, n := range nodes {
		for _, p := range n.procs {
			// A node killed while starting may have written nothing.
			if strings.TrimSpace(p.logs.String()) != "" {
				p.checkLogs(t)
			}
		}
	}

	// Exactly once, in both ledgers, both ways.
	idEntries, idKinds := scanLedger(t, id.ledger)
	khEntries, khKinds := scanLedger(t, kh.ledger)
	unackID := checkExactlyOnce(t, "ID→KH", sent[0], idEntries, khEntries)
	unackKH := checkExactlyOnce(t, "KH→ID", sent[1], khEntries, idEntries)

	// And the auditor agrees.
	for _, n := range []struct {
		node  *crashNode
		kinds map[ledgerv1.EntryKind]int
	}{{id, idKinds}, {kh, khKinds}} {
		r := mustRun(t, "audit", "verify", "--ledger", n.node.ledger)
		if lines := r.lines(); lines[len(lines)-1] != "verify: ok" {
			t.Errorf("audit verify: want last line 'verify: ok'\n%s", r)
		}
		rep := verifyJSON(t, "--ledger", n.node.ledger)
		if len(rep.Pending) != 0 ||
			rep.Sent != uint64(n.kinds[ledgerv1.EntryKind_ENTRY_KIND_SENT]) ||
			rep.Received != uint64(n.kinds[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED]) {
			t.Errorf("audit verify of %s: want nothing pending, %d sent, %d received: %+v", n.node.name,
				n.kinds[ledgerv1.EntryKind_ENTRY_KIND_SENT], n.kinds[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED], rep)
		}
	}
	r := mustRun(t, "audit", "reconcile", "--ledger", id.ledger, "--ledger", kh.ledger)
	if !strings.Contains(r.stdout, "reconcile: ok") {
		t.Errorf("audit reconcile: want 'reconcile: ok'\n%s", r)
	}

	var codeList []string
	for c, n := range failures {
		codeList = append(codeList, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(codeList)
	t.Logf("kills: ID %d, KH %d; accepted: ID→KH %d, KH→ID %d; SENT but never reported accepted: ID %d, KH %d; failed submissions: %s",
		id.kills, kh.kills, len(sent[0]), len(sent[1]), unackID, unackKH, strings.Join(codeList, ", "))
	t.Logf("ledger entries: ID %v, KH %v", kindSummary(idKinds), kindSummary(khKinds))
	for _, n := range nodes {
		var replayed, retried int
		for _, p := range n.procs {
			logs := p.logs.String()
			replayed += strings.Count(logs, `"msg":"peer delivery replayed; original receipt returned"`)
			retried += strings.Count(logs, `"msg":"delivery failed; will retry"`)
		}
		t.Logf("%s: %d incarnations, %d deliveries to it replayed (receipt lost), %d failed delivery attempts from it", n.name, len(n.procs), replayed, retried)
	}
	t.Logf("chaos and sending %.1fs, drained %.1fs later, %.1fs in all",
		chaosEnd.Sub(begin).Seconds(), drained.Sub(chaosEnd).Seconds(), time.Since(begin).Seconds())
}

func kindSummary(kinds map[ledgerv1.EntryKind]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(k.String(), "ENTRY_KIND_"), n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
