package ledger

import "encoding/binary"

// Every bucket of the ledger file, in one place. Changing a name is a file-format
// change.
var (
	// bucketEntries: index (8 bytes, big-endian) → serialized ledgerv1.Entry.
	// Append-only: keys only grow, values never change.
	bucketEntries = []byte("entries")
	// bucketBlobs: index (8 bytes, big-endian) || SHA-256 → the signed bytes
	// (Envelope, SignedReceipt or cosigned checkpoint) that entry introduced,
	// stored once: blob.go says which entry introduced what. Keyed by index so
	// that appends write at the right edge of the tree, as for entries; format
	// 1 keyed by the SHA-256 alone (see migrate.go).
	bucketBlobs = []byte("blobs")
	// bucketMessages: message ID || 0x00 || index → entry kind (1 byte). The index
	// by message ID: every entry about a message, in ledger order.
	bucketMessages = []byte("messages")
	// bucketInbox: index of a RECEIVED entry → message ID, to list received
	// messages without scanning the ledger.
	bucketInbox = []byte("inbox")
	// bucketOutbox: index of a SENT entry → outbox row, for messages still waiting
	// for the counterpart's receipt. Rows go when the receipt is ledgered; the
	// outbox is a work queue beside the ledger, not part of it.
	bucketOutbox = []byte("outbox")
	// bucketConflicts: SHA-256 of an envelope → conflict row: validly signed
	// envelopes refused because their message ID was already recorded with
	// other bytes. Evidence of a misbehaving counterpart, kept beside the
	// ledger and capped, so the counterpart cannot grow the file without bound.
	bucketConflicts = []byte("conflicts")
	// bucketTree: level (1 byte) || index (8 bytes) → SHA-256: the hash of
	// every full subtree of the Merkle tree over the entries, leaves included.
	bucketTree = []byte("tree")
	// bucketForks: SHA-256 of the evidence → a checkpoint of the counterpart's
	// that contradicts one this node cosigned, with the proof it came with.
	// Capped like bucketConflicts.
	bucketForks = []byte("forks")
	// bucketThreads: thread ID || 0x00 || index → entry kind: the index by case.
	bucketThreads = []byte("threads")
	// bucketRequests: message ID → request row, for alerts and referrals still
	// waiting for an answer: the deadline and which way the request went. A
	// row goes when the request is answered or withdrawn.
	bucketRequests = []byte("requests")
	// bucketDeadlines: deadline (8 bytes, big-endian Unix nanoseconds) ||
	// message ID → direction (1 byte): the rows of bucketRequests in deadline
	// order, so that counting the overdue ones reads only those.
	bucketDeadlines = []byte("deadlines")
	// bucketMeta: small facts about the file, e.g. the index of the latest CONFIG entry.
	bucketMeta = []byte("meta")

	// coreBuckets are in every ledger file of this format.
	coreBuckets = [][]byte{bucketEntries, bucketBlobs, bucketMessages, bucketInbox, bucketOutbox, bucketMeta}
	// laterBuckets were added to the format since; a writable open creates them,
	// a read-only open of an older file does without them.
	laterBuckets = [][]byte{bucketConflicts, bucketTree, bucketForks, bucketThreads, bucketRequests, bucketDeadlines}
)

// Keys of bucketMeta.
var (
	metaFormat = []byte("format")
	metaConfig = []byte("config_index")
	// metaCheckpoint: the latest checkpoint this node signed.
	metaCheckpoint = []byte("checkpoint")
	// metaCosigned, metaWitnessed: index of the latest CHECKPOINT_COSIGNED and
	// CHECKPOINT_WITNESSED entries.
	metaCosigned  = []byte("cosigned_index")
	metaWitnessed = []byte("witnessed_index")
	// metaRekeyed: while a migration from format 1 is under way, the index of
	// the first entry whose blob is not yet under its format-2 key.
	metaRekeyed = []byte("blobs_rekeyed_to")
)

// formatVersion is written into a new file; an unknown version is refused
// rather than misread. A writable open migrates a file of formatVersion1,
// which differs only in the keys of bucketBlobs; a read-only open reads it as
// it is.
const (
	formatVersion  = "focalpoint-ledger-2"
	formatVersion1 = "focalpoint-ledger-1"
)

func u64(i uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return b[:]
}

func messageKey(id string, index uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return append(k, u64(index)...)
}

func messagePrefix(id string) []byte {
	return append([]byte(id), 0)
}
