package exchange_test

// Hostile input at the peer API. Each case calls Deliver on Cambodia's node
// directly with crafted bytes or a crafted connection and checks the gRPC code
// the agency's system would see and that Cambodia's ledger did not move.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

// deliver hands one envelope to the peer API and returns its receipt, or the
// call's error, or the envelope's refusal as the status error it carries.
func deliver(t *testing.T, c peerv1.PeerServiceClient, raw []byte) ([]byte, error) {
	t.Helper()
	results, err := deliverAll(t, c, raw)
	if err != nil {
		return nil, err
	}
	return results[0].receipt, results[0].err
}

type result struct {
	receipt []byte
	err     error
}

// deliverAll hands envelopes to the peer API in one call and returns the
// answer to each, or the call's error.
func deliverAll(t *testing.T, c peerv1.PeerServiceClient, raws ...[]byte) ([]result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.Deliver(ctx, &peerv1.DeliverRequest{Envelopes: raws})
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != len(raws) {
		t.Fatalf("%d answers to %d envelopes", len(resp.GetResults()), len(raws))
	}
	out := make([]result, len(raws))
	for i, res := range resp.GetResults() {
		switch r := res.GetResult().(type) {
		case *peerv1.DeliverResult_SignedReceipt:
			out[i].receipt = r.SignedReceipt
		case *peerv1.DeliverResult_Refusal:
			st := &spb.Status{}
			if err := proto.Unmarshal(r.Refusal, st); err != nil {
				t.Fatalf("answer %d: refusal does not parse: %v", i, err)
			}
			out[i].err = status.FromProto(st).Err()
		default:
			t.Fatalf("answer %d is empty", i)
		}
	}
	return out, nil
}

// unchanged fails if the ledger of s moved since before.
func unchanged(t *testing.T, s *side, before uint64) {
	t.Helper()
	if after := s.ledger.Size(); after != before {
		t.Errorf("%s ledger went from %d to %d entries", s.name, before, after)
	}
}

