package exchange_test

// The harness builds both halves of a real link in one process: for each
// agency a development CA, an X.509-SVID for its node, a message-signing key, a
// bbolt ledger in t.TempDir(), a gRPC peer server behind mutual TLS with the
// rpcerr interceptor the node installs, and a Sender dialling the counterpart.
// Nothing is faked: the only liberties are short backoffs and a clock each test
// may move.
//
// The tests live in package exchange_test because rpcerr imports exchange.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	"github.com/focalpoint-gateway/focalpoint/pkg/exchange"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	peerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
	"github.com/focalpoint-gateway/focalpoint/pkg/rpcerr"
)

const (
	// testMaxEnvelope is the receivers' MaxEnvelopeBytes; the gRPC server allows
	// 16 bytes more, room for the DeliverRequest framing around the envelope.
	testMaxEnvelope   = 64 << 10
	testClockSkew     = 5 * time.Minute
	testMaxMessageAge = 7 * 24 * time.Hour
	// envelopeContext is the signature domain of a message envelope, as
	// package envelope writes it; repeated here to sign bytes by hand.
	envelopeContext = "focalpoint/envelope/v1"
)

var (
	tdID = spiffeid.RequireTrustDomainFromString("imigrasi.go.id")
	tdKH = spiffeid.RequireTrustDomainFromString("immigration.gov.kh")
)

// clock is time.Now moved by an offset a test may change.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// side is one agency's node, as far as the exchange goes.
type side struct {
	name   string
	td     spiffeid.TrustDomain
	id     spiffeid.ID
	party  *messagev1.Party
	ca     *devpki.CA
	src    identity.Static
	signer *keys.Signer
	clock  *clock
	ledger *ledger.Ledger
	link   exchange.Link

	// addr is the peer API's address, reserved from the start even while no
	// server listens on it, so the counterpart can dial it before it is up.
	addr     string
	srv      *grpc.Server
	receiver *exchange.Receiver

	sender *exchange.Sender
	conn   *grpc.ClientConn
	// stopSender cancels Run and waits for it; safe to call more than once.
	stopSender func()
}

// pair is the two nodes of one link.
type pair struct {
	id, kh *side
}

