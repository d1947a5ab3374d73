package ledger

import "errors"

// Errors returned by the ledger. Refusals (ErrConflict, ErrDuplicate,
// ErrUnknownMessage) change nothing; the caller should tell whoever asked.
var (
	// ErrClosed: the ledger is closed or closing; nothing was written.
	ErrClosed = errors.New("ledger: closed")
	// ErrInUse: another process holds the file open for writing.
	ErrInUse = errors.New("ledger: file in use")
	// ErrReadOnly: the ledger was opened read-only, e.g. for an audit.
	ErrReadOnly = errors.New("ledger: opened read-only")
	// ErrNotFound: no such entry, message or blob.
	ErrNotFound = errors.New("ledger: not found")
	// ErrConflict: a message ID already recorded with other bytes. The original
	// stands; the newcomer is refused.
	ErrConflict = errors.New("ledger: message ID already recorded with other bytes")
	// ErrDuplicate: a message ID already used by this node.
	ErrDuplicate = errors.New("ledger: message ID already recorded")
	// ErrOutboxFull: the outbox holds as many messages as the caller allows.
	ErrOutboxFull = errors.New("ledger: outbox full")
	// ErrUnknownMessage: a receipt for a message this node never sent.
	ErrUnknownMessage = errors.New("ledger: no such sent message")
	// ErrInvalidInput: a caller passed something the ledger must never hold
	// (an empty or malformed message ID, an empty envelope, an incomplete
	// configuration). Nothing was written.
	ErrInvalidInput = errors.New("ledger: invalid input")
	// ErrCorrupt: the file does not hold what the ledger wrote. Stop and audit.
	ErrCorrupt = errors.New("ledger: corrupt")
)
