// Package audit checks ledgers offline: it reads a node's ledger file and the
// keys the two agencies published, and needs nothing else: no network, no node,
// no clock but the one in the entries.
//
// [Verify] walks one ledger from entry 0 and checks every entry against the
// protocol the nodes follow (see DESIGN.md, decision 3): each SENT and
// RECEIVED entry names an envelope kept beside it whose bytes hash to the named
// SHA-256 and carry a valid signature by the right node; each RECEIPT_ISSUED and
// RECEIPT_RECEIVED entry names a receipt signed by the receiving node that says
// exactly what the entry says. It stops at the first entry that is wrong and
// names it in a [*Problem].
//
// [Reconcile] compares the two ledgers of one link: what one side sent the
// other must have received, byte for byte, and the receipts both hold must be
// the same bytes.
//
// # Whom the auditor trusts
//
// Given a [Keys] file, Verify trusts only those keys: a ledger cannot vouch for
// itself. Without one it takes the keys from the ledger's own CONFIG entries,
// which shows the ledger is consistent but not that it is genuine: whoever can
// rewrite the file can rewrite the CONFIG entries and sign anew. In both cases
// the CONFIG entry in force at an entry (the latest at or before it) says which
// party, and which key by name and key hash, must have signed it, so a key
// rotation recorded in the ledger is followed entry by entry.
//
// # What one ledger cannot show
//
// Entries are not yet chained or committed to by signed checkpoints (DESIGN.md,
// decision 4), so Verify cannot see that entries were cut off the end of a
// ledger (a prefix of a valid ledger is a valid ledger), nor a changed
// recorded_at that no signature covers and that keeps the times in order.
// Reconcile catches the first against the counterpart's ledger.
package audit
