package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Kinds of [Discrepancy].
const (
	// DiscrepancyConfig: the two ledgers do not name each other as counterparts;
	// nothing else was compared.
	DiscrepancyConfig = "config mismatch"
	// DiscrepancyUndelivered: sent, no receipt, not received. Still in flight,
	// or never delivered; not by itself a sign that a ledger lost anything.
	DiscrepancyUndelivered = "undelivered"
	// DiscrepancyNotReceived: the sender holds the receiver's signed receipt,
	// but the receiver's ledger has no RECEIVED entry: the receiver's ledger
	// lost it (cut off, or restored from an older copy).
	DiscrepancyNotReceived = "not received"
	// DiscrepancyNotSent: the receiver holds a message signed by the sender, but
	// the sender's ledger has no SENT entry: the sender's ledger lost it.
	DiscrepancyNotSent = "not sent"
	// DiscrepancyEnvelope: both ledgers hold the message under its ID, but not
	// the same envelope bytes.
	DiscrepancyEnvelope = "envelope mismatch"
	// DiscrepancyReceipt: the receipt the sender holds is not the bytes the
	// receiver ledgered when it issued it.
	DiscrepancyReceipt = "receipt mismatch"
	// DiscrepancyReceiptMissing: the sender holds a receipt the receiver's
	// ledger never issued.
	DiscrepancyReceiptMissing = "receipt not issued"
	// DiscrepancyInFlight: the receiver issued a receipt the sender has not
	// recorded yet; normal while a delivery is under way.
	DiscrepancyInFlight = "receipt in flight"
	// DiscrepancyFork: one ledger holds a checkpoint of the other that it
	// cosigned, signed by the other's log key, but the other ledger's entries
	// do not have that root at that size, or are fewer than that size: the
	// other ledger was rewritten, cut off, or rolled back to an older copy
	// since. The signed checkpoint is the evidence.
	DiscrepancyFork = "fork"
	// DiscrepancyWitnessMissing: one ledger holds the other's cosignature of
	// one of its checkpoints, but the other ledger has no record of cosigning
	// it (no CHECKPOINT_WITNESSED entry of that size), which it writes before
	// it answers: the other ledger lost entries.
	DiscrepancyWitnessMissing = "cosignature not recorded"
)

// Discrepancy is one way two ledgers of a link disagree.
type Discrepancy struct {
	// Kind is one of the Discrepancy* constants.
	Kind string `json:"kind"`
	// MessageID is the message concerned, if any.
	MessageID string `json:"message_id,omitempty"`
	// Detail says what each ledger holds, naming the entries.
	Detail string `json:"detail"`
}

// String reads like "undelivered: message 0190…: sent by … at entry 7, …".
func (d Discrepancy) String() string {
	if d.MessageID == "" {
		return d.Kind + ": " + d.Detail
	}
	return d.Kind + ": message " + d.MessageID + ": " + d.Detail
}

