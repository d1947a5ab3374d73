// Package ledger is a node's append-only record of everything it sent, received
// and acknowledged, kept in one bbolt file.
//
// Entries are numbered from 0 without gaps and are never updated or deleted.
// Each entry holds metadata and hashes only; the signed bytes it speaks of
// (envelopes, receipts, cosigned checkpoints) sit beside the entry that
// introduced them, keyed by its index and their SHA-256. Writes from
// concurrent callers are committed together, one transaction and one fsync per
// batch, and a write returns only once its transaction is durable.
//
// See README.md in this directory for the life of an entry and the file layout.
package ledger
