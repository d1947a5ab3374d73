package exchange_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
	"github.com/focalpoint-gateway/focalpoint/pkg/rpcerr"
)

// An alert goes from Indonesia to Cambodia, Cambodia answers with an outcome in
// the same case, and both ledgers hold both facts of both messages.
func TestAlertAndOutcomeEndToEnd(t *testing.T) {
	p := startLink(t)
	ctx := t.Context()

	alert, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatalf("submit alert: %v", err)
	}
	if alert.ThreadID != alert.MessageID {
		t.Errorf("an alert without a thread opens its own case: thread %s, message %s", alert.ThreadID, alert.MessageID)
	}
	got := waitReceipt(t, p.id.ledger, alert.MessageID, 10*time.Second)
	if got.GetRefersToIndex() != alert.LedgerIndex {
		t.Errorf("RECEIPT_RECEIVED refers to entry %d, the SENT entry is %d", got.GetRefersToIndex(), alert.LedgerIndex)
	}

	kh := kindsOf(t, p.kh.ledger, alert.MessageID)
	if kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != 1 || kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED] != 1 || len(kh) != 2 {
		t.Fatalf("KH ledger entries for the alert: %v, want one RECEIVED and one RECEIPT_ISSUED", kh)
	}

	// The receipt ID holds is KH's signed word for the exact envelope ID sent,
	// naming the index KH gave it, and is byte for byte the one KH ledgered.
	khEntries, err := p.kh.ledger.MessageEntries(alert.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	received, issued := khEntries[0], khEntries[1]
	if received.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_RECEIVED || issued.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED {
		t.Fatalf("KH entries in order %s, %s", received.GetKind(), issued.GetKind())
	}
	idReceipt, err := p.id.ledger.Receipt(got)
	if err != nil {
		t.Fatal(err)
	}
	khReceipt, err := p.kh.ledger.Receipt(issued)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(idReceipt, khReceipt) {
		t.Error("the receipt ID ledgered is not the receipt KH ledgered")
	}
	r, _, err := envelope.OpenReceipt(idReceipt, note.VerifierList(p.kh.signer.Verifier()))
	if err != nil {
		t.Fatalf("receipt does not verify with KH's key: %v", err)
	}
	if r.GetLedgerIndex() != received.GetIndex() || !bytes.Equal(r.GetEnvelopeSha256(), got.GetEnvelopeSha256()) ||
		r.GetReceiver().GetSpiffeId() != p.kh.id.String() || r.GetMessageId() != alert.MessageID {
		t.Errorf("receipt %v does not name KH's RECEIVED entry %d for the envelope ID sent", r, received.GetIndex())
	}
	if !bytes.Equal(received.GetEnvelopeSha256(), got.GetEnvelopeSha256()) {
		t.Error("the two ledgers hold different envelopes for the alert")
	}
	if received.GetThreadId() != alert.ThreadID {
		t.Errorf("KH files the alert under thread %s, ID under %s", received.GetThreadId(), alert.ThreadID)
	}

	// Cambodia answers.
	outcome, err := p.kh.sender.Submit(ctx, outcomeDraft(p.kh.clock.Now(), alert.MessageID))
	if err != nil {
		t.Fatalf("submit outcome: %v", err)
	}
	if outcome.ThreadID != alert.ThreadID {
		t.Errorf("outcome thread %s, alert thread %s", outcome.ThreadID, alert.ThreadID)
	}
	waitReceipt(t, p.kh.ledger, outcome.MessageID, 10*time.Second)
	idEntries, err := p.id.ledger.MessageEntries(outcome.MessageID)
	if err != nil {
		t.Fatalf("ID ledger has no entry for the outcome: %v", err)
	}
	if idEntries[0].GetKind() != ledgerv1.EntryKind_ENTRY_KIND_RECEIVED || idEntries[0].GetMessageKind() != ledgerv1.MessageKind_MESSAGE_KIND_OUTCOME {
		t.Errorf("ID's first entry for the outcome is %s of a %s", idEntries[0].GetKind(), idEntries[0].GetMessageKind())
	}
	if idEntries[0].GetThreadId() != alert.ThreadID {
		t.Errorf("ID files the outcome under thread %s, the alert's is %s", idEntries[0].GetThreadId(), alert.ThreadID)
	}
	raw, err := p.id.ledger.Envelope(idEntries[0])
	if err != nil {
		t.Fatal(err)
	}
	o, err := envelope.Open(raw, note.VerifierList(p.kh.signer.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	if h := o.Message.GetHeader(); h.GetInReplyTo() != alert.MessageID || h.GetThreadId() != alert.ThreadID {
		t.Errorf("the outcome ID received answers %s in thread %s", h.GetInReplyTo(), h.GetThreadId())
	}

	for _, s := range []*side{p.id, p.kh} {
		if n := s.ledger.OutboxLen(); n != 0 {
			t.Errorf("%s outbox holds %d messages after both receipts", s.name, n)
		}
		if rows, err := s.ledger.Outbox(0, 10); err != nil || len(rows) != 0 {
			t.Errorf("%s outbox rows %v, %v", s.name, rows, err)
		}
	}
}

// An outcome must answer an alert this node received. One naming an unknown
// message, or an alert this node itself sent, is refused before anything is
// signed or ledgered.
func TestOutcomeMustAnswerAReceivedAlert(t *testing.T) {
	p := newPair(t)
	// No peer is needed: Submit refuses before anything is queued.
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	ctx := t.Context()

	own, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}

	for name, inReplyTo := range map[string]string{
		"unknown message":      newID(t),
		"alert this node sent": own.MessageID,
	} {
		t.Run(name, func(t *testing.T) {
			before, outbox := p.id.ledger.Size(), p.id.ledger.OutboxLen()
			_, err := p.id.sender.Submit(ctx, outcomeDraft(p.id.clock.Now(), inReplyTo))
			var invalid *message.ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("Submit: %v, want a *message.ValidationError", err)
			}
			if !hasViolation(invalid, "header.in_reply_to") {
				t.Errorf("violations %v do not name header.in_reply_to", invalid.Violations)
			}
			wantCode(t, rpcerr.Status(err), codes.InvalidArgument, "header.in_reply_to")
			if after := p.id.ledger.Size(); after != before {
				t.Errorf("ledger grew from %d to %d entries", before, after)
			}
			if n := p.id.ledger.OutboxLen(); n != outbox {
				t.Errorf("outbox went from %d to %d", outbox, n)
			}
		})
	}
}

