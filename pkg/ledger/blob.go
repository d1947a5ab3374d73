package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	bolt "go.etcd.io/bbolt"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// Signed bytes (envelopes, receipts, cosigned checkpoints) are kept once,
// beside the entry that brought them into the ledger: under that entry's index
// and their SHA-256. Appends then add blobs in key order, to the right edge of
// the bucket, as they add entries; a commit touches a few pages at the end of
// the file instead of a random leaf of a tree as large as everything ever
// exchanged, and a node's working set stays near the recent end of the file.
//
// The price is that a blob is found from an entry, not from a hash alone: the
// rule below says which entry introduced the blob an entry names, and it lives
// here and nowhere else.

// blobKind is a sort of signed bytes an entry can name.
type blobKind uint8

const (
	noBlob blobKind = iota
	envelopeBlob
	receiptBlob
	checkpointBlob
)

func (k blobKind) String() string {
	switch k {
	case envelopeBlob:
		return "envelope"
	case receiptBlob:
		return "receipt"
	case checkpointBlob:
		return "cosigned checkpoint"
	}
	return "blob"
}

// introduces is the blob an entry of kind k brings into the ledger.
func introduces(k ledgerv1.EntryKind) blobKind {
	switch k {
	case ledgerv1.EntryKind_ENTRY_KIND_SENT, ledgerv1.EntryKind_ENTRY_KIND_RECEIVED:
		return envelopeBlob
	case ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED:
		return receiptBlob
	case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED, ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED:
		return checkpointBlob
	}
	return noBlob
}

// sum is the field of e naming a blob of kind k.
func (k blobKind) sum(e *ledgerv1.Entry) []byte {
	switch k {
	case envelopeBlob:
		return e.GetEnvelopeSha256()
	case receiptBlob:
		return e.GetReceiptSha256()
	case checkpointBlob:
		return e.GetCheckpointSha256()
	}
	return nil
}

func (k blobKind) setSum(e *ledgerv1.Entry, sum []byte) {
	switch k {
	case envelopeBlob:
		e.EnvelopeSha256 = sum
	case receiptBlob:
		e.ReceiptSha256 = sum
	case checkpointBlob:
		e.CheckpointSha256 = sum
	}
}

// locate says where the blob of kind k that e names is kept: the index of the
// entry that introduced it, and its SHA-256. An entry introduces its own blob;
// a receipt entry also names the envelope that the entry it refers to (the
// RECEIVED or SENT entry) introduced.
func locate(e *ledgerv1.Entry, k blobKind) (index uint64, sum []byte, ok bool) {
	own := introduces(e.GetKind())
	switch {
	case own == noBlob || k == noBlob:
		return 0, nil, false
	case own == k:
		return e.GetIndex(), k.sum(e), true
	case own == receiptBlob && k == envelopeBlob:
		return e.GetRefersToIndex(), e.GetEnvelopeSha256(), true
	}
	return 0, nil, false
}

// blobKey is index (8 bytes, big-endian) || SHA-256.
func blobKey(index uint64, sum []byte) []byte {
	return append(u64(index), sum...)
}

// Envelope returns the envelope a SENT, RECEIVED, RECEIPT_ISSUED or
// RECEIPT_RECEIVED entry names, exactly as signed.
func (l *Ledger) Envelope(e *ledgerv1.Entry) ([]byte, error) {
	return l.blob(e, envelopeBlob)
}

// Receipt returns the signed receipt a RECEIPT_ISSUED or RECEIPT_RECEIVED
// entry records.
func (l *Ledger) Receipt(e *ledgerv1.Entry) ([]byte, error) {
	return l.blob(e, receiptBlob)
}

// CheckpointNote returns the cosigned checkpoint a CHECKPOINT_COSIGNED or
// CHECKPOINT_WITNESSED entry records.
func (l *Ledger) CheckpointNote(e *ledgerv1.Entry) ([]byte, error) {
	return l.blob(e, checkpointBlob)
}

func (l *Ledger) blob(e *ledgerv1.Entry, k blobKind) ([]byte, error) {
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		v, err := getBlob(tx, e, k)
		out = bytes.Clone(v)
		return err
	})
	return out, err
}

// getBlob returns the blob of kind k that e names, or ErrNotFound. The bytes
// are valid for the life of tx.
func getBlob(tx *bolt.Tx, e *ledgerv1.Entry, k blobKind) ([]byte, error) {
	index, sum, ok := locate(e, k)
	if !ok {
		return nil, fmt.Errorf("%w: entry %d is %s, which names no %s", ErrNotFound, e.GetIndex(), KindName(e.GetKind()), k)
	}
	if len(sum) != sha256.Size {
		return nil, fmt.Errorf("%w: %s of entry %d: a SHA-256 of %d bytes", ErrNotFound, k, e.GetIndex(), len(sum))
	}
	if v := tx.Bucket(bucketBlobs).Get(blobKey(index, sum)); v != nil {
		return v, nil
	}
	v, err := formerBlob(tx, index, sum)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%w: %s %x of entry %d", ErrNotFound, k, sum, index)
	}
	return v, nil
}

// formerBlob looks for a blob where format 1 kept it, in a file of that
// format: one opened read-only (an auditor's old copy), which is never
// migrated. A migration cut short may already have moved it beside an earlier
// entry that introduced the same bytes, as format 1 kept those only once.
func formerBlob(tx *bolt.Tx, index uint64, sum []byte) ([]byte, error) {
	meta := tx.Bucket(bucketMeta)
	if string(meta.Get(metaFormat)) != formatVersion1 {
		return nil, nil
	}
	if v := tx.Bucket(bucketBlobs).Get(sum); v != nil {
		return v, nil
	}
	done, err := rekeyedUpTo(meta)
	if err != nil || done == 0 {
		return nil, err
	}
	return earlierCopy(tx, min(index, done), sum)
}

// earlierCopy returns the copy of a blob kept beside the first entry below
// before that introduced it, if there is one. It reads every entry up to
// there, so it is for the rare blob two entries of a format-1 file shared.
func earlierCopy(tx *bolt.Tx, before uint64, sum []byte) ([]byte, error) {
	c := tx.Bucket(bucketEntries).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return nil, fmt.Errorf("%w: entry key of %d bytes", ErrCorrupt, len(k))
		}
		i := beU64(k)
		if i >= before {
			return nil, nil
		}
		e, err := parseEntry(i, v)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(introduces(e.GetKind()).sum(e), sum) {
			if b := tx.Bucket(bucketBlobs).Get(blobKey(i, sum)); b != nil {
				return b, nil
			}
		}
	}
	return nil, nil
}
