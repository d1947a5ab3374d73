package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Verify checks every entry of l in order and returns what the ledger holds,
// or, for the first entry found wrong, a [*Problem] (errors.Is(err,
// ErrInvalid)). Other errors (the file cannot be read, ctx ends) are returned
// as they are and say nothing about the ledger.
//
// If keys is nil, signatures are checked with the keys the ledger's own CONFIG
// entries name; otherwise only with keys. Either way the CONFIG entry in force
// at an entry says which party must have signed it and with which key (by name
// and key hash): see the package documentation.
//
// For each entry Verify checks that recorded_at is set and not before the
// previous entry's, that entry 0 is CONFIG, and by kind:
//   - CONFIG: ledger name, both parties (agency and SPIFFE ID) and both keys are
//     present, the keys parse and differ, and the ledger name never changes.
//   - SENT and RECEIVED: the envelope kept under envelope_sha256 hashes to it and
//     opens with the sending party's key (this node's for SENT, the
//     counterpart's for RECEIVED); its message's ID, thread, payload kind,
//     sender and recipient are what the entry and the config say; and the entry
//     is the first about its message.
//   - RECEIPT_ISSUED: it answers the RECEIVED entry of its message, written in
//     the same transaction (so stamped with the same time); the receipt kept
//     under receipt_sha256 hashes to it, is signed with this node's key, and
//     names the message, the envelope, the RECEIVED entry's index and time, and
//     this node as receiver.
//   - RECEIPT_RECEIVED: it answers an earlier SENT entry of its message that has
//     no receipt yet; the receipt hashes to receipt_sha256, is signed with the
//     counterpart's key and names the message, the envelope and the
//     counterpart as receiver.
//
// Verify reads l in short read transactions, one after another, and never
// holds one while it looks anything else up, so it may run on a ledger that
// is being written, even in the same process; it then checks the entries the
// ledger had when it began. Its memory grows only with the sent messages still
// waiting for a receipt.
func Verify(ctx context.Context, l *ledger.Ledger, keys *Keys) (*Report, error) {
	w := &walker{
		l:        l,
		pending:  make(map[string]*msgRec),
		awaiting: make(map[string]*msgRec),
		byKind:   make(map[ledgerv1.EntryKind]uint64),
	}
	if keys != nil {
		w.trusted = note.VerifierList(keys.Messages...)
	}
	// Entries appended while Verify runs are left for the next audit: the
	// report is of the ledger as it was when Verify began.
	w.limit = l.Size()
	if err := w.walk(ctx); err != nil {
		return nil, err
	}
	return w.report(), nil
}

// scanChunk is how many entries one read transaction hands over. The checks
// run between transactions: a bbolt read transaction must not be held while
// another is opened in the same goroutine, or a writer remapping the file
// deadlocks both.
const scanChunk = 256

// errStopScan ends a Scan early: the chunk is full, or the walk has reached
// the entries appended since it began.
var errStopScan = errors.New("audit: stop scan")

// partyKey is one party of a configuration and the key it signs with.
type partyKey struct {
	party *messagev1.Party
	role  string // "this node" or "the counterpart"
	name  string // the key's name
	hash  uint32 // the key's signed-note key hash
	// verifiers check the party's signatures: the key itself when the ledger's
	// configuration is trusted, the auditor's keys otherwise.
	verifiers note.Verifiers
}

// inForce is a configuration and the CONFIG entry that recorded it.
type inForce struct {
	index             uint64
	name              string
	self, counterpart partyKey
}

// msgRec is what the walk remembers of a SENT entry until its receipt, or of a
// RECEIVED entry until its RECEIPT_ISSUED.
type msgRec struct {
	id     string
	index  uint64
	at     time.Time
	env    []byte
	kind   ledgerv1.MessageKind
	thread string
}

