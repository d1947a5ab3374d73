package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// Init records cfg as the ledger's configuration: as entry 0 of a new ledger, or
// as a new CONFIG entry when it differs from the latest one (a key rotation, a
// new counterpart). An unchanged configuration writes nothing.
func (l *Ledger) Init(ctx context.Context, cfg *ledgerv1.Config) error {
	if cfg.GetLedgerName() == "" || cfg.GetSelf().GetSpiffeId() == "" || cfg.GetCounterpart().GetSpiffeId() == "" ||
		cfg.GetSelfMessagesKey() == "" || cfg.GetCounterpartMessagesKey() == "" {
		return fmt.Errorf("%w: configuration lacks a name, a party or a key", ErrInvalidInput)
	}
	return l.do(ctx, func(w *writer) error {
		old, err := latestConfig(w.tx)
		if err == nil && proto.Equal(old, cfg) {
			return nil
		}
		i, err := w.append(&ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_CONFIG, Config: cfg})
		if err != nil {
			return err
		}
		return w.meta.Put(metaConfig, u64(i))
	})
}

// Message describes a signed message for the ledger: never its content, only
// what an auditor may count.
type Message struct {
	ID       string
	Kind     ledgerv1.MessageKind
	ThreadID string
	// Envelope is the serialized Envelope exactly as signed and sent.
	Envelope []byte
	// Deadline, when set, makes the message an open request (an alert or a
	// referral) that must be answered by then.
	Deadline time.Time
	// Closes, when set, names an open request this message answers or
	// withdraws.
	Closes string
}

// track updates the open requests for a message being recorded.
func (w *writer) track(m Message, outbound bool) error {
	if m.Closes != "" {
		if v := w.requests.Get([]byte(m.Closes)); len(v) == 10 {
			if err := w.deadlines.Delete(deadlineKey(v[:8], m.Closes)); err != nil {
				return err
			}
		}
		if err := w.requests.Delete([]byte(m.Closes)); err != nil {
			return err
		}
	}
	if m.Deadline.IsZero() {
		return nil
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(m.Deadline.UnixNano()))
	dir := byte(0)
	if outbound {
		dir = 1
	}
	if err := w.deadlines.Put(deadlineKey(v, m.ID), []byte{dir}); err != nil {
		return err
	}
	return w.requests.Put([]byte(m.ID), append(v, dir, byte(m.Kind)))
}

func deadlineKey(deadline []byte, id string) []byte {
	return append(bytes.Clone(deadline[:8]), id...)
}

// indexDeadlines fills the deadline index of a file written before it existed.
func indexDeadlines(tx *bolt.Tx) error {
	b := tx.Bucket(bucketDeadlines)
	return tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
		if len(v) != 10 {
			return fmt.Errorf("%w: request row %q", ErrCorrupt, k)
		}
		return b.Put(deadlineKey(v[:8], string(k)), []byte{v[8]})
	})
}

// Request is an alert or referral still waiting for its answer.
type Request struct {
	MessageID string
	Deadline  time.Time
	// Outbound: this node sent it and waits for the counterpart's answer.
	Outbound bool
	Kind     ledgerv1.MessageKind
}

// OpenRequest returns a request still waiting for its answer, if id is one.
func (l *Ledger) OpenRequest(id string) (Request, bool, error) {
	var r Request
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRequests)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		if len(v) != 10 {
			return fmt.Errorf("%w: request row %q", ErrCorrupt, id)
		}
		r, ok = decodeRequest(id, v), true
		return nil
	})
	return r, ok, err
}

func decodeRequest(id string, v []byte) Request {
	return Request{
		MessageID: id,
		Deadline:  time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(),
		Outbound:  v[8] == 1,
		Kind:      ledgerv1.MessageKind(v[9]),
	}
}

// Overdue counts the requests past their deadline at now and still waiting
// for an answer: those this node owes and those the counterpart owes. It reads
// only the overdue ones, so a metrics scrape costs nothing however many
// requests are open.
func (l *Ledger) Overdue(now time.Time) (owedHere, owedThere int, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeadlines)
		if b == nil {
			// An older file opened read-only: count from the requests.
			open, err := openRequests(tx)
			for _, r := range open {
				if now.After(r.Deadline) {
					if r.Outbound {
						owedThere++
					} else {
						owedHere++
					}
				}
			}
			return err
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) < 8 || len(v) != 1 {
				return fmt.Errorf("%w: deadline row %q", ErrCorrupt, k)
			}
			if !now.After(time.Unix(0, int64(beU64(k)))) {
				break
			}
			if v[0] == 1 {
				owedThere++
			} else {
				owedHere++
			}
		}
		return nil
	})
	return owedHere, owedThere, err
}

