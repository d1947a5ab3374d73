package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"math/bits"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/log"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/audit/audittest"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// TestRealLink audits the ledgers of two real nodes that exchanged messages
// and cosigned each other's checkpoints through the exchange, then damages
// copies of them every way someone holding the file could.
func TestRealLink(t *testing.T) {
	link := audittest.Run(t, 2, 3)
	published, err := audit.ParseKeys(strings.NewReader(link.Keys))
	if err != nil {
		t.Fatal(err)
	}
	idPath, khPath := link.Ledgers[0], link.Ledgers[1]

	t.Run("verify", func(t *testing.T) {
		for i, path := range link.Ledgers {
			for _, k := range []*audit.Keys{nil, published} {
				r, err := audit.Verify(context.Background(), audit.OpenRO(t, path), k)
				if err != nil {
					t.Fatalf("%s: %v", link.Nodes[i].Agency, err)
				}
				if r.Sent != 6 || r.Received != 6 || len(r.Pending) != 0 || r.CheckpointSize != r.Entries ||
					r.ByKind["CHECKPOINT_COSIGNED"] < 2 || r.ByKind["CHECKPOINT_WITNESSED"] < 2 ||
					r.LatestCosignedSize == 0 || r.LatestCosignedAt.IsZero() || r.LatestWitnessedSize == 0 || r.Forks != 0 {
					t.Errorf("%s: %+v", link.Nodes[i].Agency, r)
				}
			}
		}
	})

	t.Run("reconcile", func(t *testing.T) {
		d, err := audit.Reconcile(context.Background(), audit.OpenRO(t, idPath), audit.OpenRO(t, khPath), published)
		if err != nil || len(d) != 0 {
			t.Fatalf("%v %v", d, err)
		}
	})

	// Where things are in Indonesia's ledger.
	var sent, cosigned, witnessed []uint64
	entries := uint64(0)
	if err := audit.OpenRO(t, idPath).Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		switch e.GetKind() {
		case ledgerv1.EntryKind_ENTRY_KIND_SENT:
			sent = append(sent, e.GetIndex())
		case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED:
			cosigned = append(cosigned, e.GetIndex())
		case ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED:
			witnessed = append(witnessed, e.GetIndex())
		}
		entries++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	firstSent, firstCosigned, lastCosigned := sent[0], cosigned[0], cosigned[len(cosigned)-1]
	// noteKey is where the note checkpoint entry i records is kept.
	noteKey := func(t *testing.T, tx *bolt.Tx, i uint64) []byte {
		return audit.BlobKey(i, audit.GetEntry(t, tx, i).GetCheckpointSha256())
	}
	noteAt := func(t *testing.T, tx *bolt.Tx, i uint64) []byte {
		return bytes.Clone(tx.Bucket(audit.BucketBlobs).Get(noteKey(t, tx, i)))
	}
	idLog, err := keys.LoadSigner(link.Nodes[0].LogKey)
	if err != nil {
		t.Fatal(err)
	}
	khLog, err := keys.LoadSigner(link.Nodes[1].LogKey)
	if err != nil {
		t.Fatal(err)
	}
	khCosigner, err := khLog.Cosigner()
	if err != nil {
		t.Fatal(err)
	}
	// The largest full subtree at the left of the tree: on the path to every
	// root from its size on.
	level := uint(bits.Len64(entries) - 1)

	type tc struct {
		name    string
		tamper  func(t *testing.T, tx *bolt.Tx)
		rebuild bool
		// via writes through the ledger, as a node holding the keys would.
		via        func(t *testing.T, path string) uint64
		want       uint64
		checkpoint bool
		wantErr    error
		wantIn     string
	}
	cases := []tc{
		{
			name: "byte of an entry flipped",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				raw := audit.RawEntry(t, tx, firstSent)
				raw[len(raw)-3] ^= 0x01
				if err := tx.Bucket(audit.BucketEntries).Put(audit.Be64(firstSent), raw); err != nil {
					t.Fatal(err)
				}
			},
			want: firstSent,
		},
		{
			name: "entry deleted",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				if err := tx.Bucket(audit.BucketEntries).Delete(audit.Be64(firstSent + 1)); err != nil {
					t.Fatal(err)
				}
			},
			want: firstSent + 1, wantErr: ledger.ErrCorrupt,
		},
		{
			name: "two entries swapped",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				a, b := audit.RawEntry(t, tx, firstSent), audit.RawEntry(t, tx, firstSent+1)
				if err := tx.Bucket(audit.BucketEntries).Put(audit.Be64(firstSent), b); err != nil {
					t.Fatal(err)
				}
				if err := tx.Bucket(audit.BucketEntries).Put(audit.Be64(firstSent+1), a); err != nil {
					t.Fatal(err)
				}
			},
			want: firstSent, wantErr: ledger.ErrCorrupt,
		},
		{
			name:       "entries cut off the end",
			tamper:     func(t *testing.T, tx *bolt.Tx) { audit.Truncate(t, tx, entries-2) },
			checkpoint: true, want: entries, wantIn: "cut off",
		},
		{
			name: "cosigned checkpoint replaced by another validly signed one",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				later := noteAt(t, tx, lastCosigned)
				if err := tx.Bucket(audit.BucketBlobs).Put(noteKey(t, tx, firstCosigned), later); err != nil {
					t.Fatal(err)
				}
			},
			want: firstCosigned, wantIn: "hashes to",
		},
		{
			name: "cosignature line dropped from a cosigned checkpoint",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				n := noteAt(t, tx, firstCosigned)
				// Indonesia's checkpoint carries one signature by a key named
				// after Cambodia's ledger: the cosignature.
				cut := dropLines(n, "— "+khLog.Name()+" ")
				if bytes.Equal(cut, n) {
					t.Fatalf("no cosignature line in\n%s", n)
				}
				if err := tx.Bucket(audit.BucketBlobs).Put(noteKey(t, tx, firstCosigned), cut); err != nil {
					t.Fatal(err)
				}
			},
			want: firstCosigned, wantIn: "hashes to",
		},
		{
			name: "cosigned checkpoint with another root, signed and cosigned, entry and tree rewritten",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				e := audit.GetEntry(t, tx, firstCosigned)
				root := make([]byte, 32)
				rand.Read(root)
				text := log.Checkpoint{Origin: idLog.Name(), Size: e.GetCheckpointSize(), Hash: root}.Marshal()
				signed, err := note.Sign(&note.Note{Text: string(text)}, idLog, khCosigner)
				if err != nil {
					t.Fatal(err)
				}
				sum := audit.PutBlob(t, tx, firstCosigned, signed)
				audit.EditEntry(t, tx, firstCosigned, func(e *ledgerv1.Entry) { e.CheckpointSha256 = sum })
			},
			rebuild: true, want: firstCosigned, wantIn: "not what the counterpart cosigned",
		},
		{
			name: "witnessed checkpoint replaced by the counterpart's later one",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				later := noteAt(t, tx, witnessed[len(witnessed)-1])
				if err := tx.Bucket(audit.BucketBlobs).Put(noteKey(t, tx, witnessed[0]), later); err != nil {
					t.Fatal(err)
				}
			},
			want: witnessed[0], wantIn: "hashes to",
		},
		{
			name: "cosigned checkpoint without the counterpart's cosignature, recorded by the node",
			via: func(t *testing.T, path string) uint64 {
				l, err := ledger.Open(path, ledger.Options{LogSigner: idLog})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				size := l.Size()
				// Its own checkpoint, signed by its log key alone.
				text := log.Checkpoint{Origin: idLog.Name(), Size: size, Hash: mustRoot(t, l, size)}.Marshal()
				signed, err := note.Sign(&note.Note{Text: string(text)}, idLog)
				if err != nil {
					t.Fatal(err)
				}
				w, err := l.AppendCheckpointCosigned(context.Background(), size, signed)
				if err != nil {
					t.Fatal(err)
				}
				return w.Index
			},
			wantIn: "no cosignature by the counterpart",
		},
		{
			name:   "stored tree node flipped",
			tamper: func(t *testing.T, tx *bolt.Tx) { audit.FlipTreeNode(t, tx, level, 0) },
			want:   1<<level - 1, wantIn: "stored tree",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := audit.CopyFile(t, idPath)
			want := c.want
			if c.via != nil {
				want = c.via(t, path)
			} else {
				audit.TamperFile(t, path, func(tx *bolt.Tx) error {
					c.tamper(t, tx)
					if c.rebuild {
						audit.RebuildTree(t, tx)
					}
					return nil
				})
			}
			for _, k := range []*audit.Keys{nil, published} {
				_, err := audit.Verify(context.Background(), audit.OpenRO(t, path), k)
				var p *audit.Problem
				if !errors.As(err, &p) || !errors.Is(err, audit.ErrInvalid) {
					t.Fatalf("got %v, want a *Problem", err)
				}
				if p.Index != want || p.Checkpoint != c.checkpoint {
					t.Errorf("problem %v; want one at entry %d (checkpoint %v)", err, want, c.checkpoint)
				}
				if c.wantErr != nil && !errors.Is(err, c.wantErr) {
					t.Errorf("%v is not %v", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), c.wantIn) {
					t.Errorf("%v does not say %q", err, c.wantIn)
				}
				t.Log(err)
			}
		})
	}
}

func mustRoot(t *testing.T, l *ledger.Ledger, size uint64) []byte {
	t.Helper()
	r, err := l.Root(size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dropLines removes the lines starting with prefix.
func dropLines(b []byte, prefix string) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(prefix)) {
			out = append(out, line...)
		}
	}
	return out
}