type walker struct {
	l       *ledger.Ledger
	trusted note.Verifiers // nil: trust the ledger's own configuration

	next   uint64 // index of the next entry to check
	limit  uint64 // entries the ledger had when the walk began
	first  time.Time
	prevAt time.Time
	cfg    *inForce

	// pending: SENT entries without a RECEIPT_RECEIVED, by message ID.
	pending map[string]*msgRec
	// awaiting: RECEIVED entries whose RECEIPT_ISSUED, written in the same
	// transaction, has not been seen yet. Holds at most one transaction's worth.
	awaiting map[string]*msgRec
	// deferred is the first fault found in the ledger's message index rather
	// than in its entries. The index is derived from the entries, so a fault in
	// the entries (a missing entry the index still names, say) is the one to
	// report; deferred is reported only if the entries are sound.
	deferred *Problem

	byKind         map[ledgerv1.EntryKind]uint64
	sent, received uint64
}

func (w *walker) walk(ctx context.Context) error {
	batch := make([]*ledgerv1.Entry, 0, scanChunk)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		batch = batch[:0]
		atLimit := false
		err := w.l.Scan(w.next, func(e *ledgerv1.Entry, _ []byte) error {
			if e.GetIndex() >= w.limit {
				atLimit = true
				return errStopScan
			}
			// e is decoded into its own memory; only the raw bytes die with the call.
			batch = append(batch, e)
			if len(batch) == scanChunk {
				return errStopScan
			}
			return nil
		})
		full := errors.Is(err, errStopScan) && !atLimit
		if errors.Is(err, errStopScan) {
			err = nil
		}
		for _, e := range batch {
			if err := w.entry(e); err != nil {
				return err
			}
			w.next++
		}
		if err != nil {
			if errors.Is(err, ledger.ErrCorrupt) {
				// Scan stopped at the entry it could not hand over: the next one.
				return &Problem{Index: w.next, What: err.Error(), Err: err}
			}
			return fmt.Errorf("audit: read ledger: %w", err)
		}
		if !full {
			return w.end()
		}
	}
}

// problem describes what is wrong with e.
func problem(e *ledgerv1.Entry, cause error, format string, args ...any) *Problem {
	return &Problem{
		Index:     e.GetIndex(),
		Kind:      ledger.KindName(e.GetKind()),
		MessageID: e.GetMessageId(),
		What:      fmt.Sprintf(format, args...),
		Err:       cause,
	}
}

func (w *walker) entry(e *ledgerv1.Entry) error {
	if hasUnknownFields(e.ProtoReflect()) {
		return problem(e, nil, "the entry has fields this auditor does not know (a newer ledger format, or a damaged entry)")
	}
	ts := e.GetRecordedAt()
	if ts == nil {
		return problem(e, nil, "recorded_at is missing")
	}
	if err := ts.CheckValid(); err != nil {
		return problem(e, err, "recorded_at is not a valid time: %v", err)
	}
	at := ts.AsTime()
	if e.GetIndex() > 0 && at.Before(w.prevAt) {
		return problem(e, nil, "recorded at %s, before entry %d (%s)", stamp(at), e.GetIndex()-1, stamp(w.prevAt))
	}
	if e.GetIndex() == 0 {
		w.first = at
	}
	w.prevAt = at
	// Any RECEIVED entry stamped earlier than this one belongs to a finished
	// transaction, which must have held its RECEIPT_ISSUED.
	if err := w.unanswered(func(r *msgRec) bool { return r.at.Before(at) }); err != nil {
		return err
	}

	kind := e.GetKind()
	if _, known := ledgerv1.EntryKind_name[int32(kind)]; !known || kind == ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED {
		return problem(e, nil, "unknown entry kind %d", kind)
	}
	if e.GetIndex() == 0 && kind != ledgerv1.EntryKind_ENTRY_KIND_CONFIG {
		return problem(e, nil, "entry 0 must be CONFIG")
	}
	if err := checkShape(e); err != nil {
		return err
	}

	var err error
	switch kind {
	case ledgerv1.EntryKind_ENTRY_KIND_CONFIG:
		err = w.config(e)
	case ledgerv1.EntryKind_ENTRY_KIND_SENT:
		err = w.message(e, &w.cfg.self, &w.cfg.counterpart)
		if err == nil {
			w.pending[e.GetMessageId()] = record(e, at)
			w.sent++
		}
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		err = w.message(e, &w.cfg.counterpart, &w.cfg.self)
		if err == nil {
			w.awaiting[e.GetMessageId()] = record(e, at)
			w.received++
		}
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED:
		err = w.receiptIssued(e)
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
		err = w.receiptReceived(e)
	}
	if err != nil {
		return err
	}
	w.byKind[kind]++
	return nil
}

