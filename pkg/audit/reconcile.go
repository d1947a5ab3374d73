package audit

import (
	"bytes"
	"context"
	"fmt"

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
// Discrepancies come in ledger order, a's sent messages first. Run it on
// copies: ledgers written meanwhile show messages in flight.
func Reconcile(ctx context.Context, a, b *ledger.Ledger, keys *Keys) ([]Discrepancy, error) {
	var sides [2]*side
	for i, l := range []*ledger.Ledger{a, b} {
		if _, err := Verify(ctx, l, keys); err != nil {
			return nil, fmt.Errorf("audit: reconcile: ledger %s: %w", l.Path(), err)
		}
		s, err := summarize(ctx, l)
		if err != nil {
			return nil, err
		}
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
}

func (s *side) name() string { return s.cfg.GetLedgerName() }

func summarize(ctx context.Context, l *ledger.Ledger) (*side, error) {
	s := &side{sent: make(map[string]*flow), received: make(map[string]*flow)}
	err := l.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		if e.GetIndex()%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
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