// Connections that are not the counterpart node's are refused at the handshake.
func TestPeerAPIRefusesStrangers(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	now := time.Now()
	valid := seal(t, alertMessage(t, p.id, p.kh), p.id.signer)
	khOnly := x509bundle.NewSet(p.kh.ca.Bundle())

	// The same trust domain name under a CA Cambodia has never seen.
	rogueCA, err := devpki.NewCA(tdID, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rogueSVID, err := rogueCA.IssueSVID(devpki.NodeID(tdID), now.Add(-time.Minute), now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// A genuine SVID of Indonesia's trust domain, but not its node's.
	officer, err := p.id.ca.IssueSVID(devpki.OfficerID(tdID), now.Add(-time.Minute), now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Indonesia's node's own SVID, expired ten minutes ago.
	expired, err := p.id.ca.IssueSVID(devpki.NodeID(tdID), now.Add(-50*time.Minute), now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	as := func(svid identity.Static) credentials.TransportCredentials {
		return identity.ClientCredentials(svid, p.kh.id)
	}
	bundles := x509bundle.NewSet(p.id.ca.Bundle(), p.kh.ca.Bundle())

	for _, tc := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"no client certificate", grpccredentials.TLSClientCredentials(khOnly, tlsconfig.AuthorizeID(p.kh.id))},
		{"certificate from an unknown CA of the same trust domain", as(identity.Static{
			SVID: rogueSVID, Bundles: x509bundle.NewSet(rogueCA.Bundle(), p.kh.ca.Bundle()),
		})},
		{"right trust domain, wrong SPIFFE ID", as(identity.Static{SVID: officer, Bundles: bundles})},
		{"expired SVID", as(identity.Static{SVID: expired, Bundles: bundles})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.kh.ledger.Size()
			c := peerv1.NewPeerServiceClient(dial(t, p.kh.addr, tc.creds))
			_, err := deliver(t, c, valid)
			wantCode(t, err, codes.Unavailable, "")
			unchanged(t, p.kh, before)
		})
	}

	// The control: the real node with the same bytes gets through.
	if _, err := deliver(t, p.peerClient(t, p.id, p.kh), valid); err != nil {
		t.Fatalf("the counterpart node itself is refused: %v", err)
	}
}

// Envelopes from the counterpart node that must not be ledgered.
func TestPeerAPIRefusesBadEnvelopes(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	c := p.peerClient(t, p.id, p.kh)
	from, to := p.id, p.kh

	withHeader := func(edit func(h *messagev1.Header)) []byte {
		m := alertMessage(t, from, to)
		edit(m.Header)
		return seal(t, m, from.signer)
	}
	otherKey := func(name string) []byte {
		skey, _, err := keys.Generate(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := keys.ParseSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		return seal(t, alertMessage(t, from, to), s)
	}

	for _, tc := range []struct {
		name  string
		raw   func() []byte
		code  codes.Code
		field string // a BadRequest field violation that must be named
		// contains is a part of the status message, where the code alone
		// would not show why the bytes were refused.
		contains string
	}{
		{
			name: "signed by an unknown key of the counterpart's key name",
			raw:  func() []byte { return otherKey(devpki.MessagesKeyName(tdID)) },
			code: codes.Unauthenticated,
		},
		{
			name: "signed by an unknown key of another name",
			raw:  func() []byte { return otherKey("example.org/focalpoint/messages") },
			code: codes.Unauthenticated,
		},
		{
			name: "signature over other bytes",
			raw: func() []byte {
				var signed envelopev1.Envelope
				unmarshal(t, seal(t, alertMessage(t, from, to), from.signer), &signed)
				signed.Message = marshal(t, alertMessage(t, from, to))
				return marshal(t, &signed)
			},
			code: codes.Unauthenticated,
		},
		{
			name: "no signature",
			raw: func() []byte {
				return marshal(t, &envelopev1.Envelope{Message: marshal(t, alertMessage(t, from, to))})
			},
			code:  codes.InvalidArgument,
			field: "envelope",
		},
		{
			name: "signed sender is another workload of the counterpart's trust domain",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) {
					h.Sender = &messagev1.Party{Agency: from.party.GetAgency(), SpiffeId: devpki.OfficerID(tdID).String()}
				})
			},
			code: codes.PermissionDenied,
		},
		{
			name: "signed sender names another agency",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) {
					h.Sender = &messagev1.Party{Agency: "ID-BIN", SpiffeId: from.id.String()}
				})
			},
			code: codes.PermissionDenied,
		},
		{
			name: "recipient is another node",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) {
					h.Recipient = &messagev1.Party{Agency: to.party.GetAgency(), SpiffeId: "spiffe://immigration.gov.kh/focalpoint/other"}
				})
			},
			code:  codes.InvalidArgument,
			field: "header.recipient",
		},
		{
			name: "recipient is another agency",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) {
					h.Recipient = &messagev1.Party{Agency: "TH-IMM", SpiffeId: to.id.String()}
				})
			},
			code:  codes.InvalidArgument,
			field: "header.recipient",
		},
		{
			// Older than the maximum message age. An hour ago is fine: a
			// message queued through an outage looks just like that.
			name: "created longer ago than the maximum message age",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) {
					h.CreatedAt = timestamppb.New(to.clock.Now().Add(-testMaxMessageAge - time.Hour))
				})
			},
			code:  codes.InvalidArgument,
			field: "header.created_at",
		},
		{
			name: "created an hour from now",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) {
					h.CreatedAt = timestamppb.New(to.clock.Now().Add(time.Hour))
				})
			},
			code:  codes.InvalidArgument,
			field: "header.created_at",
		},
		{
			name: "schema version 2",
			raw: func() []byte {
				return withHeader(func(h *messagev1.Header) { h.SchemaVersion = 2 })
			},
			code:  codes.InvalidArgument,
			field: "header.schema_version",
		},
		{
			name: "no payload",
			raw: func() []byte {
				m := alertMessage(t, from, to)
				m.Payload = nil
				return seal(t, m, from.signer)
			},
			code:  codes.InvalidArgument,
			field: "payload",
		},
		{
			name: "payload with no kind",
			raw: func() []byte {
				m := alertMessage(t, from, to)
				m.Payload = &messagev1.Payload{}
				return seal(t, m, from.signer)
			},
			code:  codes.InvalidArgument,
			field: "payload",
		},
		{
			name:  "empty envelope",
			raw:   func() []byte { return nil },
			code:  codes.InvalidArgument,
			field: "envelope",
		},
		{
			name: "envelope with an empty message",
			raw: func() []byte {
				return sealBytes(t, nil, from.signer)
			},
			code:  codes.InvalidArgument,
			field: "envelope",
		},
		{
			name: "over the receiver's limit, under gRPC's",
			raw: func() []byte {
				raw := padded(t, seal(t, alertMessage(t, from, to), from.signer), testMaxEnvelope+1)
				if len(raw)+16 <= testMaxEnvelope+1 {
					t.Fatal("the padded envelope is not over the limit")
				}
				return raw
			},
			code: codes.ResourceExhausted,
		},
		{
			name: "over gRPC's limit",
			raw: func() []byte {
				return padded(t, seal(t, alertMessage(t, from, to), from.signer), exchange.MaxDeliverRequestBytes(testMaxEnvelope)+1024)
			},
			code: codes.ResourceExhausted,
		},
		{
			name:  "not protobuf",
			raw:   func() []byte { return []byte("this is not an envelope \xff\xff\xff") },
			code:  codes.InvalidArgument,
			field: "envelope",
		},
		{
			name: "truncated envelope",
			raw: func() []byte {
				raw := seal(t, alertMessage(t, from, to), from.signer)
				return raw[:len(raw)/2]
			},
			code:  codes.InvalidArgument,
			field: "envelope",
		},
		{
			name: "signed message that is not protobuf",
			raw: func() []byte {
				return sealBytes(t, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, from.signer)
			},
			code:  codes.InvalidArgument,
			field: "envelope",
		},
		{
			name: "invalid UTF-8 in a string field, correctly signed",
			raw: func() []byte {
				// payload(2) { alert(1) { subject(1) { family_name(2): "\xff\xfe" } } },
				// appended to a valid message: protobuf merges it into the
				// subject, and proto.Marshal could never have made it.
				extra := field(2, field(1, field(1, field(2, []byte("\xff\xfeCONTOH")))))
				msg := append(marshal(t, alertMessage(t, from, to)), extra...)
				return sealBytes(t, msg, from.signer)
			},
			code:     codes.InvalidArgument,
			field:    "envelope",
			contains: "UTF-8",
		},
		{
			name: "10,000 aliases, under the size limit",
			raw: func() []byte {
				m := alertMessage(t, from, to)
				aliases := make([]string, 10_000)
				for i := range aliases {
					aliases[i] = "A"
				}
				m.GetPayload().GetAlert().GetSubject().Aliases = aliases
				raw := seal(t, m, from.signer)
				if len(raw) > testMaxEnvelope {
					t.Fatalf("the envelope is %d bytes, over the limit", len(raw))
				}
				return raw
			},
			code:  codes.InvalidArgument,
			field: "payload.alert.subject.aliases",
		},
		{
			name: "outcome answering no message",
			raw: func() []byte {
				id := newID(t)
				return seal(t, outcomeMessage(t, from, to, id, id), from.signer)
			},
			code:  codes.InvalidArgument,
			field: "header.in_reply_to",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw()
			before := p.kh.ledger.Size()
			resp, err := deliver(t, c, raw)
			if err == nil {
				t.Fatalf("accepted, receipt of %d bytes", len(resp))
			}
			wantCode(t, err, tc.code, tc.field)
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("status %q does not say %q", truncate(err), tc.contains)
			}
			unchanged(t, p.kh, before)
		})
	}
}