func record(e *ledgerv1.Entry, at time.Time) *msgRec {
	return &msgRec{
		id:     e.GetMessageId(),
		index:  e.GetIndex(),
		at:     at,
		env:    e.GetEnvelopeSha256(),
		kind:   e.GetMessageKind(),
		thread: e.GetThreadId(),
	}
}

// checkShape checks that an entry holds the fields of its kind and no others.
func checkShape(e *ledgerv1.Entry) error {
	if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_CONFIG {
		if e.GetMessageId() != "" || e.GetMessageKind() != 0 || e.GetThreadId() != "" ||
			len(e.GetEnvelopeSha256()) > 0 || len(e.GetReceiptSha256()) > 0 || e.GetRefersToIndex() != 0 {
			return problem(e, nil, "a CONFIG entry carries message fields")
		}
		return nil
	}
	if e.GetConfig() != nil {
		return problem(e, nil, "a message entry carries a config")
	}
	if e.GetMessageId() == "" {
		return problem(e, nil, "message_id is empty")
	}
	if _, known := ledgerv1.MessageKind_name[int32(e.GetMessageKind())]; !known || e.GetMessageKind() == ledgerv1.MessageKind_MESSAGE_KIND_UNSPECIFIED {
		return problem(e, nil, "unknown message kind %d", e.GetMessageKind())
	}
	switch e.GetKind() {
	case ledgerv1.EntryKind_ENTRY_KIND_SENT, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		if len(e.GetReceiptSha256()) > 0 || e.GetRefersToIndex() != 0 {
			return problem(e, nil, "a %s entry carries receipt fields", ledger.KindName(e.GetKind()))
		}
	default:
		if e.GetRefersToIndex() >= e.GetIndex() {
			return problem(e, nil, "refers_to_index %d is not before the entry", e.GetRefersToIndex())
		}
	}
	return nil
}

// config checks a CONFIG entry and puts it in force.
func (w *walker) config(e *ledgerv1.Entry) error {
	c := e.GetConfig()
	if c == nil {
		return problem(e, nil, "the CONFIG entry has no config")
	}
	if c.GetLedgerName() == "" {
		return problem(e, nil, "ledger_name is empty")
	}
	if w.cfg != nil && c.GetLedgerName() != w.cfg.name {
		return problem(e, nil, "ledger_name changes from %q (entry %d) to %q; a ledger keeps its name", w.cfg.name, w.cfg.index, c.GetLedgerName())
	}
	next := &inForce{index: e.GetIndex(), name: c.GetLedgerName()}
	for _, p := range []struct {
		field string
		party *messagev1.Party
		vkey  string
		into  *partyKey
		role  string
	}{
		{"self", c.GetSelf(), c.GetSelfMessagesKey(), &next.self, "this node"},
		{"counterpart", c.GetCounterpart(), c.GetCounterpartMessagesKey(), &next.counterpart, "the counterpart"},
	} {
		if p.party.GetAgency() == "" {
			return problem(e, nil, "%s.agency is empty", p.field)
		}
		if _, err := spiffeid.FromString(p.party.GetSpiffeId()); err != nil {
			return problem(e, err, "%s.spiffe_id %q is not a SPIFFE ID: %v", p.field, p.party.GetSpiffeId(), err)
		}
		if p.vkey == "" {
			return problem(e, nil, "%s_messages_key is empty", p.field)
		}
		v, err := keys.ParseVerifier(p.vkey)
		if err != nil {
			return problem(e, err, "%s_messages_key: %v", p.field, err)
		}
		*p.into = partyKey{party: p.party, role: p.role, name: v.Name(), hash: v.KeyHash(), verifiers: w.trusted}
		if w.trusted == nil {
			p.into.verifiers = note.VerifierList(v)
		}
	}
	if next.self.party.GetSpiffeId() == next.counterpart.party.GetSpiffeId() {
		return problem(e, nil, "self and counterpart are both %s", next.self.party.GetSpiffeId())
	}
	if next.self.name == next.counterpart.name && next.self.hash == next.counterpart.hash {
		return problem(e, nil, "self and counterpart sign with the same key %s (hash %08x)", next.self.name, next.self.hash)
	}
	w.cfg = next
	return nil
}

