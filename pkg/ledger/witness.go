package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// Cross-witnessing: each node cosigns the other's checkpoints and each keeps,
// as entries of its own log, the cosignatures it received (CHECKPOINT_COSIGNED)
// and the checkpoints it cosigned (CHECKPOINT_WITNESSED). Neither side can then
// rewrite its history without the other holding a signed checkpoint that
// contradicts it. The checks (signatures, consistency) are the exchange's; the
// ledger records what passed them.

// Witnessed is a cosigned checkpoint as the ledger holds it.
type Witnessed struct {
	// Index of the entry that records it.
	Index uint64
	// Size is the tree size the checkpoint commits to.
	Size uint64
	// Note is the checkpoint with both signatures.
	Note []byte
}

// AppendCheckpointCosigned records the counterpart's cosignature of this
// node's checkpoint of the given size. A checkpoint of the size already
// recorded as latest writes nothing.
func (l *Ledger) AppendCheckpointCosigned(ctx context.Context, size uint64, cosigned []byte) (Witnessed, error) {
	return l.appendCheckpoint(ctx, ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED, metaCosigned, size, cosigned)
}

// AppendWitnessed records that this node cosigned the counterpart's checkpoint
// of the given size. A checkpoint of the size already recorded as latest
// writes nothing.
func (l *Ledger) AppendWitnessed(ctx context.Context, size uint64, cosigned []byte) (Witnessed, error) {
	return l.appendCheckpoint(ctx, ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED, metaWitnessed, size, cosigned)
}

func (l *Ledger) appendCheckpoint(ctx context.Context, kind ledgerv1.EntryKind, latest []byte, size uint64, cosigned []byte) (Witnessed, error) {
	if len(cosigned) == 0 {
		return Witnessed{}, fmt.Errorf("%w: empty checkpoint", ErrInvalidInput)
	}
	var res Witnessed
	var refused error
	err := l.do(ctx, func(w *writer) error {
		res, refused = Witnessed{}, nil
		prev, err := latestWitness(w.tx, latest)
		if err != nil {
			return err
		}
		switch {
		case prev.Note != nil && size < prev.Size:
			refused = fmt.Errorf("%w: checkpoint of size %d is older than the latest recorded, %d", ErrInvalidInput, size, prev.Size)
			return nil
		case prev.Note != nil && size == prev.Size:
			res = prev
			return nil
		}
		i, err := w.appendWith(&ledgerv1.Entry{Kind: kind, CheckpointSize: size}, cosigned)
		if err != nil {
			return err
		}
		res = Witnessed{Index: i, Size: size, Note: cosigned}
		return w.meta.Put(latest, u64(i))
	})
	if err != nil {
		return Witnessed{}, err
	}
	return res, refused
}

// LatestCosigned is the newest of this node's checkpoints that the
// counterpart cosigned; Note is nil if there is none yet.
func (l *Ledger) LatestCosigned() (Witnessed, error) {
	return l.latestWitness(metaCosigned)
}

// LatestWitnessed is the newest of the counterpart's checkpoints that this
// node cosigned; Note is nil if there is none yet.
func (l *Ledger) LatestWitnessed() (Witnessed, error) {
	return l.latestWitness(metaWitnessed)
}

func (l *Ledger) latestWitness(key []byte) (Witnessed, error) {
	var out Witnessed
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = latestWitness(tx, key)
		return err
	})
	return out, err
}

func latestWitness(tx *bolt.Tx, key []byte) (Witnessed, error) {
	v := tx.Bucket(bucketMeta).Get(key)
	if v == nil {
		return Witnessed{}, nil
	}
	if len(v) != 8 {
		return Witnessed{}, fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, key, len(v))
	}
	e, _, err := readEntry(tx, beU64(v))
	if err != nil {
		return Witnessed{}, err
	}
	if !isCheckpointKind(e.GetKind()) {
		return Witnessed{}, fmt.Errorf("%w: entry %d is not a checkpoint entry", ErrCorrupt, e.GetIndex())
	}
	blob, err := getBlob(tx, e, checkpointBlob)
	// Bytes the ledger wrote are gone: corruption, not an absence to act on.
	if errors.Is(err, ErrNotFound) {
		return Witnessed{}, fmt.Errorf("%w: checkpoint of entry %d is missing: %v", ErrCorrupt, e.GetIndex(), err)
	}
	if err != nil {
		return Witnessed{}, err
	}
	return Witnessed{Index: e.GetIndex(), Size: e.GetCheckpointSize(), Note: bytes.Clone(blob)}, nil
}

// NeedsCosign says whether entries other than checkpoint records were
// appended since the newest checkpoint the counterpart cosigned: then the
// witness loop should ask for a new cosignature. Checkpoint records alone do
// not count, or the two nodes would cosign each other's cosignatures forever.
func (l *Ledger) NeedsCosign() (bool, error) {
	last := l.lastActivity.Load()
	if last < 0 {
		return false, nil
	}
	c, err := l.LatestCosigned()
	if err != nil {
		return false, err
	}
	return c.Note == nil || c.Size <= uint64(last), nil
}

// RecordFork keeps evidence of a counterpart checkpoint that contradicts one
// this node cosigned, capped like conflicts. It is not a ledger entry: the
// evidence is the counterpart's signed note, which proves itself.
func (l *Ledger) RecordFork(ctx context.Context, evidence []byte) error {
	return l.do(ctx, func(w *writer) error {
		sum := sha256.Sum256(evidence)
		if w.forks.Get(sum[:]) != nil || w.forks.Stats().KeyN >= l.maxConflicts {
			return nil
		}
		v := binary.BigEndian.AppendUint64(nil, uint64(w.now.UnixNano()))
		return w.forks.Put(sum[:], append(v, evidence...))
	})
}

// Forks returns the fork evidence kept.
func (l *Ledger) Forks() ([][]byte, error) {
	var out [][]byte
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketForks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			if len(v) < 8 {
				return fmt.Errorf("%w: fork evidence row", ErrCorrupt)
			}
			out = append(out, bytes.Clone(v[8:]))
			return nil
		})
	})
	return out, err
}