func hasViolation(e *message.ValidationError, field string) bool {
	for _, v := range e.Violations {
		if v.Field == field {
			return true
		}
	}
	return false
}

// Messages accepted while the peer is down wait in the outbox and are
// delivered, each exactly once, when it comes up.
func TestDeliveryRetriesUntilThePeerComesUp(t *testing.T) {
	p := newPair(t)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	ctx := t.Context()

	const n = 20
	ids := make([]string, 0, n)
	for range n {
		sub, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now()))
		if err != nil {
			t.Fatalf("submit while the peer is down: %v", err)
		}
		ids = append(ids, sub.MessageID)
	}
	if got := p.id.ledger.OutboxLen(); got != n {
		t.Fatalf("outbox holds %d, want %d", got, n)
	}
	// The loop has tried, and failed, while the peer was down.
	eventually(t, 5*time.Second, "no delivery attempt while the peer is down", func() bool {
		return p.id.sender.Status(ids[0]).Attempts >= 1
	})
	if st := p.id.sender.Status(ids[0]); st.LastError == "" {
		t.Errorf("status after a failed attempt has no error: %+v", st)
	}
	if got := p.id.ledger.OutboxLen(); got != n {
		t.Fatalf("outbox holds %d while the peer is down, want %d", got, n)
	}
	if got := p.kh.ledger.Size(); got != 1 {
		t.Fatalf("KH ledger has %d entries before it listens", got)
	}

	p.serve(t, p.kh)
	for _, id := range ids {
		waitReceipt(t, p.id.ledger, id, 15*time.Second)
	}

	kh, id := census(t, p.kh.ledger), census(t, p.id.ledger)
	for _, m := range ids {
		if c := kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED][m]; c != 1 {
			t.Errorf("KH holds %d RECEIVED entries for %s", c, m)
		}
		if c := kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED][m]; c != 1 {
			t.Errorf("KH holds %d RECEIPT_ISSUED entries for %s", c, m)
		}
		if c := id[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED][m]; c != 1 {
			t.Errorf("ID holds %d RECEIPT_RECEIVED entries for %s", c, m)
		}
	}
	if got := len(kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED]); got != n {
		t.Errorf("KH received %d messages, want %d", got, n)
	}
	if got := p.id.ledger.OutboxLen(); got != 0 {
		t.Errorf("outbox holds %d after every receipt", got)
	}
}