// message checks a SENT or RECEIVED entry: from signed the envelope and sent
// it to to.
func (w *walker) message(e *ledgerv1.Entry, from, to *partyKey) error {
	if err := w.firstAbout(e); err != nil {
		return err
	}
	blob, err := w.blob(e, e.GetEnvelopeSha256(), "envelope")
	if err != nil {
		return err
	}
	op, err := envelope.Open(blob, from.verifiers)
	if err != nil {
		return problem(e, err, "the envelope does not open with the key of %s: %v", from.role, err)
	}
	if p := w.checkSigner(e, "envelope", op.SignedBy, from); p != nil {
		return p
	}
	h := op.Message.GetHeader()
	switch {
	case h.GetMessageId() != e.GetMessageId():
		return problem(e, nil, "the signed message has message_id %q", h.GetMessageId())
	case h.GetThreadId() != e.GetThreadId():
		return problem(e, nil, "the signed message has thread_id %q, the entry %q", h.GetThreadId(), e.GetThreadId())
	case payloadKind(op.Message) != e.GetMessageKind():
		return problem(e, nil, "the signed message is of kind %s, the entry says %s", payloadKind(op.Message), e.GetMessageKind())
	case !sameParty(h.GetSender(), from.party):
		return problem(e, nil, "the signed message is from %s, but %s is %s (config entry %d)", party(h.GetSender()), from.role, party(from.party), w.cfg.index)
	case !sameParty(h.GetRecipient(), to.party):
		return problem(e, nil, "the signed message is to %s, but %s is %s (config entry %d)", party(h.GetRecipient()), to.role, party(to.party), w.cfg.index)
	}
	return nil
}

// firstAbout checks, through the ledger's message index, that no earlier entry
// speaks of e's message.
func (w *walker) firstAbout(e *ledgerv1.Entry) error {
	list, err := w.l.MessageEntries(e.GetMessageId())
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrCorrupt) {
			w.deferIndexProblem(problem(e, err, "the message index cannot list the message's entries: %v", err))
			return nil
		}
		return fmt.Errorf("audit: read message index: %w", err)
	}
	first := list[0]
	if first.GetIndex() < e.GetIndex() {
		return problem(e, nil, "the message was already recorded at entry %d (%s)", first.GetIndex(), ledger.KindName(first.GetKind()))
	}
	if first.GetIndex() != e.GetIndex() {
		w.deferIndexProblem(problem(e, nil, "the message index does not list this entry"))
	}
	return nil
}

func (w *walker) deferIndexProblem(p *Problem) {
	if w.deferred == nil {
		w.deferred = p
	}
}

// blob returns the bytes kept under sum, checked against it.
func (w *walker) blob(e *ledgerv1.Entry, sum []byte, what string) ([]byte, error) {
	if len(sum) != sha256.Size {
		return nil, problem(e, nil, "%s_sha256 has %d bytes, want %d", what, len(sum), sha256.Size)
	}
	b, err := w.l.Blob(sum)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, problem(e, err, "the %s %s is not in the ledger's blobs", what, short(sum))
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read blob %x: %w", sum, err)
	}
	if got := sha256.Sum256(b); !bytes.Equal(got[:], sum) {
		return nil, problem(e, nil, "the %s kept under %s hashes to %s", what, short(sum), short(got[:]))
	}
	return b, nil
}

// checkSigner checks that the key that verified a signature is the one the
// configuration in force names for the party. With the ledger's own keys this
// always holds; with an auditor's keys it stops a trusted key of one party from
// standing in for the other.
func (w *walker) checkSigner(e *ledgerv1.Entry, what string, v note.Verifier, want *partyKey) *Problem {
	if v.Name() == want.name && v.KeyHash() == want.hash {
		return nil
	}
	return problem(e, nil, "the %s is signed by %s (hash %08x), but config entry %d says %s signs with %s (hash %08x)",
		what, v.Name(), v.KeyHash(), w.cfg.index, want.role, want.name, want.hash)
}

