package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is what every [*Problem] is: the ledger is not what the nodes'
// protocol writes. Nothing in it after the named entry was checked; treat the
// copy as evidence of tampering or of a node fault, and keep it.
var ErrInvalid = errors.New("audit: ledger invalid")

// Problem is the first entry of a ledger found wrong, or the ledger's latest
// signed checkpoint.
type Problem struct {
	// Index is the entry's index. For a problem with the checkpoint it is the
	// number of entries the checkpoint commits to, if it says.
	Index uint64
	// Checkpoint is true when what is wrong is the latest checkpoint the node
	// signed, kept beside the entries (ledger.Checkpoint), not an entry.
	Checkpoint bool
	// Kind is the entry's kind as ledger.KindName gives it, or empty when the
	// entry could not be read.
	Kind string
	// MessageID is the message the entry speaks of, if any.
	MessageID string
	// What says what is wrong, in words.
	What string
	// Err is the underlying error, if any, e.g. envelope.ErrUnknownKey or
	// ledger.ErrCorrupt.
	Err error
}

// Error reads like "audit: entry 41 (RECEIPT_RECEIVED, message 0190…): what",
// or "audit: checkpoint (size 120): what".
func (p *Problem) Error() string {
	var b strings.Builder
	if p.Checkpoint {
		b.WriteString("audit: checkpoint")
		if p.Index > 0 {
			fmt.Fprintf(&b, " (size %d)", p.Index)
		}
		b.WriteString(": " + p.What)
		return b.String()
	}
	fmt.Fprintf(&b, "audit: entry %d", p.Index)
	switch {
	case p.Kind != "" && p.MessageID != "":
		fmt.Fprintf(&b, " (%s, message %s)", p.Kind, p.MessageID)
	case p.Kind != "":
		fmt.Fprintf(&b, " (%s)", p.Kind)
	case p.MessageID != "":
		fmt.Fprintf(&b, " (message %s)", p.MessageID)
	}
	b.WriteString(": ")
	b.WriteString(p.What)
	return b.String()
}

// Is makes errors.Is(p, ErrInvalid) true.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying error.
func (p *Problem) Unwrap() error { return p.Err }

// short is a hash as people compare them in a message: enough hex to tell two
// apart, not all 64 digits.
func short(sum []byte) string {
	if len(sum) == 0 {
		return "(none)"
	}
	const n = 8
	if len(sum) <= n {
		return hex.EncodeToString(sum)
	}
	return hex.EncodeToString(sum[:n]) + "…"
}
