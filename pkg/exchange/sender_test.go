package exchange_test

// The sender against peers that misbehave, stop, restart or stay away.

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

// tamperingPeer is a real Receiver whose answers a test may rewrite, and whose
// calls it may slow down.
type tamperingPeer struct {
	peerv1.UnimplementedPeerServiceServer
	real   *exchange.Receiver
	tamper atomic.Pointer[func(receipt []byte) []byte]
	delay  atomic.Int64
	calls  atomic.Int64
	// largest is the most envelopes one call carried.
	largest atomic.Int64
	// rewrite, if set, may change a whole answer before it goes back.
	rewrite atomic.Pointer[func(req *peerv1.DeliverRequest, resp *peerv1.DeliverResponse)]
	// refuse, if set, may refuse a whole call before the receiver sees it.
	refuse atomic.Pointer[func(req *peerv1.DeliverRequest) error]
}

func (f *tamperingPeer) Deliver(ctx context.Context, req *peerv1.DeliverRequest) (*peerv1.DeliverResponse, error) {
	f.calls.Add(1)
	for n := int64(len(req.GetEnvelopes())); ; {
		if l := f.largest.Load(); n <= l || f.largest.CompareAndSwap(l, n) {
			break
		}
	}
	time.Sleep(time.Duration(f.delay.Load()))
	if refuse := f.refuse.Load(); refuse != nil {
		if err := (*refuse)(req); err != nil {
			return nil, err
		}
	}
	resp, err := f.real.Deliver(ctx, req)
	if err != nil {
		return nil, err
	}
	if tamper := f.tamper.Load(); tamper != nil {
		for _, res := range resp.GetResults() {
			if r, ok := res.GetResult().(*peerv1.DeliverResult_SignedReceipt); ok {
				r.SignedReceipt = (*tamper)(r.SignedReceipt)
			}
		}
	}
	if rewrite := f.rewrite.Load(); rewrite != nil {
		(*rewrite)(req, resp)
	}
	return resp, nil
}

func (p *pair) serveTampering(t *testing.T, s *side) *tamperingPeer {
	t.Helper()
	f := &tamperingPeer{}
	p.serveWith(t, s, receiverOptions(s), func(r *exchange.Receiver) peerv1.PeerServiceServer {
		f.real = r
		return f
	})
	return f
}

// A peer that answers with anything but its valid receipt for the exact
// envelope sent gets nothing ledgered: the message stays in the outbox, its
// status says what was wrong, and the honest receipt later is taken.
func TestSenderRefusesBadReceipts(t *testing.T) {
	p := newPair(t)
	peer := p.serveTampering(t, p.kh)
	khKeys := note.VerifierList(p.kh.signer.Verifier())
	rogueKey, _, err := keys.Generate(devpki.MessagesKeyName(p.kh.td))
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := keys.ParseSigner(rogueKey)
	if err != nil {
		t.Fatal(err)
	}
	// resign opens KH's real receipt, lets edit change it, and signs it again.
	resign := func(edit func(r *envelopev1.Receipt), signer note.Signer) func([]byte) []byte {
		return func(raw []byte) []byte {
			r, _, err := envelope.OpenReceipt(raw, khKeys)
			if err != nil {
				t.Errorf("the real receiver's receipt does not open: %v", err)
				return raw
			}
			edit(r)
			out, err := envelope.SignReceipt(r, signer)
			if err != nil {
				t.Errorf("sign: %v", err)
			}
			return out
		}
	}
	// The real receipt's bytes signed as if they were a message envelope: the
	// two share a wire shape, so only domain separation tells them apart.
	asEnvelope := func(raw []byte) []byte {
		var sr envelopev1.SignedReceipt
		unmarshal(t, raw, &sr)
		sig, err := p.kh.signer.Sign(append(append([]byte(envelopeContext), 0), sr.GetReceipt()...))
		if err != nil {
			t.Error(err)
		}
		sr.Signature.Signature = sig
		return marshal(t, &sr)
	}
	otherSum := sha256.Sum256([]byte("another envelope"))

	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	// Set the first tamper before anything is delivered.
	first := resign(func(r *envelopev1.Receipt) { r.MessageId = newID(t) }, p.kh.signer)
	peer.tamper.Store(&first)
	sub, err := p.id.sender.Submit(t.Context(), alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		tamper func([]byte) []byte
		says   string
	}{
		{"receipt for another message", first, "receipt names message"},
		{"receipt for another envelope", resign(func(r *envelopev1.Receipt) { r.EnvelopeSha256 = otherSum[:] }, p.kh.signer), "another envelope hash"},
		{"receipt from another receiver", resign(func(r *envelopev1.Receipt) {
			r.Receiver = &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/other"}
		}, p.kh.signer), "receipt names receiver"},
		{"receipt signed by an unknown key of KH's name", resign(func(*envelopev1.Receipt) {}, rogue), "signed by an unknown key"},
		{"receipt signed as an envelope", asEnvelope, "signature does not verify"},
		{"not a receipt", func([]byte) []byte { return []byte("thank you") }, "malformed: signed receipt: proto"},
		{"no receipt", func([]byte) []byte { return nil }, "signed receipt has no receipt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tamper := tc.tamper
			peer.tamper.Store(&tamper)
			eventually(t, 5*time.Second, "status never shows "+tc.says, func() bool {
				p.id.sender.Kick()
				return strings.Contains(p.id.sender.Status(sub.MessageID).LastError, tc.says)
			})
			if k := kindsOf(t, p.id.ledger, sub.MessageID); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED] != 0 {
				t.Fatalf("a bad receipt was ledgered: %v", k)
			}
			if n := p.id.ledger.OutboxLen(); n != 1 {
				t.Fatalf("outbox holds %d, want the undelivered message", n)
			}
		})
	}

	peer.tamper.Store(nil)
	p.id.sender.Kick()
	waitReceipt(t, p.id.ledger, sub.MessageID, 5*time.Second)
	if k := kindsOf(t, p.kh.ledger, sub.MessageID); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != 1 {
		t.Errorf("KH ledger after %d deliveries of one message: %v", peer.calls.Load(), k)
	}
	// The loop forgets a message's failures just after its receipt commits.
	eventually(t, time.Second, "the status of a receipted message keeps its failures", func() bool {
		return p.id.sender.Status(sub.MessageID) == exchange.OutboxStatus{}
	})
}