func (w *walker) receiptIssued(e *ledgerv1.Entry) error {
	rec := w.awaiting[e.GetMessageId()]
	if rec == nil || rec.index != e.GetRefersToIndex() {
		return w.misreferred(e, rec, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED)
	}
	if err := sameMessage(e, rec, "RECEIVED"); err != nil {
		return err
	}
	r, err := w.openReceipt(e, &w.cfg.self)
	if err != nil {
		return err
	}
	if r.GetLedgerIndex() != rec.index {
		return problem(e, nil, "the receipt names ledger index %d, the RECEIVED entry is %d", r.GetLedgerIndex(), rec.index)
	}
	if !r.GetReceivedAt().AsTime().Equal(rec.at) {
		return problem(e, nil, "the receipt says received at %s, RECEIVED entry %d was recorded at %s", stamp(r.GetReceivedAt().AsTime()), rec.index, stamp(rec.at))
	}
	delete(w.awaiting, rec.id)
	return nil
}

func (w *walker) receiptReceived(e *ledgerv1.Entry) error {
	rec := w.pending[e.GetMessageId()]
	if rec == nil || rec.index != e.GetRefersToIndex() {
		return w.misreferred(e, rec, ledgerv1.EntryKind_ENTRY_KIND_SENT)
	}
	if err := sameMessage(e, rec, "SENT"); err != nil {
		return err
	}
	if _, err := w.openReceipt(e, &w.cfg.counterpart); err != nil {
		return err
	}
	delete(w.pending, rec.id)
	return nil
}

// openReceipt opens the receipt of a RECEIPT_ISSUED or RECEIPT_RECEIVED entry,
// signed by the receiving party, and checks what both kinds must agree on.
func (w *walker) openReceipt(e *ledgerv1.Entry, receiver *partyKey) (*envelopev1.Receipt, error) {
	blob, err := w.blob(e, e.GetReceiptSha256(), "receipt")
	if err != nil {
		return nil, err
	}
	r, v, err := envelope.OpenReceipt(blob, receiver.verifiers)
	if err != nil {
		return nil, problem(e, err, "the receipt does not open with the key of %s: %v", receiver.role, err)
	}
	if p := w.checkSigner(e, "receipt", v, receiver); p != nil {
		return nil, p
	}
	switch {
	case r.GetMessageId() != e.GetMessageId():
		return nil, problem(e, nil, "the receipt is for message %q", r.GetMessageId())
	case !bytes.Equal(r.GetEnvelopeSha256(), e.GetEnvelopeSha256()):
		return nil, problem(e, nil, "the receipt names envelope sha256 %s, the entry %s", short(r.GetEnvelopeSha256()), short(e.GetEnvelopeSha256()))
	case !sameParty(r.GetReceiver(), receiver.party):
		return nil, problem(e, nil, "the receipt's receiver is %s, but %s is %s (config entry %d)", party(r.GetReceiver()), receiver.role, party(receiver.party), w.cfg.index)
	case r.GetReceivedAt() == nil || r.GetReceivedAt().CheckValid() != nil:
		return nil, problem(e, nil, "the receipt has no valid received_at")
	}
	return r, nil
}

// sameMessage checks that a receipt entry repeats what the entry it answers
// says of the message.
func sameMessage(e *ledgerv1.Entry, rec *msgRec, kind string) error {
	switch {
	case !bytes.Equal(e.GetEnvelopeSha256(), rec.env):
		return problem(e, nil, "names envelope sha256 %s, %s entry %d has %s", short(e.GetEnvelopeSha256()), kind, rec.index, short(rec.env))
	case e.GetMessageKind() != rec.kind:
		return problem(e, nil, "names message kind %s, %s entry %d has %s", e.GetMessageKind(), kind, rec.index, rec.kind)
	case e.GetThreadId() != rec.thread:
		return problem(e, nil, "names thread %q, %s entry %d has %q", e.GetThreadId(), kind, rec.index, rec.thread)
	}
	return nil
}