// OpenRequests returns the requests still waiting for an answer.
func (l *Ledger) OpenRequests() ([]Request, error) {
	var out []Request
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = openRequests(tx)
		return err
	})
	return out, err
}

func openRequests(tx *bolt.Tx) ([]Request, error) {
	b := tx.Bucket(bucketRequests)
	if b == nil {
		return nil, nil
	}
	var out []Request
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 10 {
			return fmt.Errorf("%w: request row %q", ErrCorrupt, k)
		}
		out = append(out, decodeRequest(string(k), v))
		return nil
	})
	return out, err
}

// check refuses what would break the message index: the index key is the
// ID, a zero byte, then the entry index.
func (m Message) check() error {
	if m.ID == "" || strings.IndexByte(m.ID, 0) >= 0 || len(m.ID) > maxMessageIDLength {
		return fmt.Errorf("%w: message ID %q", ErrInvalidInput, m.ID)
	}
	if len(m.Envelope) == 0 {
		return fmt.Errorf("%w: message %s has no envelope", ErrInvalidInput, m.ID)
	}
	return nil
}

// maxMessageIDLength leaves room in a bbolt key; real IDs are 36-byte UUIDs.
const maxMessageIDLength = 128

// AppendSent records a message this node signed, and queues it in the outbox,
// in one transaction. It returns the SENT entry's index once durable. When
// outboxLimit is positive and the outbox already holds that many messages, it
// writes nothing and returns ErrOutboxFull; the check is inside the
// transaction, so concurrent callers cannot overshoot it.
func (l *Ledger) AppendSent(ctx context.Context, m Message, outboxLimit int) (uint64, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	var index uint64
	var refused error
	err := l.do(ctx, func(w *writer) error {
		index, refused = 0, nil
		existing, err := messageEntries(w.tx, m.ID)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			refused = fmt.Errorf("%w: %s", ErrDuplicate, m.ID)
			return nil
		}
		if n := l.outboxLen.Load() + int64(w.outboxDelta); outboxLimit > 0 && n >= int64(outboxLimit) {
			refused = fmt.Errorf("%w: %d messages wait, the limit is %d", ErrOutboxFull, n, outboxLimit)
			return nil
		}
		index, err = w.appendWith(&ledgerv1.Entry{
			Kind:        ledgerv1.EntryKind_ENTRY_KIND_SENT,
			MessageId:   m.ID,
			MessageKind: m.Kind,
			ThreadId:    m.ThreadID,
		}, m.Envelope)
		if err != nil {
			return err
		}
		w.outboxDelta++
		if err := w.track(m, true); err != nil {
			return err
		}
		return w.outbox.Put(u64(index), encodeOutboxRow(m.ID, w.now))
	})
	if err != nil {
		return 0, err
	}
	return index, refused
}

// IssueFunc signs the receipt for a message being recorded as entry index at
// time at, and returns the serialized SignedReceipt. It runs inside the ledger's
// transaction, so it must be quick and must not call the ledger.
type IssueFunc func(index uint64, at time.Time) ([]byte, error)

// Received is the result of AppendReceived.
type Received struct {
	// Index of the RECEIVED entry.
	Index uint64
	// SignedReceipt is the serialized SignedReceipt as ledgered.
	SignedReceipt []byte
	// Replayed is true when the same bytes had been received before: nothing was
	// written and SignedReceipt is the original.
	Replayed bool
}

// AppendReceived records a message from the counterpart and the receipt issue
// signs for it, in one transaction, so a receipt never exists that the ledger
// does not hold. The same envelope again returns the original receipt and writes
// nothing; other bytes under a known message ID return ErrConflict.
func (l *Ledger) AppendReceived(ctx context.Context, m Message, issue IssueFunc) (Received, error) {
	if err := m.check(); err != nil {
		return Received{}, err
	}
	var res Received
	var refused error
	err := l.do(ctx, func(w *writer) error {
		res, refused = Received{}, nil
		existing, err := messageEntries(w.tx, m.ID)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			res, refused = replay(w, existing, m)
			if errors.Is(refused, ErrConflict) {
				return w.keepConflict(m, l.maxConflicts)
			}
			return nil
		}
		received := &ledgerv1.Entry{
			Kind:        ledgerv1.EntryKind_ENTRY_KIND_RECEIVED,
			MessageId:   m.ID,
			MessageKind: m.Kind,
			ThreadId:    m.ThreadID,
		}
		idx, err := w.appendWith(received, m.Envelope)
		if err != nil {
			return err
		}
		if err := w.inbox.Put(u64(idx), []byte(m.ID)); err != nil {
			return err
		}
		if err := w.track(m, false); err != nil {
			return err
		}
		receipt, err := issue(idx, w.now)
		if err != nil {
			return fmt.Errorf("issue receipt for %s: %w", m.ID, err)
		}
		if _, err := w.appendWith(&ledgerv1.Entry{
			Kind:           ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED,
			MessageId:      m.ID,
			MessageKind:    m.Kind,
			ThreadId:       m.ThreadID,
			EnvelopeSha256: received.GetEnvelopeSha256(),
			RefersToIndex:  idx,
		}, receipt); err != nil {
			return err
		}
		res = Received{Index: idx, SignedReceipt: receipt}
		return nil
	})
	if err != nil {
		return Received{}, err
	}
	return res, refused
}