// hangingPeer accepts TCP connections and reads from them forever, answering
// nothing: a peer that is up but stuck.
func hangingPeer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}

// A peer that accepts connections and never answers costs one attempt timeout
// per try, shows up in the message's status, and leaves nothing running once
// the sender stops.
func TestStuckPeerTimesOutAndLeaksNothing(t *testing.T) {
	p := newPair(t)
	addr := hangingPeer(t)

	baseline := runtime.NumGoroutine()
	opts := senderOptions(p.id)
	opts.AttemptTimeout = 300 * time.Millisecond
	p.runSender(t, p.id, addr, opts)

	start := time.Now()
	sub, err := p.id.sender.Submit(t.Context(), alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatalf("submit with a stuck peer: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Submit took %s with a stuck peer; it must not wait for the network", d)
	}
	eventually(t, 5*time.Second, "no attempt finished against the stuck peer", func() bool {
		return p.id.sender.Status(sub.MessageID).Attempts >= 1
	})
	elapsed := time.Since(start)
	if elapsed < 250*time.Millisecond {
		t.Errorf("the first attempt ended after %s, before its 300 ms timeout: the stuck peer cannot have answered", elapsed)
	}
	if elapsed > 3*time.Second {
		t.Errorf("the first attempt ended after %s; AttemptTimeout is 300 ms", elapsed)
	}
	st := p.id.sender.Status(sub.MessageID)
	if st.LastError == "" {
		t.Errorf("status has no last error: %+v", st)
	}
	t.Logf("status after %s: %+v", elapsed, st)
	if p.id.ledger.OutboxLen() != 1 {
		t.Errorf("outbox holds %d, want the 1 undelivered message", p.id.ledger.OutboxLen())
	}

	stopped := time.Now()
	p.id.stopSender()
	if d := time.Since(stopped); d > 2*time.Second {
		t.Errorf("Run took %s to return after its context ended; an attempt is bounded by 300 ms", d)
	}
	// The node closes its connection to the peer when it stops; then every
	// goroutine the sender and its connection started must be gone.
	p.id.conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	const slack = 3
	for runtime.NumGoroutine() > baseline+slack && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline+slack {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines 2 s after the sender stopped, %d before it started:\n%s", n, baseline, buf)
	}
}

