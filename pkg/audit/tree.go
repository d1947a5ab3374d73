package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/encoding/protowire"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// The auditor computes the ledger's Merkle tree itself, from the entries'
// stored bytes (RFC 6962 leaves, ledger.LeafHash), and trusts neither the tree
// the ledger stores nor any root it is told: it keeps only the compact range
// (one hash per level) as it goes.

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// compactRange is the tree over entries [0, end).
type compactRange struct{ r *compact.Range }

func newRange() *compactRange { return &compactRange{rangeFactory.NewEmptyRange(0)} }

func (c *compactRange) end() uint64 { return c.r.End() }

func (c *compactRange) append(leaf []byte) error { return c.r.Append(leaf, nil) }

// clone copies the range: Append reuses its slice.
func (c *compactRange) clone() *compactRange {
	r, err := rangeFactory.NewRange(0, c.r.End(), slices.Clone(c.r.Hashes()))
	if err != nil {
		panic(fmt.Sprintf("audit: cloning a valid range: %v", err))
	}
	return &compactRange{r}
}

// root is the tree's root hash, a new slice.
func (c *compactRange) root() []byte {
	if c.r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	h, err := c.r.GetRootHash(nil)
	if err != nil {
		panic(fmt.Sprintf("audit: root of a range from 0: %v", err))
	}
	return bytes.Clone(h)
}

// leafHasher computes RFC 6962 leaf hashes of entries' stored bytes, as
// ledger.LeafHash does, without an allocation for each.
type leafHasher struct{ buf []byte }

// append appends the leaf hash of raw to b.
func (l *leafHasher) append(b, raw []byte) []byte {
	l.buf = append(append(l.buf[:0], rfc6962.RFC6962LeafHashPrefix), raw...)
	sum := sha256.Sum256(l.buf)
	return append(b, sum[:]...)
}

// readChunk is how many entries one read transaction of a pass that only
// hashes or peeks at entries hands over.
const readChunk = 4096

// cosignedSizes is the first, cheap, pass of Verify: the checkpoint sizes that
// CHECKPOINT_COSIGNED entries name, ascending, so that the second pass can
// keep the computed root at each of them until it reaches the entry. The
// entries are only peeked at; the second pass checks them.
func cosignedSizes(ctx context.Context, l *ledger.Ledger, limit uint64) ([]uint64, error) {
	var out []uint64
	for from := uint64(0); from < limit; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		raws, err := l.Entries(from, int(min(readChunk, limit-from)))
		if err != nil {
			return nil, fmt.Errorf("audit: read ledger: %w", err)
		}
		if len(raws) == 0 {
			break
		}
		for _, raw := range raws {
			if kind, size := peekCheckpoint(raw); kind == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED {
				out = append(out, size)
			}
		}
		from += uint64(len(raws))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// peekCheckpoint reads an entry's kind and checkpoint_size from its wire
// bytes without decoding the rest. A damaged entry gives whatever it gives.
func peekCheckpoint(raw []byte) (kind ledgerv1.EntryKind, size uint64) {
	const kindField, sizeField = 2, 11
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return kind, size
		}
		raw = raw[n:]
		if typ == protowire.VarintType && (num == kindField || num == sizeField) {
			v, n := protowire.ConsumeVarint(raw)
			if n < 0 {
				return kind, size
			}
			if num == kindField {
				kind = ledgerv1.EntryKind(v)
			} else {
				size = v
			}
			raw = raw[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, raw); n < 0 {
			return kind, size
		}
		raw = raw[n:]
	}
	return kind, size
}