// misreferred explains a receipt entry that does not answer the one entry it
// should: rec, the entry of its message still waiting for it, if any.
func (w *walker) misreferred(e *ledgerv1.Entry, rec *msgRec, want ledgerv1.EntryKind) error {
	wantName := ledger.KindName(want)
	ref := e.GetRefersToIndex()
	if rec != nil {
		return problem(e, nil, "refers to entry %d, but the %s entry of the message is %d", ref, wantName, rec.index)
	}
	// Off the common path from here: look the entry up to say what it is.
	target, _, err := w.l.Entry(ref)
	if err != nil {
		return problem(e, err, "refers to entry %d, which cannot be read: %v", ref, err)
	}
	if target.GetKind() != want || target.GetMessageId() != e.GetMessageId() {
		return problem(e, nil, "refers to entry %d, a %s entry of message %q, not the %s entry of this message",
			ref, ledger.KindName(target.GetKind()), target.GetMessageId(), wantName)
	}
	return problem(e, nil, "the %s entry %d already has its %s", wantName, ref, ledger.KindName(e.GetKind()))
}

// unanswered fails for the earliest RECEIVED entry still waiting for its
// RECEIPT_ISSUED among those done says can no longer get one.
func (w *walker) unanswered(done func(*msgRec) bool) error {
	var worst *msgRec
	for _, r := range w.awaiting {
		if done(r) && (worst == nil || r.index < worst.index) {
			worst = r
		}
	}
	if worst == nil {
		return nil
	}
	return &Problem{
		Index:     worst.index,
		Kind:      ledger.KindName(ledgerv1.EntryKind_ENTRY_KIND_RECEIVED),
		MessageID: worst.id,
		What:      "no RECEIPT_ISSUED was written in the same transaction",
	}
}

// end runs the checks that need the whole ledger.
func (w *walker) end() error {
	if w.next == 0 {
		return &Problem{Index: 0, What: "the ledger has no entries; entry 0 must be CONFIG"}
	}
	if err := w.unanswered(func(*msgRec) bool { return true }); err != nil {
		return err
	}
	if w.deferred != nil {
		return w.deferred
	}
	return nil
}

func (w *walker) report() *Report {
	r := &Report{
		LedgerName: w.cfg.name,
		Entries:    w.next,
		ByKind:     make(map[string]uint64),
		Sent:       w.sent,
		Received:   w.received,
		Pending:    make([]PendingMessage, 0, len(w.pending)),
		First:      w.first,
		Last:       w.prevAt,
	}
	for _, k := range kindOrder {
		r.ByKind[ledger.KindName(k)] = w.byKind[k]
	}
	for _, p := range w.pending {
		r.Pending = append(r.Pending, PendingMessage{MessageID: p.id, SentIndex: p.index, SentAt: p.at})
	}
	slices.SortFunc(r.Pending, func(a, b PendingMessage) int { return cmp.Compare(a.SentIndex, b.SentIndex) })
	return r
}

// payloadKind is the ledger's name for a message's payload kind.
func payloadKind(m *messagev1.Message) ledgerv1.MessageKind {
	switch m.GetPayload().GetKind().(type) {
	case *messagev1.Payload_Alert:
		return ledgerv1.MessageKind_MESSAGE_KIND_ALERT
	case *messagev1.Payload_Outcome:
		return ledgerv1.MessageKind_MESSAGE_KIND_OUTCOME
	case *messagev1.Payload_Test:
		return ledgerv1.MessageKind_MESSAGE_KIND_TEST
	}
	return ledgerv1.MessageKind_MESSAGE_KIND_UNSPECIFIED
}

func sameParty(a, b *messagev1.Party) bool {
	return a.GetAgency() == b.GetAgency() && a.GetSpiffeId() == b.GetSpiffeId()
}

func party(p *messagev1.Party) string {
	return fmt.Sprintf("%q (%s)", p.GetAgency(), p.GetSpiffeId())
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// hasUnknownFields reports whether m, or a message inside it, holds fields its
// schema does not know.
func hasUnknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len() && !found; i++ {
				found = hasUnknownFields(v.List().Get(i).Message())
			}
		} else {
			found = hasUnknownFields(v.Message())
		}
		return !found
	})
	return found
}