func newSide(t *testing.T, name string, td spiffeid.TrustDomain, agency string) *side {
	t.Helper()
	now := time.Now()
	ca, err := devpki.NewCA(td, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id := devpki.NodeID(td)
	svid, err := ca.IssueSVID(id, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := keys.Generate(devpki.MessagesKeyName(td))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keys.ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &side{
		name:   name,
		td:     td,
		id:     id,
		party:  &messagev1.Party{Agency: agency, SpiffeId: id.String()},
		ca:     ca,
		src:    identity.Static{SVID: svid},
		signer: signer,
		clock:  &clock{},
	}
}

// newPair makes both nodes with their ledgers and reserved peer-API addresses.
// Nothing listens and nothing delivers until serve and runSender are called.
func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{
		id: newSide(t, "ID", tdID, "ID-DJI"),
		kh: newSide(t, "KH", tdKH, "KH-GDI"),
	}
	bundles := x509bundle.NewSet(p.id.ca.Bundle(), p.kh.ca.Bundle())
	for _, s := range []*side{p.id, p.kh} {
		other := p.other(s)
		s.src.Bundles = bundles
		s.link = exchange.Link{
			Self:        s.party,
			SelfID:      s.id,
			Counterpart: other.party,
			PeerID:      other.id,
			SelfSigner:  s.signer,
			PeerKeys:    note.VerifierList(other.signer.Verifier()),
		}
		s.ledger = openLedger(t, s, other)
		s.addr = reserveAddr(t)
	}
	return p
}

func (p *pair) other(s *side) *side {
	if s == p.id {
		return p.kh
	}
	return p.id
}

// startLink serves both peer APIs and runs both senders with default options.
func startLink(t *testing.T) *pair {
	t.Helper()
	p := newPair(t)
	p.serve(t, p.id)
	p.serve(t, p.kh)
	p.runSender(t, p.id, p.kh.addr, senderOptions(p.id))
	p.runSender(t, p.kh, p.id.addr, senderOptions(p.kh))
	return p
}

func openLedger(t *testing.T, s, other *side) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(t.TempDir()+"/ledger.db", ledger.Options{Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the integrity check registered after
	// Close runs before it, and everything registered later (servers, senders)
	// has stopped by then.
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("%s ledger: close: %v", s.name, err)
		}
	})
	t.Cleanup(func() { checkLedger(t, s, other) })
	err = l.Init(context.Background(), &ledgerv1.Config{
		LedgerName:             s.td.Name() + "/focalpoint/ledger",
		Self:                   s.party,
		Counterpart:            other.party,
		SelfMessagesKey:        s.signer.VerifierKey(),
		CounterpartMessagesKey: other.signer.VerifierKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// reserveAddr picks a free loopback port. Nothing listens on it until serve.
func reserveAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func receiverOptions(s *side) exchange.ReceiverOptions {
	return exchange.ReceiverOptions{
		MaxEnvelopeBytes: testMaxEnvelope,
		ClockSkew:        testClockSkew,
		MaxMessageAge:    testMaxMessageAge,
		Now:              s.clock.Now,
		Logger:           discardLogger(),
		Status:           rpcerr.Status,
	}
}

func senderOptions(s *side) exchange.SenderOptions {
	return exchange.SenderOptions{
		Workers:        4,
		InitialBackoff: 20 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		AttemptTimeout: 2 * time.Second,
		OutboxLimit:    1000,
		Now:            s.clock.Now,
		Logger:         discardLogger(),
	}
}

// serve starts s's peer API on s.addr, as the node does.
func (p *pair) serve(t *testing.T, s *side) {
	t.Helper()
	p.serveWith(t, s, receiverOptions(s), nil)
}

// serveWith starts s's peer API with opts; wrap, if not nil, stands between
// gRPC and the real Receiver, to make a peer misbehave.
func (p *pair) serveWith(t *testing.T, s *side, opts exchange.ReceiverOptions, wrap func(*exchange.Receiver) peerv1.PeerServiceServer) {
	t.Helper()
	var lis net.Listener
	var err error
	// The port was released when it was reserved; another process may hold it
	// for a moment (TIME_WAIT does not block a listener, a live one does).
	for deadline := time.Now().Add(2 * time.Second); ; {
		lis, err = net.Listen("tcp", s.addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: listen on the reserved address %s: %v", s.name, s.addr, err)
	}
	s.receiver = exchange.NewReceiver(s.link, s.ledger, opts)
	s.srv = grpc.NewServer(
		grpc.Creds(identity.ServerCredentials(s.src, p.other(s).id)),
		grpc.MaxRecvMsgSize(exchange.MaxDeliverRequestBytes(opts.MaxEnvelopeBytes)),
		grpc.ChainUnaryInterceptor(rpcerr.UnaryServerInterceptor(discardLogger())),
	)
	var impl peerv1.PeerServiceServer = s.receiver
	if wrap != nil {
		impl = wrap(s.receiver)
	}
	peerv1.RegisterPeerServiceServer(s.srv, impl)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.srv.Serve(lis)
	}()
	t.Cleanup(func() {
		s.srv.Stop()
		<-served
	})
}

// dial connects to target the way a sender does, with quick reconnects.
func dial(t *testing.T, target string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(creds),
		// gRPC's own reconnect backoff starts at 1 s and grows to 2 min; a test
		// that brings a peer up must not wait for it.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// runSender starts s's Sender delivering to peerAddr; t.Cleanup stops it.
func (p *pair) runSender(t *testing.T, s *side, peerAddr string, opts exchange.SenderOptions) {
	t.Helper()
	s.conn = dial(t, peerAddr, identity.ClientCredentials(s.src, p.other(s).id))
	s.sender = exchange.NewSender(s.link, s.ledger, s.conn, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.sender.Run(ctx) }()
	var once sync.Once
	s.stopSender = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s sender: Run: %v", s.name, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s sender: Run did not return 10 s after its context ended", s.name)
			}
		})
	}
	t.Cleanup(s.stopSender)
}

// peerClient is a client of to's peer API speaking as from's node.
func (p *pair) peerClient(t *testing.T, from, to *side) peerv1.PeerServiceClient {
	t.Helper()
	return peerv1.NewPeerServiceClient(dial(t, to.addr, identity.ClientCredentials(from.src, to.id)))
}

func unmarshal(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
}

// Drafts and messages.

func alertDraft(now time.Time) *focalv1.Draft {
	return &focalv1.Draft{
		Handling: message.ExampleHandling(),
		Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(now)}},
	}
}

func outcomeDraft(now time.Time, inReplyTo string) *focalv1.Draft {
	return &focalv1.Draft{
		InReplyTo: inReplyTo,
		Handling:  message.ExampleHandling(),
		Payload:   &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: message.ExampleOutcome(now)}},
	}
}

// alertMessage is a valid alert from one node to the other, made as the
// sender's node would make it, stamped by the recipient's clock.
func alertMessage(t *testing.T, from, to *side) *messagev1.Message {
	t.Helper()
	now := to.clock.Now()
	id := newID(t)
	m := &messagev1.Message{
		Header: &messagev1.Header{
			MessageId:     id,
			Sender:        from.party,
			Recipient:     to.party,
			CreatedAt:     timestamppb.New(now),
			ThreadId:      id,
			Handling:      message.ExampleHandling(),
			SchemaVersion: message.SchemaVersion,
		},
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(now)}},
	}
	if err := message.Validate(m, now); err != nil {
		t.Fatalf("the harness's alert is invalid: %v", err)
	}
	return m
}

