package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Format 1 kept each blob under its SHA-256 alone. A writable open moves
// every blob to its format-2 key (the index of the entry that introduced it,
// then the SHA-256) before the ledger is used, walking the entries in order.
// Entries, and so the Merkle tree, checkpoints and proofs, are not touched.
//
// The move runs in transactions of rekeyChunk entries: one transaction for a
// ledger of a million entries would hold every blob of the file in memory
// until it commits. Each records in meta how far it got, so a migration cut
// short by a crash or a kill goes on from there at the next open. Old keys go
// as their blobs move, so the pages they free are reused by the next chunk
// and the file does not grow by a second copy of its blobs.

// rekeyChunk is how many entries one migration transaction covers: tens of
// megabytes of blobs at most, committed and freed before the next.
const rekeyChunk = 10_000

// upgrade migrates a format-1 file to format 2; other files it leaves for
// prepare to judge.
func (l *Ledger) upgrade() error {
	var old bool
	if err := l.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		old = meta != nil && string(meta.Get(metaFormat)) == formatVersion1
		return nil
	}); err != nil {
		return fmt.Errorf("ledger: read format: %w", err)
	}
	if !old {
		return nil
	}
	start := time.Now()
	moved := 0
	for {
		n, done, err := rekeyBlobs(l.db, rekeyChunk)
		moved += n
		if err != nil {
			return fmt.Errorf("ledger: migrate to %s after moving %d blobs: %w", formatVersion, moved, err)
		}
		if done {
			break
		}
	}
	l.log.Info("ledger: blobs re-keyed by entry index", "format", formatVersion, "blobs", moved, "took", time.Since(start))
	return nil
}

// rekeyBlobs moves the blobs of the next n entries not yet migrated to their
// format-2 keys in one transaction, and reports how many it moved. done is
// true once every entry's blob is moved and the file says format 2.
func rekeyBlobs(db *bolt.DB, n int) (moved int, done bool, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		moved, done = 0, false
		meta := tx.Bucket(bucketMeta)
		if meta == nil || string(meta.Get(metaFormat)) != formatVersion1 {
			return fmt.Errorf("%w: not a file of format %s", ErrCorrupt, formatVersion1)
		}
		entries, blobs := tx.Bucket(bucketEntries), tx.Bucket(bucketBlobs)
		if entries == nil || blobs == nil {
			return fmt.Errorf("%w: no %s or %s bucket", ErrCorrupt, bucketEntries, bucketBlobs)
		}
		// New keys arrive in increasing order, as they do from appends.
		blobs.FillPercent = 1.0
		next, err := rekeyedUpTo(meta)
		if err != nil {
			return err
		}
		c := entries.Cursor()
		k, v := c.Seek(u64(next))
		for end := next + uint64(n); k != nil && next < end; k, v = c.Next() {
			if len(k) != 8 || beU64(k) != next {
				return fmt.Errorf("%w: index gap: want entry %d, found key %x", ErrCorrupt, next, k)
			}
			e, err := parseEntry(next, v)
			if err != nil {
				return err
			}
			if own := introduces(e.GetKind()); own != noBlob {
				if err := rekeyBlob(tx, blobs, next, own, own.sum(e)); err != nil {
					return err
				}
				moved++
			}
			next++
		}
		if k != nil {
			return meta.Put(metaRekeyed, u64(next))
		}
		done = true
		if err := meta.Delete(metaRekeyed); err != nil {
			return err
		}
		return meta.Put(metaFormat, []byte(formatVersion))
	})
	if err != nil {
		return 0, false, err
	}
	return moved, done, nil
}

// rekeyBlob moves the blob entry index introduced to its format-2 key.
func rekeyBlob(tx *bolt.Tx, blobs *bolt.Bucket, index uint64, k blobKind, sum []byte) error {
	if len(sum) != sha256.Size {
		return fmt.Errorf("%w: entry %d names a %s by a SHA-256 of %d bytes", ErrCorrupt, index, k, len(sum))
	}
	v := blobs.Get(sum)
	if v == nil {
		// Format 1 kept bytes two entries introduced once; the first of them
		// has taken the only copy.
		var err error
		if v, err = earlierCopy(tx, index, sum); err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("%w: the %s %x of entry %d is missing", ErrCorrupt, k, sum, index)
		}
	}
	// A copy: v points into a page the Put and Delete below may free.
	v = bytes.Clone(v)
	if err := blobs.Put(blobKey(index, sum), v); err != nil {
		return fmt.Errorf("move %s of entry %d: %w", k, index, err)
	}
	if err := blobs.Delete(sum); err != nil {
		return fmt.Errorf("move %s of entry %d: %w", k, index, err)
	}
	return nil
}

// rekeyedUpTo is the index of the first entry whose blob a migration cut
// short has not moved yet; 0 when none has begun.
func rekeyedUpTo(meta *bolt.Bucket) (uint64, error) {
	v := meta.Get(metaRekeyed)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, metaRekeyed, len(v))
	}
	return beU64(v), nil
}
