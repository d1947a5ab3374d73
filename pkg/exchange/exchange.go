// Package exchange is the link between two nodes.
//
// The Receiver serves the peer API: it admits only the counterpart node,
// verifies each envelope, ledgers it and answers with a signed receipt that is
// durable before it is returned. The Sender turns an officer's draft into a
// signed message, commits it to the ledger and the outbox in one transaction,
// and delivers it, retrying with backoff, until the counterpart's valid receipt
// is ledgered too.
//
// Delivery is at-least-once on the wire and exactly-once in the ledgers: the
// receiver deduplicates by message ID, answering the same bytes with the
// original receipt and refusing other bytes under a known ID.
package exchange

import (
	"errors"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/mod/sumdb/note"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// Errors of the exchange, beyond those of the packages it uses (message,
// envelope, ledger).
var (
	// ErrNotPeer: the caller, or the signed sender, is not the counterpart node.
	ErrNotPeer = errors.New("exchange: not the counterpart node")
	// ErrTooLarge: the envelope is larger than the configured limit.
	ErrTooLarge = errors.New("exchange: envelope too large")
	// ErrOutboxFull: too many messages wait for delivery; try again later.
	ErrOutboxFull = errors.New("exchange: outbox full, try again later")
	// ErrBadReceipt: the counterpart answered with a receipt that does not match
	// the message delivered.
	ErrBadReceipt = errors.New("exchange: receipt does not match the message")
)

// OutboxFullError carries how long a submitter should wait before trying again.
type OutboxFullError struct {
	Pending int
	Limit   int
	// RetryAfter is a hint, not a promise.
	RetryAfter time.Duration
}

func (e *OutboxFullError) Error() string {
	return "exchange: outbox full, try again later"
}

// Unwrap makes errors.Is(err, ErrOutboxFull) hold.
func (e *OutboxFullError) Unwrap() error { return ErrOutboxFull }

// Link is what both ends of the link are.
type Link struct {
	Self        *messagev1.Party
	SelfID      spiffeid.ID
	Counterpart *messagev1.Party
	PeerID      spiffeid.ID
	// SelfSigner signs this node's envelopes and receipts.
	SelfSigner note.Signer
	// PeerKeys verify the counterpart's envelopes and receipts.
	PeerKeys note.Verifiers

	// SelfOrigin and PeerOrigin are the two ledgers' names, the origins of
	// their checkpoints.
	SelfOrigin, PeerOrigin string
	// SelfLog verifies this node's checkpoints; PeerLog the counterpart's.
	SelfLog, PeerLog note.Verifier
	// Cosigner cosigns the counterpart's checkpoints; PeerCosigner verifies
	// the counterpart's cosignatures of ours.
	Cosigner     note.Signer
	PeerCosigner note.Verifier
}