// Reconcile compares the ledgers of the two ends of a link. It verifies each
// with keys first, as [Verify] does, and returns the first failure as an error.
// Then, in both directions, every message one sent must be received by the
// other with the same envelope bytes, every message one received must have
// been sent by the other, and every receipt the sender holds must be the same
// bytes as the receipt the receiver issued.
//
// And the two transparency logs must agree: every checkpoint of one ledger
// that the other cosigned (its CHECKPOINT_WITNESSED entries) must have the root
// that Reconcile computes from the first ledger's entries at that size, never
// trusting the tree that ledger stores ([DiscrepancyFork]); and every
// cosignature one ledger holds (CHECKPOINT_COSIGNED) must be recorded by the
// other ([DiscrepancyWitnessMissing]). Verify has already checked that each
// ledger's own cosigned checkpoints have its roots.
//
// Discrepancies come in ledger order, a's sent messages first, checkpoints
// last. Run it on copies: ledgers written meanwhile show messages in flight.
func Reconcile(ctx context.Context, a, b *ledger.Ledger, keys *Keys) ([]Discrepancy, error) {
	var cps [2]*checkpoints
	for i, l := range []*ledger.Ledger{a, b} {
		_, c, err := verify(ctx, l, keys, true)
		if err != nil {
			return nil, fmt.Errorf("audit: reconcile: ledger %s: %w", l.Path(), err)
		}
		cps[i] = c
	}
	var sides [2]*side
	for i, l := range []*ledger.Ledger{a, b} {
		// The roots of this ledger at the sizes the other one cosigned.
		var sizes []uint64
		for _, w := range cps[1-i].witnessed {
			sizes = append(sizes, w.size)
		}
		s, err := summarize(ctx, l, sizes)
		if err != nil {
			return nil, err
		}
		s.checkpoints = cps[i]
		sides[i] = s
	}
	sa, sb := sides[0], sides[1]
	ca, cb := sa.cfg, sb.cfg
	if !sameParty(ca.GetSelf(), cb.GetCounterpart()) || !sameParty(ca.GetCounterpart(), cb.GetSelf()) {
		return []Discrepancy{{
			Kind: DiscrepancyConfig,
			Detail: fmt.Sprintf("%s is %s with counterpart %s; %s is %s with counterpart %s",
				ca.GetLedgerName(), party(ca.GetSelf()), party(ca.GetCounterpart()),
				cb.GetLedgerName(), party(cb.GetSelf()), party(cb.GetCounterpart())),
		}}, nil
	}
	var out []Discrepancy
	out = compare(out, sa, sb)
	out = compare(out, sb, sa)
	out = compareLogs(out, sa, sb)
	out = compareLogs(out, sb, sa)
	return out, nil
}

// flow is one message as one ledger holds it.
type flow struct {
	index        uint64 // the SENT or RECEIVED entry
	env          []byte
	receipt      []byte // receipt_sha256 of its RECEIPT_RECEIVED or RECEIPT_ISSUED entry
	receiptIndex uint64
}

// side is what Reconcile needs of one ledger.
type side struct {
	cfg             *ledgerv1.Config // the latest
	sent, received  map[string]*flow
	sentOrder, rcvd []string
	// entries is how many entries the ledger has; roots its computed roots
	// at the sizes the other ledger cosigned.
	entries     uint64
	roots       map[uint64][]byte
	checkpoints *checkpoints
}

func (s *side) name() string { return s.cfg.GetLedgerName() }