// outcomeMessage answers the alert alertID in thread.
func outcomeMessage(t *testing.T, from, to *side, alertID, thread string) *messagev1.Message {
	t.Helper()
	now := to.clock.Now()
	m := &messagev1.Message{
		Header: &messagev1.Header{
			MessageId:     newID(t),
			Sender:        from.party,
			Recipient:     to.party,
			CreatedAt:     timestamppb.New(now),
			ThreadId:      thread,
			InReplyTo:     alertID,
			Handling:      message.ExampleHandling(),
			SchemaVersion: message.SchemaVersion,
		},
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: message.ExampleOutcome(now)}},
	}
	if err := message.Validate(m, now); err != nil {
		t.Fatalf("the harness's outcome is invalid: %v", err)
	}
	return m
}

func seal(t *testing.T, m *messagev1.Message, s note.Signer) []byte {
	t.Helper()
	raw, err := envelope.Seal(m, s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sealBytes signs msg, whatever it holds, the way envelope.Seal signs a
// serialized message, and wraps it in an Envelope. It lets a test sign bytes
// that proto.Marshal would refuse to make.
func sealBytes(t *testing.T, msg []byte, s note.Signer) []byte {
	t.Helper()
	signed := append(append([]byte(envelopeContext), 0), msg...)
	sig, err := s.Sign(signed)
	if err != nil {
		t.Fatal(err)
	}
	return marshal(t, &envelopev1.Envelope{
		Message:   msg,
		Signature: &envelopev1.Signature{KeyName: s.Name(), KeyHash: s.KeyHash(), Signature: sig},
	})
}

// Ledger inspection.

// kindsOf counts a message's entries by kind.
func kindsOf(t *testing.T, l *ledger.Ledger, id string) map[ledgerv1.EntryKind]int {
	t.Helper()
	entries, err := l.MessageEntries(id)
	if errors.Is(err, ledger.ErrNotFound) {
		return map[ledgerv1.EntryKind]int{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[ledgerv1.EntryKind]int{}
	for _, e := range entries {
		out[e.GetKind()]++
	}
	return out
}

// census counts every message entry in a ledger by kind and message ID.
func census(t *testing.T, l *ledger.Ledger) map[ledgerv1.EntryKind]map[string]int {
	t.Helper()
	out := map[ledgerv1.EntryKind]map[string]int{}
	err := l.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		if e.GetMessageId() == "" {
			return nil
		}
		if out[e.GetKind()] == nil {
			out[e.GetKind()] = map[string]int{}
		}
		out[e.GetKind()][e.GetMessageId()]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitReceipt(t *testing.T, l *ledger.Ledger, id string, within time.Duration) *ledgerv1.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	e, err := l.WaitReceipt(ctx, id)
	if err != nil {
		t.Fatalf("receipt for %s: %v", id, err)
	}
	return e
}

// eventually polls cond every 10 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkLedger is the integrity check every test ends with: every entry parses
// in sequence, every blob an entry names is there and hashes to its name, every
// envelope and receipt verifies with the key of the node that signed it, each
// message has at most one entry of each kind, receipts point at the right
// entries, and the outbox holds exactly the sent messages without a receipt.
func checkLedger(t *testing.T, s, other *side) {
	t.Helper()
	l := s.ledger
	self := note.VerifierList(s.signer.Verifier())
	peer := note.VerifierList(other.signer.Verifier())
	blob := func(e *ledgerv1.Entry, read func(*ledgerv1.Entry) ([]byte, error), sum []byte) []byte {
		b, err := read(e)
		if err != nil {
			t.Errorf("%s ledger: entry %d: %v", s.name, e.GetIndex(), err)
			return nil
		}
		if got := sha256.Sum256(b); !bytes.Equal(got[:], sum) {
			t.Errorf("%s ledger: entry %d: blob %x hashes to %x", s.name, e.GetIndex(), sum, got)
		}
		return b
	}
	openEnv := func(e *ledgerv1.Entry, keys note.Verifiers) {
		b := blob(e, l.Envelope, e.GetEnvelopeSha256())
		if b == nil {
			return
		}
		o, err := envelope.Open(b, keys)
		if err != nil {
			t.Errorf("%s ledger: entry %d: envelope: %v", s.name, e.GetIndex(), err)
			return
		}
		if o.Message.GetHeader().GetMessageId() != e.GetMessageId() {
			t.Errorf("%s ledger: entry %d names %s, its envelope %s", s.name, e.GetIndex(), e.GetMessageId(), o.Message.GetHeader().GetMessageId())
		}
	}
	openReceipt := func(e *ledgerv1.Entry, keys note.Verifiers) {
		b := blob(e, l.Receipt, e.GetReceiptSha256())
		if b == nil {
			return
		}
		r, _, err := envelope.OpenReceipt(b, keys)
		if err != nil {
			t.Errorf("%s ledger: entry %d: receipt: %v", s.name, e.GetIndex(), err)
			return
		}
		if r.GetMessageId() != e.GetMessageId() || !bytes.Equal(r.GetEnvelopeSha256(), e.GetEnvelopeSha256()) {
			t.Errorf("%s ledger: entry %d: receipt names %s %x", s.name, e.GetIndex(), r.GetMessageId(), r.GetEnvelopeSha256())
		}
	}
	seen := map[string]map[ledgerv1.EntryKind]*ledgerv1.Entry{}
	var n uint64
	err := l.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		n++
		id := e.GetMessageId()
		if id == "" {
			return nil
		}
		if seen[id] == nil {
			seen[id] = map[ledgerv1.EntryKind]*ledgerv1.Entry{}
		}
		if prior := seen[id][e.GetKind()]; prior != nil {
			t.Errorf("%s ledger: message %s has two %s entries (%d and %d)", s.name, id, e.GetKind(), prior.GetIndex(), e.GetIndex())
		}
		seen[id][e.GetKind()] = e
		switch e.GetKind() {
		case ledgerv1.EntryKind_ENTRY_KIND_SENT:
			openEnv(e, self)
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
			openEnv(e, peer)
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED:
			if r := seen[id][ledgerv1.EntryKind_ENTRY_KIND_RECEIVED]; r == nil || r.GetIndex() != e.GetRefersToIndex() {
				t.Errorf("%s ledger: RECEIPT_ISSUED %d refers to %d, not to the message's RECEIVED entry", s.name, e.GetIndex(), e.GetRefersToIndex())
			}
			openReceipt(e, self)
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
			if r := seen[id][ledgerv1.EntryKind_ENTRY_KIND_SENT]; r == nil || r.GetIndex() != e.GetRefersToIndex() {
				t.Errorf("%s ledger: RECEIPT_RECEIVED %d refers to %d, not to the message's SENT entry", s.name, e.GetIndex(), e.GetRefersToIndex())
			}
			openReceipt(e, peer)
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s ledger: scan: %v", s.name, err)
	}
	if n != l.Size() {
		t.Errorf("%s ledger: scanned %d entries, Size says %d", s.name, n, l.Size())
	}
	for id, kinds := range seen {
		if kinds[ledgerv1.EntryKind_ENTRY_KIND_RECEIVED] != nil && kinds[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED] == nil {
			t.Errorf("%s ledger: message %s RECEIVED without RECEIPT_ISSUED", s.name, id)
		}
	}
	rows, err := l.Outbox(0, 1<<20)
	if err != nil {
		t.Errorf("%s ledger: outbox: %v", s.name, err)
	}
	if len(rows) != l.OutboxLen() {
		t.Errorf("%s ledger: outbox holds %d rows, OutboxLen says %d", s.name, len(rows), l.OutboxLen())
	}
	waiting := 0
	for _, kinds := range seen {
		if kinds[ledgerv1.EntryKind_ENTRY_KIND_SENT] != nil && kinds[ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED] == nil {
			waiting++
		}
	}
	if waiting != len(rows) {
		t.Errorf("%s ledger: %d sent messages lack a receipt, the outbox holds %d", s.name, waiting, len(rows))
	}
}

// Status assertions.

// badRequestFields returns the fields of err's google.rpc.BadRequest detail.
func badRequestFields(err error) []string {
	st, _ := status.FromError(err)
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

func hasField(fields []string, want string) bool {
	for _, f := range fields {
		if f == want {
			return true
		}
	}
	return false
}

// wantCode fails unless err is a gRPC status with code want and, if field is
// not empty, a BadRequest field violation naming field.
func wantCode(t *testing.T, err error, want codes.Code, field string) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code %s, want %s (err: %v)", got, want, truncate(err))
	}
	if field != "" {
		if fields := badRequestFields(err); !hasField(fields, field) {
			t.Fatalf("BadRequest field violations %q do not name %s (err: %v)", fields, field, truncate(err))
		}
	}
}

func truncate(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// submitAlerts submits n alerts from s and returns their message IDs.
func submitAlerts(t *testing.T, s *side, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		sub, err := s.sender.Submit(t.Context(), alertDraft(s.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = sub.MessageID
	}
	return ids
}