// An attempt under way when the node stops is finished, and its receipt
// ledgered, before Run returns.
func TestSenderFinishesAttemptInFlightOnStop(t *testing.T) {
	p := newPair(t)
	peer := p.serveTampering(t, p.kh)
	peer.delay.Store(int64(300 * time.Millisecond))
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))

	sub, err := p.id.sender.Submit(t.Context(), alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the peer was never called", func() bool { return peer.calls.Load() > 0 })
	p.id.stopSender()
	if k := kindsOf(t, p.id.ledger, sub.MessageID); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED] != 1 {
		t.Errorf("after Run returned, the ledger holds %v for the message in flight", k)
	}
	if n := p.id.ledger.OutboxLen(); n != 0 {
		t.Errorf("outbox holds %d", n)
	}
}

// A new Sender on the same ledger picks up what the old one left: the outbox
// is the whole state.
func TestSenderResumesFromTheOutbox(t *testing.T) {
	p := newPair(t)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	ids := submitAlerts(t, p.id, 3)
	p.id.stopSender()

	p.serve(t, p.kh)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	for _, id := range ids {
		waitReceipt(t, p.id.ledger, id, 10*time.Second)
	}
}

// Decision 6 and 7: a message accepted while the peer is away is delivered when
// it comes back, however long it was away. The receiver's clock-skew window is
// about clocks, not about how long a message waited in an outbox; a message
// queued through an outage longer than the window must still get its receipt.
//
// This test and the "created an hour ago" case of TestPeerAPIRefusesBadEnvelopes
// cannot both pass: see the report that came with them.
func TestDeliveryAfterAnOutageLongerThanTheClockSkew(t *testing.T) {
	p := newPair(t)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	sub, err := p.id.sender.Submit(t.Context(), alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// The outage lasts twice the window; both clocks are right.
	p.id.clock.Advance(2 * testClockSkew)
	p.kh.clock.Advance(2 * testClockSkew)
	p.serve(t, p.kh)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := p.id.ledger.WaitReceipt(ctx, sub.MessageID); err != nil {
		t.Fatalf("no receipt %s after the peer came back: %v; sender status %+v",
			3*time.Second, err, p.id.sender.Status(sub.MessageID))
	}
}

// A backlog goes to the counterpart in calls of up to the configured batch,
// not one call per message, and every message of it is receipted once.
func TestSenderDeliversABacklogInBatches(t *testing.T) {
	const backlog, batch = 300, 64
	p := newPair(t)
	opts := senderOptions(p.id)
	opts.Batch = batch
	p.runSender(t, p.id, p.kh.addr, opts)
	ids := submitAlerts(t, p.id, backlog)
	p.id.stopSender()

	peer := p.serveTampering(t, p.kh)
	p.runSender(t, p.id, p.kh.addr, opts)
	for _, id := range ids {
		waitReceipt(t, p.id.ledger, id, 20*time.Second)
	}
	calls, largest := peer.calls.Load(), peer.largest.Load()
	if largest > batch {
		t.Errorf("a call carried %d envelopes, more than the batch of %d", largest, batch)
	}
	if fewest := int64((backlog + batch - 1) / batch); calls < fewest || calls > 2*fewest {
		t.Errorf("%d messages took %d calls, want %d to %d", backlog, calls, fewest, 2*fewest)
	}
	for _, id := range ids {
		if k := kindsOf(t, p.kh.ledger, id); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != 1 {
			t.Fatalf("KH ledger holds %v for %s", k, id)
		}
	}
}

// messageIDOf reads the message ID out of an envelope.
func messageIDOf(t *testing.T, raw []byte) string {
	t.Helper()
	var env envelopev1.Envelope
	unmarshal(t, raw, &env)
	var m messagev1.Message
	unmarshal(t, env.GetMessage(), &m)
	return m.GetHeader().GetMessageId()
}

// A message the counterpart cannot take for a passing reason (its disk, say)
// backs off alone: the others of its batch are receipted, the link is not
// marked down, and the message goes through once the reason has passed.
func TestSenderPassingRefusalBacksOffOneMessage(t *testing.T) {
	p := newPair(t)
	peer := p.serveTampering(t, p.kh)
	busy, err := proto.Marshal(status.New(codes.Unavailable, "disk busy").Proto())
	if err != nil {
		t.Fatal(err)
	}
	// The first message the counterpart sees is the one it cannot take.
	var refused atomic.Pointer[string]
	var refusing atomic.Bool
	refusing.Store(true)
	rewrite := func(req *peerv1.DeliverRequest, resp *peerv1.DeliverResponse) {
		for i, raw := range req.GetEnvelopes() {
			id := messageIDOf(t, raw)
			refused.CompareAndSwap(nil, &id)
			if refusing.Load() && *refused.Load() == id {
				resp.Results[i] = &peerv1.DeliverResult{Result: &peerv1.DeliverResult_Refusal{Refusal: busy}}
			}
		}
	}
	peer.rewrite.Store(&rewrite)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))

	ids := submitAlerts(t, p.id, 3)
	eventually(t, 5*time.Second, "nothing was delivered", func() bool { return refused.Load() != nil })
	victim := *refused.Load()
	for _, id := range ids {
		if id != victim {
			waitReceipt(t, p.id.ledger, id, 5*time.Second)
		}
	}
	eventually(t, 5*time.Second, "the refused message's status never shows why", func() bool {
		st := p.id.sender.Status(victim)
		return st.Attempts >= 2 && strings.Contains(st.LastError, "disk busy")
	})
	if k := kindsOf(t, p.id.ledger, victim); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED] != 0 {
		t.Fatalf("a refused message has a receipt ledgered: %v", k)
	}
	if !p.id.sender.PeerUp() {
		t.Error("one message's passing refusal marked the whole link down")
	}
	refusing.Store(false)
	waitReceipt(t, p.id.ledger, victim, 5*time.Second)
	// The counterpart had ledgered it the first time; the retry got that
	// receipt back and added nothing.
	if k := kindsOf(t, p.kh.ledger, victim); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != 1 {
		t.Errorf("KH ledger holds %v for the retried message", k)
	}
}

