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
}

// pendingShown is how many pending messages WriteText lists by ID.
const pendingShown = 20

// WriteText writes a short summary for people:
//
//	ledger    imigrasi.go.id/focalpoint/ledger
//	entries   9: CONFIG 1, SENT 3, RECEIVED 1, RECEIPT_ISSUED 1, RECEIPT_RECEIVED 2
//	messages  3 sent, 1 received
//	pending   1 sent message without a receipt
//	          0197a4c0-0000-7000-8000-000000000004  entry 8      sent 2025-06-01T00:00:00.008Z
//	span      2025-06-01T00:00:00.001Z to 2025-06-01T00:00:00.008Z (7ms)
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
	_, err := io.WriteString(w, b.String())
	return err
}