// padded adds an unknown field to a sealed envelope until it is at most size
// bytes long, as close to size as the length prefix allows: the signature
// still verifies, so only the size can be refused.
func padded(t *testing.T, raw []byte, size int) []byte {
	t.Helper()
	for n := size - len(raw); n >= 0; n-- {
		out := protowire.AppendBytes(protowire.AppendTag(bytes.Clone(raw), 15, protowire.BytesType), make([]byte, n))
		if len(out) <= size {
			return out
		}
	}
	t.Fatalf("cannot pad %d bytes to %d", len(raw), size)
	return nil
}

// field is one length-delimited protobuf field, written by hand.
func field(num protowire.Number, value []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), value)
}

// Delivering the same bytes again is answered with the original receipt, byte
// for byte, and writes nothing; other bytes under the same ID are refused.
func TestPeerAPIReplayAndConflict(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	c := p.peerClient(t, p.id, p.kh)

	m := alertMessage(t, p.id, p.kh)
	raw := seal(t, m, p.id.signer)
	first, err := deliver(t, c, raw)
	if err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	after := p.kh.ledger.Size()

	again, err := deliver(t, c, raw)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !bytes.Equal(again, first) {
		t.Error("the replay's receipt differs from the original")
	}
	unchanged(t, p.kh, after)

	// A hand-sealed copy of the same message is the same bytes too.
	if replay, err := deliver(t, c, sealBytes(t, marshal(t, m), p.id.signer)); err != nil || !bytes.Equal(replay, first) {
		t.Errorf("hand-sealed replay: %v", err)
	}

	other := alertMessage(t, p.id, p.kh)
	other.Header.MessageId = m.GetHeader().GetMessageId()
	other.Header.ThreadId = m.GetHeader().GetThreadId()
	other.GetPayload().GetAlert().Indicators = []string{"Something else entirely"}
	_, err = deliver(t, c, seal(t, other, p.id.signer))
	wantCode(t, err, codes.AlreadyExists, "")
	unchanged(t, p.kh, after)
}

