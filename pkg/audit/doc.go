// Package audit checks ledgers offline: it reads a node's ledger file and the
// keys the two agencies published, and needs nothing else: no network, no node,
// no clock but the one in the entries.
//
// [Verify] walks one ledger from entry 0 and checks every entry against the
// protocol the nodes follow (see DESIGN.md, decisions 3 to 5): each SENT and
// RECEIVED entry names an envelope kept beside it whose bytes hash to the named
// SHA-256 and carry a valid signature by the right node; each RECEIPT_ISSUED and
// RECEIPT_RECEIVED entry names a receipt signed by the receiving node that says
// exactly what the entry says. It stops at the first entry that is wrong and
// names it in a [*Problem].
//
// The ledger is also a transparency log: every entry is a leaf of an RFC 6962
// Merkle tree over its stored bytes. Verify computes that tree itself and
// checks it against what the node signed and what its counterpart cosigned:
// each CHECKPOINT_COSIGNED entry holds a checkpoint (C2SP tlog-checkpoint)
// signed by this node's log key and cosigned (C2SP tlog-cosignature/v1) by the
// counterpart's, whose root must be the root of the entries before it; each
// CHECKPOINT_WITNESSED entry holds a checkpoint of the counterpart's ledger
// that this node cosigned; the latest checkpoint the node signed must have the
// root of its entries; and the tree the ledger stores, from which the node
// hands out proofs, must agree with the computed one.
//
// [Reconcile] compares the two ledgers of one link: what one side sent the
// other must have received, byte for byte, the receipts both hold must be the
// same bytes, and each ledger's entries must have the roots the other cosigned.
//
// [Prove] makes, and [CheckProof] checks with the public libraries alone, a
// C2SP tlog-proof that a ledger holds a message's entry, under a checkpoint the
// counterpart cosigned: what an agency hands to someone who must be convinced
// without the ledger.
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
// A ledger from before checkpoints (its CONFIG names no log keys) commits to
// nothing: Verify cannot see that entries were cut off its end (a prefix of a
// valid ledger is a valid ledger), nor a changed recorded_at that no signature
// covers, if whoever changed it rewrote the stored tree too.
//
// A transparency log commits to its entries with every checkpoint, so cutting
// entries off, or changing one, shows against the latest checkpoint its node
// signed. But a node that rewrites its own history can sign anew: only the
// counterpart's cosignatures bind it. Entries after the newest
// CHECKPOINT_COSIGNED are held by the node's signature alone, and a ledger
// rolled back to an older copy, with its own checkpoint, verifies by itself.
// Reconcile catches both against the counterpart's ledger, which holds the
// checkpoints it cosigned.
package audit

// BatchGCPercent is the garbage collector setting for a process whose job is
// an audit. Verify keeps a few MiB live however large the ledger, and
// allocates as it decodes every entry and message; letting the heap grow to
// ten times the live set before collecting (a few tens of MiB at most) buys
// back a tenth of the run time. The audit commands set it; a node never does.
const BatchGCPercent = 1000