// With the outbox at its limit, Submit refuses with ErrOutboxFull, which the
// API turns into RESOURCE_EXHAUSTED with a retry hint.
func TestOutboxLimitRefusesSubmissions(t *testing.T) {
	p := newPair(t)
	opts := senderOptions(p.id)
	opts.OutboxLimit = 5
	p.runSender(t, p.id, p.kh.addr, opts) // the peer never comes up
	ctx := t.Context()

	for i := range 5 {
		if _, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now())); err != nil {
			t.Fatalf("submission %d of 5: %v", i+1, err)
		}
	}
	before := p.id.ledger.Size()
	_, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now()))
	if !errors.Is(err, exchange.ErrOutboxFull) {
		t.Fatalf("6th submission: %v, want ErrOutboxFull", err)
	}
	var full *exchange.OutboxFullError
	if !errors.As(err, &full) || full.Pending != 5 || full.Limit != 5 || full.RetryAfter <= 0 {
		t.Errorf("error %#v, want pending 5, limit 5 and a retry hint", full)
	}
	st := status.Convert(rpcerr.Status(err))
	if st.Code() != codes.ResourceExhausted {
		t.Errorf("status code %s, want ResourceExhausted", st.Code())
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Errorf("status details %v carry no RetryInfo with a delay", st.Details())
	}
	if after := p.id.ledger.Size(); after != before {
		t.Errorf("a refused submission wrote %d entries", after-before)
	}
	if n := p.id.ledger.OutboxLen(); n != 5 {
		t.Errorf("outbox holds %d, want 5", n)
	}
}

// The limit holds when officers submit at the same moment, too.
func TestOutboxLimitHoldsUnderConcurrentSubmissions(t *testing.T) {
	p := newPair(t)
	opts := senderOptions(p.id)
	opts.OutboxLimit = 5
	p.runSender(t, p.id, p.kh.addr, opts) // the peer never comes up
	ctx := t.Context()

	const submitters = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
		other    []error
	)
	startGun := make(chan struct{})
	for range submitters {
		wg.Go(func() {
			<-startGun
			_, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now()))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, exchange.ErrOutboxFull):
				other = append(other, err)
			}
		})
	}
	close(startGun)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors: %v", other)
	}
	if accepted > opts.OutboxLimit || p.id.ledger.OutboxLen() > opts.OutboxLimit {
		t.Errorf("%d of %d concurrent submissions accepted and the outbox holds %d, over its limit of %d",
			accepted, submitters, p.id.ledger.OutboxLen(), opts.OutboxLimit)
	}
}

// Many officers submitting at once on a live link: every message is receipted,
// and each is received exactly once.
func TestConcurrentSubmissions(t *testing.T) {
	p := startLink(t)
	ctx := t.Context()

	const goroutines, each = 8, 25
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  []string
		errs []error
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				sub, err := p.id.sender.Submit(ctx, alertDraft(p.id.clock.Now()))
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("goroutine %d, submission %d: %w", g, i, err))
				} else {
					ids = append(ids, sub.MessageID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d submissions failed, first: %v", len(errs), errs[0])
	}
	if len(ids) != goroutines*each {
		t.Fatalf("%d submissions accepted, want %d", len(ids), goroutines*each)
	}
	for _, id := range ids {
		waitReceipt(t, p.id.ledger, id, 20*time.Second)
	}

	kh, id := census(t, p.kh.ledger), census(t, p.id.ledger)
	dups := 0
	for _, m := range ids {
		if kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED][m] != 1 || kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED][m] != 1 {
			dups++
		}
		if id[ledgerv1.EntryKind_ENTRY_KIND_SENT][m] != 1 || id[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED][m] != 1 {
			dups++
		}
	}
	if dups > 0 {
		t.Errorf("%d messages are not recorded exactly once on each side", dups)
	}
	if got := len(kh[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED]); got != len(ids) {
		t.Errorf("KH received %d distinct messages, want %d", got, len(ids))
	}
	if n := p.id.ledger.OutboxLen(); n != 0 {
		t.Errorf("outbox holds %d after every receipt", n)
	}
	// Every SENT index is distinct and the ledgers agree on the count.
	if want := uint64(1 + 2*len(ids)); p.id.ledger.Size() != want || p.kh.ledger.Size() != want {
		t.Errorf("ledger sizes ID %d, KH %d, want %d each (config + two entries per message)", p.id.ledger.Size(), p.kh.ledger.Size(), want)
	}
}