// summarize reads what Reconcile needs of l, and the roots of l's tree at
// sizes, computed from the entries' stored bytes.
func summarize(ctx context.Context, l *ledger.Ledger, sizes []uint64) (*side, error) {
	s := &side{sent: make(map[string]*flow), received: make(map[string]*flow), roots: make(map[uint64][]byte)}
	sizes = slices.Sorted(slices.Values(sizes))
	rng := newRange()
	if len(sizes) > 0 && sizes[0] == 0 {
		s.roots[0] = rng.root()
	}
	err := l.Scan(0, func(e *ledgerv1.Entry, raw []byte) error {
		if e.GetIndex()%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
		}
		if err := rng.append(ledger.LeafHash(raw)); err != nil {
			return err
		}
		for len(sizes) > 0 && sizes[0] < rng.end() {
			sizes = sizes[1:]
		}
		if len(sizes) > 0 && sizes[0] == rng.end() {
			s.roots[rng.end()] = rng.root()
		}
		id := e.GetMessageId()
		switch e.GetKind() {
		case ledgerv1.EntryKind_ENTRY_KIND_CONFIG:
			s.cfg = e.GetConfig()
		case ledgerv1.EntryKind_ENTRY_KIND_SENT:
			s.sent[id] = &flow{index: e.GetIndex(), env: e.GetEnvelopeSha256()}
			s.sentOrder = append(s.sentOrder, id)
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
			s.received[id] = &flow{index: e.GetIndex(), env: e.GetEnvelopeSha256()}
			s.rcvd = append(s.rcvd, id)
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
			if f := s.sent[id]; f != nil {
				f.receipt, f.receiptIndex = e.GetReceiptSha256(), e.GetIndex()
			}
		case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED:
			if f := s.received[id]; f != nil {
				f.receipt, f.receiptIndex = e.GetReceiptSha256(), e.GetIndex()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: reconcile: read %s: %w", l.Path(), err)
	}
	s.entries = rng.end()
	if s.cfg == nil {
		// Verify has just seen a CONFIG entry 0; only a file changed in between
		// gets here.
		return nil, fmt.Errorf("audit: reconcile: %s has no configuration", l.Path())
	}
	return s, nil
}

// compare appends what x sent and y received that disagree.
func compare(out []Discrepancy, x, y *side) []Discrepancy {
	add := func(kind, id, format string, args ...any) {
		out = append(out, Discrepancy{Kind: kind, MessageID: id, Detail: fmt.Sprintf(format, args...)})
	}
	for _, id := range x.sentOrder {
		s, r := x.sent[id], y.received[id]
		switch {
		case r == nil && s.receipt == nil:
			add(DiscrepancyUndelivered, id, "sent by %s at entry %d, without a receipt; %s has not received it",
				x.name(), s.index, y.name())
		case r == nil:
			add(DiscrepancyNotReceived, id, "sent by %s at entry %d, which holds %s's receipt at entry %d; %s has no RECEIVED entry for it",
				x.name(), s.index, y.name(), s.receiptIndex, y.name())
		case !bytes.Equal(s.env, r.env):
			add(DiscrepancyEnvelope, id, "%s sent envelope %s at entry %d; %s received envelope %s at entry %d",
				x.name(), short(s.env), s.index, y.name(), short(r.env), r.index)
		case s.receipt == nil && r.receipt != nil:
			add(DiscrepancyInFlight, id, "%s issued its receipt at entry %d; %s has not recorded it (SENT entry %d)",
				y.name(), r.receiptIndex, x.name(), s.index)
		case s.receipt != nil && r.receipt == nil:
			add(DiscrepancyReceiptMissing, id, "%s holds a receipt at entry %d; %s issued none for its RECEIVED entry %d",
				x.name(), s.receiptIndex, y.name(), r.index)
		case !bytes.Equal(s.receipt, r.receipt):
			add(DiscrepancyReceipt, id, "%s holds receipt %s at entry %d; %s issued receipt %s at entry %d",
				x.name(), short(s.receipt), s.receiptIndex, y.name(), short(r.receipt), r.receiptIndex)
		}
	}
	for _, id := range y.rcvd {
		if x.sent[id] == nil {
			add(DiscrepancyNotSent, id, "received by %s at entry %d; %s has no SENT entry for it",
				y.name(), y.received[id].index, x.name())
		}
	}
	return out
}

// compareLogs appends where y's ledger contradicts what x holds of it: the
// checkpoints of y that x cosigned, and y's record of x's cosignatures.
func compareLogs(out []Discrepancy, x, y *side) []Discrepancy {
	add := func(kind, format string, args ...any) {
		out = append(out, Discrepancy{Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	for _, w := range x.checkpoints.witnessed {
		switch root, ok := y.roots[w.size]; {
		case w.size > y.entries:
			add(DiscrepancyFork, "%s cosigned %s's checkpoint of size %d (root %s) at its entry %d, but %s has only %d entries: it was cut off or rolled back",
				x.name(), y.name(), w.size, short(w.root), w.index, y.name(), y.entries)
		case !ok:
			add(DiscrepancyFork, "%s cosigned %s's checkpoint of size %d at its entry %d, but no root of %s was computed at that size",
				x.name(), y.name(), w.size, w.index, y.name())
		case !bytes.Equal(root, w.root):
			add(DiscrepancyFork, "%s cosigned %s's checkpoint of size %d with root %s at its entry %d, but %s's entries give root %s at that size: it was rewritten",
				x.name(), y.name(), w.size, short(w.root), w.index, y.name(), short(root))
		}
	}
	recorded := make(map[uint64]bool, len(y.checkpoints.witnessed))
	for _, w := range y.checkpoints.witnessed {
		recorded[w.size] = true
	}
	for _, c := range x.checkpoints.cosigned {
		if !recorded[c.size] {
			add(DiscrepancyWitnessMissing, "%s holds %s's cosignature of its checkpoint of size %d at entry %d, but %s has no record of cosigning it: it lost entries",
				x.name(), y.name(), c.size, c.index, y.name())
		}
	}
	return out
}
