package ledger

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

// The ledger's share of a message: AppendSent (or AppendReceived) and
// AppendReceiptReceived, each a group commit with an fsync, a Merkle tree
// update and a signed checkpoint per batch. BenchmarkAppendSentParallel in
// ledger_test.go is the same append from 64·GOMAXPROCS writers without a
// log signer.

func benchLogSigner(b *testing.B) *keys.Signer {
	b.Helper()
	skey, _, err := keys.Generate("imigrasi.go.id/focalpoint/ledger")
	if err != nil {
		b.Fatal(err)
	}
	s, err := keys.ParseSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchLedger opens a ledger as a node does (a log signer, fsync unless
// noSync), with its CONFIG entry.
func benchLedger(b *testing.B, noSync bool) *Ledger {
	b.Helper()
	l, err := Open(filepath.Join(b.TempDir(), "ledger.db"), Options{NoSync: noSync, LogSigner: benchLogSigner(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	if err := l.Init(context.Background(), testConfig()); err != nil {
		b.Fatal(err)
	}
	return l
}

// sentMessage is a message with a fresh UUIDv7 ID, as a node makes, and an
// envelope of 1 KiB.
func sentMessage() Message {
	id := uuid.Must(uuid.NewV7()).String()
	env := make([]byte, 1024)
	rand.Read(env)
	return Message{ID: id, Kind: ledgerv1.MessageKind_MESSAGE_KIND_ALERT, ThreadID: id, Envelope: env}
}

// BenchmarkAppendSent is one writer: every append is its own commit.
func BenchmarkAppendSent(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			l := benchLedger(b, !sync)
			for b.Loop() {
				if _, err := l.AppendSent(context.Background(), sentMessage(), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendSentConcurrent is many writers sharing commits, fsync on:
// the ledger floor of `focalpoint bench`.
func BenchmarkAppendSentConcurrent(b *testing.B) {
	for _, writers := range []int{16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l := benchLedger(b, false)
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if _, err := l.AppendSent(context.Background(), sentMessage(), 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkTreeAppend is the Merkle tree's part of an append: the leaf hash
// and the compact range's update, with the subtree hashes it reports kept in
// memory (hashing only) or put in the tree bucket as a commit does (no fsync:
// the disk is BenchmarkAppendSent's).
func BenchmarkTreeAppend(b *testing.B) {
	raw := make([]byte, 160) // about an entry's stored size
	rand.Read(raw)
	b.Run("hash", func(b *testing.B) {
		r := rangeFactory.NewEmptyRange(0)
		visits := 0
		for b.Loop() {
			if err := r.Append(LeafHash(raw), func(compact.NodeID, []byte) { visits++ }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(visits)/float64(b.N), "nodes/leaf")
	})
	b.Run("stored", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "tree.db"), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket(bucketTree)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		r := rangeFactory.NewEmptyRange(0)
		const perTx = 256 // a busy batch
		for n := 0; n < b.N; n += perTx {
			if err := db.Update(func(tx *bolt.Tx) error {
				bkt := tx.Bucket(bucketTree)
				for range min(perTx, b.N-n) {
					if err := r.Append(LeafHash(raw), func(id compact.NodeID, h []byte) {
						if err := bkt.Put(nodeKey(id), h); err != nil {
							b.Fatal(err)
						}
					}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSignCheckpoint is the checkpoint signed at the end of every batch,
// for a tree of a million entries.
func BenchmarkSignCheckpoint(b *testing.B) {
	s := benchLogSigner(b)
	r := rangeFactory.NewEmptyRange(0)
	leaf := LeafHash([]byte("entry"))
	for range 1 << 20 {
		if err := r.Append(leaf, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signCheckpoint(s, "imigrasi.go.id/focalpoint/ledger", r.End(), r); err != nil {
			b.Fatal(err)
		}
	}
}
