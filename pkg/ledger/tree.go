package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// The ledger is a transparency log: every entry is a leaf of an RFC 6962
// Merkle tree whose leaf bytes are the entry exactly as stored. The hash of
// every full subtree is kept in bucketTree as entries are appended, so the
// root at any size and any inclusion or consistency proof are O(log n) reads.

var (
	hasher       = rfc6962.DefaultHasher
	rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// LeafHash is the RFC 6962 leaf hash of an entry's stored bytes.
func LeafHash(raw []byte) []byte { return hasher.HashLeaf(raw) }

func nodeKey(id compact.NodeID) []byte {
	k := make([]byte, 9)
	k[0] = byte(id.Level)
	binary.BigEndian.PutUint64(k[1:], id.Index)
	return k
}

// nodeReader reads subtree hashes within one transaction.
type nodeReader func(id compact.NodeID) ([]byte, error)

func (l *Ledger) nodes(tx *bolt.Tx) nodeReader {
	b := tx.Bucket(bucketTree)
	return func(id compact.NodeID) ([]byte, error) {
		if b != nil {
			if h := b.Get(nodeKey(id)); h != nil {
				return bytes.Clone(h), nil
			}
		}
		if h, ok := l.memTree[id]; ok {
			return h, nil
		}
		return nil, fmt.Errorf("%w: no tree node at level %d index %d", ErrCorrupt, id.Level, id.Index)
	}
}

func readNodes(read nodeReader, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := read(id)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// rangeAt is the compact range [0, size) of the tree.
func rangeAt(read nodeReader, size uint64) (*compact.Range, error) {
	hashes, err := readNodes(read, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("%w: tree at size %d: %w", ErrCorrupt, size, err)
	}
	return r, nil
}

// loadTree finds the compact range of the whole ledger at open. A file written
// before the ledger kept its tree gets its tree built from its entries: stored
// when the file is writable, in memory when it is not.
func (l *Ledger) loadTree(tx *bolt.Tx, writable bool) error {
	size := l.size.Load()
	if size == 0 {
		l.tree = rangeFactory.NewEmptyRange(0)
		return nil
	}
	if r, err := rangeAt(l.nodes(tx), size); err == nil {
		l.tree = r
		return nil
	}
	b := tx.Bucket(bucketTree)
	r := rangeFactory.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) {
		if writable {
			// An error here surfaces as a missing node below.
			_ = b.Put(nodeKey(id), h)
		} else {
			l.memTree[id] = h
		}
	}
	c := tx.Bucket(bucketEntries).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := r.Append(LeafHash(v), visit); err != nil {
			return fmt.Errorf("%w: rebuilding the tree: %w", ErrCorrupt, err)
		}
	}
	if r.End() != size {
		return fmt.Errorf("%w: %d entries but the last is number %d", ErrCorrupt, r.End(), size-1)
	}
	if _, err := rangeAt(l.nodes(tx), size); err != nil {
		return err
	}
	l.tree = r
	return nil
}

// cloneRange copies a compact range: Append reuses its slice, so a batch that
// is rolled back must not have touched the committed one.
func cloneRange(r *compact.Range) *compact.Range {
	c, err := rangeFactory.NewRange(r.Begin(), r.End(), slices.Clone(r.Hashes()))
	if err != nil {
		panic(fmt.Sprintf("ledger: cloning a valid range: %v", err))
	}
	return c
}

// Root is the tree's root hash at size (size ≤ Size()).
func (l *Ledger) Root(size uint64) ([]byte, error) {
	if size > l.Size() {
		return nil, fmt.Errorf("%w: size %d is beyond the ledger's %d entries", ErrNotFound, size, l.Size())
	}
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	var root []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		r, err := rangeAt(l.nodes(tx), size)
		if err != nil {
			return err
		}
		root, err = r.GetRootHash(nil)
		return err
	})
	return root, err
}

// InclusionProof proves entry index is in the tree of the given size.
func (l *Ledger) InclusionProof(index, size uint64) ([][]byte, error) {
	if size > l.Size() {
		return nil, fmt.Errorf("%w: size %d is beyond the ledger's %d entries", ErrNotFound, size, l.Size())
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return l.rehash(nodes)
}

// ConsistencyProof proves the tree of size2 extends the tree of size1.
func (l *Ledger) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	if size2 > l.Size() {
		return nil, fmt.Errorf("%w: size %d is beyond the ledger's %d entries", ErrNotFound, size2, l.Size())
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return l.rehash(nodes)
}

func (l *Ledger) rehash(nodes proof.Nodes) ([][]byte, error) {
	var hashes [][]byte
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		hashes, err = readNodes(l.nodes(tx), nodes.IDs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// Checkpoint is the latest checkpoint this node signed: a C2SP tlog-checkpoint
// note. It is nil for a ledger without a log signer.
func (l *Ledger) Checkpoint() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.checkpoint)
}

// CheckpointOf reads the checkpoint in a signed note this ledger holds,
// without checking signatures: they were checked before it was stored, and
// an auditor checks them again.
func CheckpointOf(signed []byte) (*log.Checkpoint, error) {
	text, _, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: a checkpoint note without signatures", ErrCorrupt)
	}
	var cp log.Checkpoint
	// A copy: the note may be shared, and Unmarshal wants the text's last newline.
	if _, err := cp.Unmarshal(append(bytes.Clone(text), '\n')); err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %w", ErrCorrupt, err)
	}
	return &cp, nil
}

// signCheckpoint signs the tree as it stands at the end of a batch.
func signCheckpoint(signer note.Signer, origin string, size uint64, r *compact.Range) ([]byte, error) {
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		root = hasher.EmptyRoot()
	}
	text := log.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return signed, nil
}