// A receipt lost on the way back is asked for again by the sender's retry, with
// the same bytes. If the retry comes after the clock-skew window has passed
// (the link was down, the sender was stopped), the receiver must still answer
// with the original receipt: it already holds the message, so nothing about
// the message's age matters any more. Otherwise the message stays in the
// sender's outbox for ever while the receiver has it.
func TestPeerAPIReplayAfterClockSkewWindow(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	c := p.peerClient(t, p.id, p.kh)

	raw := seal(t, alertMessage(t, p.id, p.kh), p.id.signer)
	first, err := deliver(t, c, raw)
	if err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	after := p.kh.ledger.Size()

	p.kh.clock.Advance(2 * testClockSkew)
	again, err := deliver(t, c, raw)
	if err != nil {
		t.Fatalf("replay %s after the first delivery: %v", 2*testClockSkew, err)
	}
	if !bytes.Equal(again, first) {
		t.Error("the replay's receipt differs from the original")
	}
	unchanged(t, p.kh, after)
}

// An outcome must answer an alert the receiving node sent, in that alert's
// thread; one answering an alert the receiver itself received is refused.
func TestPeerAPIOutcomeMustAnswerAnAlertTheReceiverSent(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	p.serve(t, p.id)
	toKH := p.peerClient(t, p.id, p.kh)
	toID := p.peerClient(t, p.kh, p.id)

	// ID alerts KH; KH holds it as RECEIVED.
	alert := alertMessage(t, p.id, p.kh)
	if _, err := deliver(t, toKH, seal(t, alert, p.id.signer)); err != nil {
		t.Fatal(err)
	}
	alertID, thread := alert.GetHeader().GetMessageId(), alert.GetHeader().GetThreadId()

	t.Run("answering an alert the receiver received", func(t *testing.T) {
		before := p.kh.ledger.Size()
		_, err := deliver(t, toKH, seal(t, outcomeMessage(t, p.id, p.kh, alertID, thread), p.id.signer))
		wantCode(t, err, codes.InvalidArgument, "header.in_reply_to")
		unchanged(t, p.kh, before)
	})

	// ID holds no SENT entry for it (the test delivered it by hand), so give
	// ID a real sent alert through its Sender and answer that one.
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	sub, err := p.id.sender.Submit(t.Context(), alertDraft(p.id.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	waitReceipt(t, p.id.ledger, sub.MessageID, 10*time.Second)

	t.Run("in another thread", func(t *testing.T) {
		before := p.id.ledger.Size()
		_, err := deliver(t, toID, seal(t, outcomeMessage(t, p.kh, p.id, sub.MessageID, newID(t)), p.kh.signer))
		wantCode(t, err, codes.InvalidArgument, "header.thread_id")
		unchanged(t, p.id, before)
	})
	t.Run("in the alert's thread", func(t *testing.T) {
		before := p.id.ledger.Size()
		if _, err := deliver(t, toID, seal(t, outcomeMessage(t, p.kh, p.id, sub.MessageID, sub.ThreadID), p.kh.signer)); err != nil {
			t.Fatalf("a proper outcome is refused: %v", err)
		}
		if got := p.id.ledger.Size(); got != before+2 {
			t.Errorf("ID ledger grew by %d entries, want 2", got-before)
		}
	})
}

// A refusal is as big as what is wrong, not as big as what was sent. 10,000
// empty aliases in a 20 KB envelope must not come back as a megabyte of
// status message and field violations (nor be logged as one): gRPC
// implementations commonly cap response metadata at 8 KiB, so a client
// would see a transport error instead of INVALID_ARGUMENT, and every such
// delivery costs the receiver a megabyte-long log line.
func TestPeerAPIRefusalIsBounded(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	c := p.peerClient(t, p.id, p.kh)

	m := alertMessage(t, p.id, p.kh)
	m.GetPayload().GetAlert().GetSubject().Aliases = make([]string, 10_000)
	raw := seal(t, m, p.id.signer)
	before := p.kh.ledger.Size()
	_, err := deliver(t, c, raw)
	wantCode(t, err, codes.InvalidArgument, "payload.alert.subject.aliases")
	unchanged(t, p.kh, before)

	st, _ := status.FromError(err)
	size := len(st.Message())
	for _, d := range st.Proto().GetDetails() {
		size += len(d.GetValue())
	}
	const limit = 8 << 10
	if size > limit {
		t.Errorf("a %d-byte envelope is refused with %d bytes of status (%d field violations); want at most %d",
			len(raw), size, len(badRequestFields(err)), limit)
	}
}

// Envelopes delivered together are judged one by one: the good are ledgered
// and receipted, each bad one gets its own refusal, and a bad one spoils
// nothing for the others.
func TestPeerAPIJudgesEachEnvelopeOfABatch(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	c := p.peerClient(t, p.id, p.kh)
	from, to := p.id, p.kh

	good := alertMessage(t, from, to)
	goodRaw := seal(t, good, from.signer)
	flipped := bytes.Clone(goodRaw)
	flipped[len(flipped)/2] ^= 0x01
	conflicting := alertMessage(t, from, to)
	conflicting.Header.MessageId = good.GetHeader().GetMessageId()
	conflicting.Header.ThreadId = good.GetHeader().GetThreadId()
	conflicting.GetPayload().GetAlert().Indicators = []string{"Something else entirely"}
	rogueKey, _, err := keys.Generate(devpki.MessagesKeyName(tdID))
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := keys.ParseSigner(rogueKey)
	if err != nil {
		t.Fatal(err)
	}
	second := seal(t, alertMessage(t, from, to), from.signer)

	before := to.ledger.Size()
	results, err := deliverAll(t, c,
		goodRaw,
		flipped,
		goodRaw, // the same bytes twice in one call
		seal(t, conflicting, from.signer),
		seal(t, alertMessage(t, from, to), rogue),
		second,
	)
	if err != nil {
		t.Fatalf("the call failed as a whole: %v", err)
	}
	// The envelopes of a call are judged concurrently, so of two different
	// envelopes under one message ID either may come first; exactly one of
	// them is taken, and the other is a conflict.
	want := []codes.Code{codes.OK, codes.Unauthenticated, codes.OK, codes.AlreadyExists, codes.Unauthenticated, codes.OK}
	if status.Code(results[3].err) == codes.OK {
		want[0], want[2], want[3] = codes.AlreadyExists, codes.AlreadyExists, codes.OK
	}
	for i, want := range want {
		if got := status.Code(results[i].err); got != want {
			t.Errorf("envelope %d: %v (%v), want %v", i, got, results[i].err, want)
		}
		if (want == codes.OK) != (results[i].receipt != nil) {
			t.Errorf("envelope %d: receipt of %d bytes with code %v", i, len(results[i].receipt), want)
		}
	}
	if !bytes.Equal(results[0].receipt, results[2].receipt) {
		t.Error("the same bytes twice in one call got different answers")
	}
	// Two messages, each a RECEIVED and a RECEIPT_ISSUED entry.
	if after := to.ledger.Size(); after != before+4 {
		t.Errorf("ledger went from %d to %d entries, want %d", before, after, before+4)
	}
	for _, raw := range [][]byte{goodRaw, second} { // the conflicting one has goodRaw's ID
		var env envelopev1.Envelope
		unmarshal(t, raw, &env)
		var m messagev1.Message
		unmarshal(t, env.GetMessage(), &m)
		k := kindsOf(t, to.ledger, m.GetHeader().GetMessageId())
		if k[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != 1 || k[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED] != 1 {
			t.Errorf("message %s: entries %v, want one RECEIVED and one RECEIPT_ISSUED", m.GetHeader().GetMessageId(), k)
		}
	}
}

// A call that breaks the batch limits is refused whole, and nothing of it is
// ledgered.
func TestPeerAPIRefusesBadBatches(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.kh)
	c := p.peerClient(t, p.id, p.kh)
	valid := seal(t, alertMessage(t, p.id, p.kh), p.id.signer)
	tooMany := make([][]byte, exchange.MaxDeliverBatch+1)
	for i := range tooMany {
		tooMany[i] = valid
	}
	for _, tc := range []struct {
		name      string
		envelopes [][]byte
		says      string
	}{
		{"no envelopes", nil, "required"},
		{"one too many", tooMany, "at most 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.kh.ledger.Size()
			_, err := deliverAll(t, c, tc.envelopes...)
			wantCode(t, err, codes.InvalidArgument, "envelopes")
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("status %q does not say %q", truncate(err), tc.says)
			}
			unchanged(t, p.kh, before)
		})
	}
}