// An answer that does not hold one result per envelope is not trusted for any
// of them: nothing of the call is ledgered, and the messages go again.
func TestSenderRefusesAnAnswerOfTheWrongLength(t *testing.T) {
	p := newPair(t)
	peer := p.serveTampering(t, p.kh)
	short := func(_ *peerv1.DeliverRequest, resp *peerv1.DeliverResponse) {
		resp.Results = resp.Results[:len(resp.Results)-1]
	}
	peer.rewrite.Store(&short)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	sub, err := p.id.sender.Submit(t.Context(), alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the status never shows the short answer", func() bool {
		return strings.Contains(p.id.sender.Status(sub.MessageID).LastError, "0 answers to 1 envelopes")
	})
	if k := kindsOf(t, p.id.ledger, sub.MessageID); k[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED] != 0 {
		t.Fatalf("a receipt was ledgered from a short answer: %v", k)
	}
	peer.rewrite.Store(nil)
	waitReceipt(t, p.id.ledger, sub.MessageID, 5*time.Second)
}

// A call the counterpart refuses as a whole (as its gRPC server refuses one
// envelope over its size limit, which the sender sends alone) fails only the
// messages it carried: the link is not paused, and the calls after it go.
func TestSenderRefusedCallHoldsUpNothingElse(t *testing.T) {
	p := newPair(t)
	peer := p.serveTampering(t, p.kh)
	var victim atomic.Pointer[string]
	refuse := func(req *peerv1.DeliverRequest) error {
		for _, raw := range req.GetEnvelopes() {
			id := messageIDOf(t, raw)
			victim.CompareAndSwap(nil, &id)
			if *victim.Load() == id {
				return status.Error(codes.ResourceExhausted, "grpc: received message larger than max")
			}
		}
		return nil
	}
	peer.refuse.Store(&refuse)
	opts := senderOptions(p.id)
	opts.Batch = 1
	p.runSender(t, p.id, p.kh.addr, opts)
	ids := submitAlerts(t, p.id, 5)
	eventually(t, 5*time.Second, "nothing was delivered", func() bool { return victim.Load() != nil })
	for _, id := range ids {
		if id != *victim.Load() {
			waitReceipt(t, p.id.ledger, id, 5*time.Second)
		}
	}
	eventually(t, 5*time.Second, "the refused message's status never shows why", func() bool {
		st := p.id.sender.Status(*victim.Load())
		return st.Attempts >= 2 && strings.Contains(st.LastError, "larger than max")
	})
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if !p.id.sender.PeerUp() {
			t.Fatal("a call refused for what it carried marked the link down")
		}
	}
	if n := p.id.ledger.OutboxLen(); n != 1 {
		t.Errorf("outbox holds %d, want the refused message alone", n)
	}
}