// replay answers a message ID already in the ledger: the original receipt for
// the same bytes, a conflict for anything else.
func replay(w *writer, existing []*ledgerv1.Entry, m Message) (Received, error) {
	received := findKind(existing, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED)
	issued := findKind(existing, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED)
	sum := sumOf(m.Envelope)
	if received == nil || issued == nil || !bytes.Equal(received.GetEnvelopeSha256(), sum) {
		return Received{}, fmt.Errorf("%w: %s", ErrConflict, m.ID)
	}
	receipt, err := getBlob(w.tx, issued, receiptBlob)
	// Bytes the ledger wrote are gone: corruption, not an absence to act on.
	if errors.Is(err, ErrNotFound) {
		return Received{}, fmt.Errorf("%w: receipt of %s (entry %d) is missing: %v", ErrCorrupt, m.ID, issued.GetIndex(), err)
	}
	if err != nil {
		return Received{}, err
	}
	return Received{Index: received.GetIndex(), SignedReceipt: bytes.Clone(receipt), Replayed: true}, nil
}

// AppendReceiptReceived records the counterpart's receipt for a sent message
// and takes the message out of the outbox, in one transaction. The caller has
// verified the receipt. A second receipt for the same message writes nothing and
// returns the first one's entry index.
func (l *Ledger) AppendReceiptReceived(ctx context.Context, id string, signedReceipt []byte) (uint64, error) {
	var index uint64
	var refused error
	err := l.do(ctx, func(w *writer) error {
		index, refused = 0, nil
		existing, err := messageEntries(w.tx, id)
		if err != nil {
			return err
		}
		sent := findKind(existing, ledgerv1.EntryKind_ENTRY_KIND_SENT)
		if sent == nil {
			refused = fmt.Errorf("%w: %s", ErrUnknownMessage, id)
			return nil
		}
		if prior := findKind(existing, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED); prior != nil {
			index = prior.GetIndex()
			return nil
		}
		index, err = w.appendWith(&ledgerv1.Entry{
			Kind:           ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED,
			MessageId:      id,
			MessageKind:    sent.GetMessageKind(),
			ThreadId:       sent.GetThreadId(),
			EnvelopeSha256: sent.GetEnvelopeSha256(),
			RefersToIndex:  sent.GetIndex(),
		}, signedReceipt)
		if err != nil {
			return err
		}
		if err := w.outbox.Delete(u64(sent.GetIndex())); err != nil {
			return err
		}
		w.outboxDelta--
		w.receipted = append(w.receipted, id)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return index, refused
}

// keepConflict stores a refused envelope as evidence, once per distinct
// envelope and up to max in all; the earliest evidence is kept.
func (w *writer) keepConflict(m Message, max int) error {
	sum := sha256.Sum256(m.Envelope)
	b := w.conflicts
	if b.Get(sum[:]) != nil || b.Stats().KeyN >= max {
		return nil
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(w.now.UnixNano()))
	v = binary.BigEndian.AppendUint16(v, uint16(len(m.ID)))
	v = append(v, m.ID...)
	v = append(v, m.Envelope...)
	w.bytes += len(v)
	return b.Put(sum[:], v)
}

func decodeConflict(k, v []byte) (Conflict, error) {
	if len(k) != sha256.Size || len(v) < 10 || len(v) < 10+int(binary.BigEndian.Uint16(v[8:10])) {
		return Conflict{}, fmt.Errorf("%w: conflict row %x", ErrCorrupt, k)
	}
	n := int(binary.BigEndian.Uint16(v[8:10]))
	c := Conflict{
		RefusedAt: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(),
		MessageID: string(v[10 : 10+n]),
		Envelope:  bytes.Clone(v[10+n:]),
	}
	copy(c.EnvelopeID[:], k)
	return c, nil
}

func encodeOutboxRow(id string, at time.Time) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	return append(b, id...)
}

func decodeOutboxRow(k, v []byte) (OutboxRow, error) {
	if len(k) != 8 || len(v) < 8 {
		return OutboxRow{}, fmt.Errorf("%w: outbox row %x", ErrCorrupt, k)
	}
	return OutboxRow{
		SentIndex:  beU64(k),
		AcceptedAt: time.Unix(0, int64(beU64(v))).UTC(),
		MessageID:  string(v[8:]),
	}, nil
}

func sumOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
