package audit

import (
	"fmt"
	"io"
	"strings"
	"time"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// Report is what a verified ledger holds.
type Report struct {
	// LedgerName is the name the ledger's configuration gives it.
	LedgerName string `json:"ledger_name"`
	// Entries is how many entries were checked: all of them.
	Entries uint64 `json:"entries"`
	// ByKind counts entries by kind, keyed by ledger.KindName (e.g. "SENT");
	// every kind is present, with 0 if the ledger has none.
	ByKind map[string]uint64 `json:"by_kind"`
	// Sent and Received count messages sent and received.
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	// Pending lists the sent messages without the counterpart's receipt, in
	// ledger order: in flight, or never delivered.
	Pending []PendingMessage `json:"pending"`
	// First and Last are when the first and last entries were recorded.
	First time.Time `json:"first_recorded_at"`
	Last  time.Time `json:"last_recorded_at"`
	// CheckpointSize is the size of the latest checkpoint the node signed of
	// its ledger; 0 for a ledger from before checkpoints.
	CheckpointSize uint64 `json:"checkpoint_size"`
	// LatestCosignedSize is the size of the newest of the node's checkpoints
	// its counterpart cosigned (the latest CHECKPOINT_COSIGNED entry), and
	// LatestCosignedAt the time in that cosignature; 0 and the zero time if
	// none. Entries beyond that size are not yet held in check by the
	// counterpart.
	LatestCosignedSize uint64    `json:"latest_cosigned_size"`
	LatestCosignedAt   time.Time `json:"latest_cosigned_at,omitzero"`
	// LatestWitnessedSize is the size of the newest of the counterpart's
	// checkpoints this node cosigned; 0 if none.
	LatestWitnessedSize uint64 `json:"latest_witnessed_size"`
	// Forks counts the checkpoints of the counterpart the node refused to
	// cosign because they contradict one it had cosigned, kept as evidence
	// (ledger.Forks). Not a fault of this ledger: a sign the counterpart's
	// ledger was rewritten or rolled back.
	Forks int `json:"forks"`
}

// PendingMessage is a sent message still waiting for its receipt.
type PendingMessage struct {
	MessageID string    `json:"message_id"`
	SentIndex uint64    `json:"sent_index"`
	SentAt    time.Time `json:"sent_at"`
}

// kindOrder is the order kinds are shown in: the life of a message.
var kindOrder = []ledgerv1.EntryKind{
	ledgerv1.EntryKind_ENTRY_KIND_CONFIG,
	ledgerv1.EntryKind_ENTRY_KIND_SENT,
	ledgerv1.EntryKind_ENTRY_KIND_RECEIVED,
	ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED,
	ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED,
	ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED,
	ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED,
}

// pendingShown is how many pending messages WriteText lists by ID.
const pendingShown = 20

// WriteText writes a short summary for people:
//
//	ledger    imigrasi.go.id/focalpoint/ledger
//	entries   11: CONFIG 1, SENT 3, RECEIVED 1, RECEIPT_ISSUED 1, RECEIPT_RECEIVED 2, CHECKPOINT_COSIGNED 2, CHECKPOINT_WITNESSED 1
//	messages  3 sent, 1 received
//	pending   1 sent message without a receipt
//	          0197a4c0-0000-7000-8000-000000000004  entry 8      sent 2025-06-01T00:00:00.008Z
//	span      2025-06-01T00:00:00.001Z to 2025-06-01T00:00:00.010Z (9ms)
//	signed    checkpoint of 11 entries
//	cosigned  by the counterpart up to 9 entries, at 2025-06-01T00:00:01Z
//	witnessed the counterpart's ledger up to 7 entries
//	forks     none
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger    %s\n", r.LedgerName)
	kinds := make([]string, 0, len(kindOrder))
	for _, k := range kindOrder {
		name := ledger.KindName(k)
		kinds = append(kinds, fmt.Sprintf("%s %d", name, r.ByKind[name]))
	}
	fmt.Fprintf(&b, "entries   %d: %s\n", r.Entries, strings.Join(kinds, ", "))
	fmt.Fprintf(&b, "messages  %d sent, %d received\n", r.Sent, r.Received)
	switch n := len(r.Pending); n {
	case 0:
		b.WriteString("pending   none: every sent message has its receipt\n")
	default:
		plural := "s"
		if n == 1 {
			plural = ""
		}
		fmt.Fprintf(&b, "pending   %d sent message%s without a receipt\n", n, plural)
		for i, p := range r.Pending {
			if i == pendingShown {
				fmt.Fprintf(&b, "          … and %d more\n", n-pendingShown)
				break
			}
			fmt.Fprintf(&b, "          %s  entry %-6d sent %s\n", p.MessageID, p.SentIndex, stamp(p.SentAt))
		}
	}
	fmt.Fprintf(&b, "span      %s to %s (%s)\n", stamp(r.First), stamp(r.Last), r.Last.Sub(r.First))
	if r.CheckpointSize == 0 {
		b.WriteString("signed    no checkpoint (a ledger from before checkpoints)\n")
	} else {
		fmt.Fprintf(&b, "signed    checkpoint of %d entries\n", r.CheckpointSize)
	}
	if r.LatestCosignedSize == 0 {
		b.WriteString("cosigned  none: no checkpoint cosigned by the counterpart\n")
	} else {
		fmt.Fprintf(&b, "cosigned  by the counterpart up to %d entries, at %s\n", r.LatestCosignedSize, stamp(r.LatestCosignedAt))
	}
	if r.LatestWitnessedSize == 0 {
		b.WriteString("witnessed none of the counterpart's checkpoints\n")
	} else {
		fmt.Fprintf(&b, "witnessed the counterpart's ledger up to %d entries\n", r.LatestWitnessedSize)
	}
	if r.Forks == 0 {
		b.WriteString("forks     none\n")
	} else {
		fmt.Fprintf(&b, "forks     %d checkpoints of the counterpart contradict ones this node cosigned; evidence kept in the ledger file\n", r.Forks)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
