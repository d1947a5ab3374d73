package node_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

func testDraft(nonce string) *focalv1.Draft {
	return &focalv1.Draft{Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: nonce}}}}
}

// One call submits and brings back the counterpart's receipt: the same
// receipt AwaitReceipt returns, and the time the SENT entry records.
func TestSubmitAwaitsReceipt(t *testing.T) {
	f := newFixture(t)
	p := startPair(t, f, func(kh string) string { return kh })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := time.Now()
	resp, err := p.idClient.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{
		Draft: testDraft("await"), AwaitReceipt: durationpb.New(20 * time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.GetReceipt()
	if r == nil {
		t.Fatalf("no receipt within 20 s on a working link: %v", resp)
	}
	if r.GetReceipt().GetMessageId() != resp.GetMessageId() || r.GetLedgerIndex() <= resp.GetLedgerIndex() {
		t.Fatalf("receipt %v does not answer message %s at index %d", r, resp.GetMessageId(), resp.GetLedgerIndex())
	}
	if r.GetReceipt().GetReceiver().GetAgency() != p.khCfg.Agency || r.GetReceipt().GetReceivedAt() == nil {
		t.Fatalf("receipt %v: want the receiver %s and its time", r.GetReceipt(), p.khCfg.Agency)
	}
	sent, _, err := p.id.Ledger().Entry(resp.GetLedgerIndex())
	if err != nil {
		t.Fatal(err)
	}
	at := resp.GetAcceptedAt()
	if at == nil || !proto.Equal(at, sent.GetRecordedAt()) || sent.GetMessageId() != resp.GetMessageId() {
		t.Fatalf("accepted_at %v, want the SENT entry's time %v", at, sent.GetRecordedAt())
	}
	if a := at.AsTime(); a.Before(before.Add(-time.Second)) || a.After(time.Now()) {
		t.Fatalf("accepted_at %v is not between the call and its answer", a)
	}
	again, err := p.idClient.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: resp.GetMessageId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, r) {
		t.Fatalf("SubmitMessage's receipt %v differs from AwaitReceipt's %v", r, again)
	}
	rec, err := p.idClient.GetMessage(ctx, &focalv1.GetMessageRequest{MessageId: resp.GetMessageId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(rec.GetRecord().GetReceipt(), r.GetReceipt()) || rec.GetRecord().GetReceiptStatus() != focalv1.ReceiptStatus_RECEIPT_STATUS_RECEIPTED {
		t.Fatalf("GetMessage shows %v, want the receipt SubmitMessage returned", rec.GetRecord())
	}
}

// With the counterpart out of reach the message is accepted without a
// receipt once the wait is over, and delivered once the link is back. A
// caller whose deadline is shorter than the wait gets the same answer, in
// time, not a deadline error: the officer must not think it failed and send
// it again.
func TestSubmitAwaitWithoutCounterpart(t *testing.T) {
	f := newFixture(t)
	var px *proxy
	p := startPair(t, f, func(kh string) string {
		px = newProxy(t, kh)
		return px.addr()
	})
	px.set("drop")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const wait = 400 * time.Millisecond
	start := time.Now()
	resp, err := p.idClient.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: testDraft("no peer"), AwaitReceipt: durationpb.New(wait)})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("submission with the peer down: %v", err)
	}
	if resp.GetReceipt() != nil || resp.GetAcceptedAt() == nil || resp.GetMessageId() == "" {
		t.Fatalf("want accepted, with accepted_at and without a receipt: %v", resp)
	}
	if took < wait {
		t.Fatalf("answered after %s, before the %s wait was over", took, wait)
	}

	// The caller's deadline, not the wait, ends this one; the longest wait
	// allowed is not refused.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	start = time.Now()
	late, err := p.idClient.SubmitMessage(short, &focalv1.SubmitMessageRequest{Draft: testDraft("short deadline"), AwaitReceipt: durationpb.New(60 * time.Second)})
	took = time.Since(start)
	if err != nil {
		t.Fatalf("a deadline shorter than the wait: %v, want an OK answer", err)
	}
	if late.GetReceipt() != nil || late.GetAcceptedAt() == nil {
		t.Fatalf("want accepted without a receipt: %v", late)
	}
	if took < 500*time.Millisecond || took >= time.Second {
		t.Fatalf("answered after %s: want a wait that ends a little before the 1 s deadline", took)
	}

	ob, err := p.idClient.GetOutbox(ctx, &focalv1.GetOutboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ob.GetPending() != 2 {
		t.Fatalf("outbox: %d pending, want both messages", ob.GetPending())
	}
	px.set("pass")
	for _, id := range []string{resp.GetMessageId(), late.GetMessageId()} {
		if _, err := p.idClient.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: id}); err != nil {
			t.Fatalf("receipt of %s once the link is back: %v", id, err)
		}
	}
}

// A wait the node will not do is refused before anything is signed, with a
// BadRequest naming await_receipt, and nothing is ledgered or queued.
func TestSubmitRefusesBadWait(t *testing.T) {
	f := newFixture(t)
	cfg, n := f.start(t, nil)
	conn, err := node.DialLocal(cfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := focalv1.NewFocalServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := map[string]*durationpb.Duration{
		"over the cap":       durationpb.New(61 * time.Second),
		"far over the cap":   durationpb.New(24 * time.Hour),
		"negative":           durationpb.New(-time.Second),
		"not a duration":     {Seconds: 1, Nanos: -1},
		"nanos out of range": {Nanos: 2e9},
	}
	size, pending := n.Ledger().Size(), n.Ledger().OutboxLen()
	for name, d := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := client.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: testDraft(name), AwaitReceipt: d})
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", st.Code(), err)
			}
			var fields []string
			for _, det := range st.Details() {
				if br, ok := det.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if len(fields) != 1 || fields[0] != "await_receipt" {
				t.Fatalf("field violations %v, want await_receipt alone", fields)
			}
			if s, o := n.Ledger().Size(), n.Ledger().OutboxLen(); s != size || o != pending {
				t.Fatalf("ledger went from %d to %d entries, outbox from %d to %d", size, s, pending, o)
			}
		})
	}
}
