package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/formats/log"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// logFixture is a link between two transparency logs, every key from a fixed
// seed and every time from the test clock:
//
//	ID ledger                               KH ledger
//	0 CONFIG                                0 CONFIG
//	1 SENT m1                               1 RECEIVED m1
//	2 RECEIPT_RECEIVED m1                   2 RECEIPT_ISSUED m1
//	3 CHECKPOINT_COSIGNED size 3            3 CHECKPOINT_WITNESSED ID size 3
//	4 CHECKPOINT_WITNESSED KH size 4        4 CHECKPOINT_COSIGNED size 4
//	5 RECEIVED m2                           5 SENT m2
//	6 RECEIPT_ISSUED m2                     6 RECEIPT_RECEIVED m2
//	7 CHECKPOINT_COSIGNED size 7            7 CHECKPOINT_WITNESSED ID size 7
//	8 SENT m3 (never delivered)
//
// Each ledger's latest checkpoint covers all its entries.
type logFixture struct {
	p          *pair
	m1, m2, m3 exchange
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	p := newLogPair(t)
	f := &logFixture{p: p}
	cosign := func(n *node, want uint64) {
		t.Helper()
		if size, c, w := p.cosign(n); size != want || c != want || w != want {
			t.Fatalf("fixture: cosigning %s gave size %d, entries %d and %d; want %d", n.name, size, c, w, want)
		}
	}
	f.m1 = p.exchange(p.id, p.kh)
	cosign(p.id, 3)
	cosign(p.kh, 4)
	f.m2 = p.exchange(p.kh, p.id)
	cosign(p.id, 7)
	f.m3 = p.sendOnly(p.id, p.kh)
	if f.m3.Sent != 8 || f.m2.Received != 5 {
		t.Fatalf("fixture: m3 sent at %d, m2 received at %d", f.m3.Sent, f.m2.Received)
	}
	p.close()
	return f
}

func TestVerifyTransparencyLogs(t *testing.T) {
	f := newLogFixture(t)
	p := f.p
	published := keysFor(t, p.id, p.kh)
	for _, tc := range []struct {
		name string
		keys *Keys
	}{{"ledger's own keys", nil}, {"published keys", published}} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Verify(context.Background(), openRO(t, p.id.path), tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			// The test clock starts at 2025-06-01T00:00:00 and ticks a millisecond a reading.
			day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			if id.Entries != 9 || id.CheckpointSize != 9 || id.LatestCosignedSize != 7 || !id.LatestCosignedAt.Equal(day) ||
				id.LatestWitnessedSize != 4 || id.ByKind["CHECKPOINT_COSIGNED"] != 2 || id.ByKind["CHECKPOINT_WITNESSED"] != 1 || id.Forks != 0 {
				t.Errorf("ID report: %+v", id)
			}
			kh, err := Verify(context.Background(), openRO(t, p.kh.path), tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if kh.Entries != 8 || kh.CheckpointSize != 8 || kh.LatestCosignedSize != 4 || kh.LatestWitnessedSize != 7 {
				t.Errorf("KH report: %+v", kh)
			}
		})
	}
}

// blobOf returns the checkpoint note entry i of the ledger at path names.
func blobOf(t *testing.T, path string, i uint64) []byte {
	t.Helper()
	l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, _, err := l.Entry(i)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.CheckpointNote(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signCheckpoint signs a checkpoint of n's ledger with n's log key.
func signCheckpoint(t *testing.T, n *node, size uint64, root []byte) []byte {
	t.Helper()
	text := log.Checkpoint{Origin: n.name, Size: size, Hash: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, n.logSigner)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// cosignBy adds s's signature to a signed note.
func cosignBy(t *testing.T, signed []byte, verifier note.Verifier, s note.Signer) []byte {
	t.Helper()
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		t.Fatal(err)
	}
	out, err := note.Sign(n, s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantCheckpointProblem checks that err is a *Problem with the ledger's
// checkpoint.
func wantCheckpointProblem(t *testing.T, err error) *Problem {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v is not a *Problem", err)
	}
	if !p.Checkpoint || !strings.HasPrefix(p.Error(), "audit: checkpoint") {
		t.Fatalf("problem %v is not with the checkpoint", err)
	}
	return p
}

// TestVerifyRefusesCheckpointTampering changes checkpoint entries, their
// notes, the stored tree and the signed checkpoint of a closed ledger.
func TestVerifyRefusesCheckpointTampering(t *testing.T) {
	f := newLogFixture(t)
	p := f.p
	id, kh := p.id, p.kh
	idNote3, idNote7 := blobOf(t, id.path, 3), blobOf(t, id.path, 7)
	khNote4 := blobOf(t, id.path, 4)
	published := keysFor(t, id, kh)
	messagesOnly := &Keys{Messages: published.Messages}
	noKHLog := keysFor(t, id)
	noKHLog.Messages = published.Messages

	type tc struct {
		name   string
		ledger *node
		tamper func(t *testing.T, tx *bolt.Tx)
		// rebuild rewrites the stored tree after the tamper, as whoever
		// rewrites entries can.
		rebuild bool
		keys    *Keys
		want    uint64
		// checkpoint: the problem is with the signed checkpoint, not an entry.
		checkpoint bool
		wantIn     string
	}
	cases := []tc{
		{
			name:   "cosigned note replaced under its key",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				if err := tx.Bucket(bucketBlobs).Put(blobKeyOf(t, tx, sumOf(idNote3)), idNote7); err != nil {
					t.Fatal(err)
				}
			},
			want: 3, wantIn: "hashes to",
		},
		{
			name:   "cosignature line dropped from the note under its key",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				lines := bytes.SplitAfter(idNote7, []byte("\n"))
				var cut []byte
				for _, l := range lines {
					if !bytes.HasPrefix(l, []byte("— "+kh.name)) {
						cut = append(cut, l...)
					}
				}
				if len(cut) == len(idNote7) {
					t.Fatal("no cosignature line")
				}
				if err := tx.Bucket(bucketBlobs).Put(blobKeyOf(t, tx, sumOf(idNote7)), cut); err != nil {
					t.Fatal(err)
				}
			},
			want: 7, wantIn: "hashes to",
		},
		{
			name:   "witnessed note deleted",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				if err := tx.Bucket(bucketBlobs).Delete(blobKeyOf(t, tx, sumOf(khNote4))); err != nil {
					t.Fatal(err)
				}
			},
			want: 4, wantIn: "not in the ledger's blobs",
		},
		{
			name:   "entry points at a later note, tree rebuilt",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				sum := putBlob(t, tx, 3, idNote7)
				editEntry(t, tx, 3, func(e *ledgerv1.Entry) { e.CheckpointSha256, e.CheckpointSize = sum, 7 })
			},
			rebuild: true, want: 3, wantIn: "only 3 entries come before it",
		},
		{
			name:   "entry names another size than its note, tree rebuilt",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 7, func(e *ledgerv1.Entry) { e.CheckpointSize = 6 })
			},
			rebuild: true, want: 7, wantIn: "the entry says 6",
		},
		{
			name:   "sizes do not grow, tree rebuilt",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				sum := putBlob(t, tx, 7, idNote3)
				editEntry(t, tx, 7, func(e *ledgerv1.Entry) { e.CheckpointSha256, e.CheckpointSize = sum, 3 })
			},
			rebuild: true, want: 7, wantIn: "not larger than the size 3",
		},
		{
			name:   "an entry before a cosigned checkpoint rewritten, tree rebuilt",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 2, func(e *ledgerv1.Entry) {
					e.RecordedAt.Nanos++ // still in order; no signature covers it
				})
			},
			rebuild: true, want: 3, wantIn: "not what the counterpart cosigned",
		},
		{
			name:   "an entry after the last cosigned checkpoint rewritten, tree rebuilt",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 8, func(e *ledgerv1.Entry) { e.RecordedAt.Nanos++ })
			},
			rebuild: true, checkpoint: true, wantIn: "were changed after the node signed it",
		},
		{
			name:       "entries cut off the end",
			ledger:     id,
			tamper:     func(t *testing.T, tx *bolt.Tx) { truncate(t, tx, 8) },
			checkpoint: true, wantIn: "the ledger has 8",
		},
		{
			name:       "entries and checkpoint entries cut off the end",
			ledger:     id,
			tamper:     func(t *testing.T, tx *bolt.Tx) { truncate(t, tx, 4) },
			checkpoint: true, wantIn: "the ledger has 4",
		},
		{
			name:   "signed checkpoint removed",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				if err := tx.Bucket(bucketMeta).Delete([]byte("checkpoint")); err != nil {
					t.Fatal(err)
				}
			},
			checkpoint: true, wantIn: "holds no checkpoint",
		},
		{
			name:   "signed checkpoint replaced by one with another root",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				forged := signCheckpoint(t, id, 9, bytes.Repeat([]byte{7}, 32))
				if err := tx.Bucket(bucketMeta).Put([]byte("checkpoint"), forged); err != nil {
					t.Fatal(err)
				}
			},
			checkpoint: true, wantIn: "has root 07070707",
		},
		{
			name:   "signed checkpoint signed by the counterpart's log key",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				forged, err := note.Sign(&note.Note{Text: string(log.Checkpoint{Origin: id.name, Size: 9, Hash: make([]byte, 32)}.Marshal())}, kh.logSigner)
				if err != nil {
					t.Fatal(err)
				}
				if err := tx.Bucket(bucketMeta).Put([]byte("checkpoint"), forged); err != nil {
					t.Fatal(err)
				}
			},
			checkpoint: true, wantIn: "not signed by the log key of this node",
		},
		{
			name:   "stored tree node on the path to the root flipped",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) { flipTreeNode(t, tx, 3, 0) }, // entries 0-7
			want:   7, wantIn: "stored tree",
		},
		{
			name:   "stored leaf flipped",
			ledger: id,
			tamper: func(t *testing.T, tx *bolt.Tx) { flipTreeNode(t, tx, 0, 8) },
			want:   8, wantIn: "stored tree",
		},
		{
			name:   "self log key named after another ledger, tree rebuilt",
			ledger: kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 0, func(e *ledgerv1.Entry) { e.Config.SelfLogKey = id.logVKey })
			},
			rebuild: true, want: 0, wantIn: "named after the ledger",
		},
		{
			name:   "counterpart log key dropped, tree rebuilt",
			ledger: kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 0, func(e *ledgerv1.Entry) { e.Config.CounterpartLogKey = "" })
			},
			rebuild: true, want: 0, wantIn: "both log keys or neither",
		},
		{
			name:   "log keys dropped, tree rebuilt",
			ledger: kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 0, func(e *ledgerv1.Entry) { e.Config.CounterpartLogKey, e.Config.SelfLogKey = "", "" })
			},
			rebuild: true, want: 3, wantIn: "names no log keys",
		},
		{
			name:   "published keys without log keys",
			ledger: id,
			tamper: func(*testing.T, *bolt.Tx) {},
			keys:   messagesOnly, want: 3, wantIn: "which have no log or cosigner key",
		},
		{
			name:   "published keys without the counterpart's log key",
			ledger: id,
			tamper: func(*testing.T, *bolt.Tx) {},
			keys:   noKHLog, want: 3, wantIn: "no cosignature by the counterpart",
		},
		{
			name:   "published keys without the counterpart's log key, witnessed",
			ledger: kh,
			tamper: func(*testing.T, *bolt.Tx) {},
			keys:   noKHLog, want: 3, wantIn: "no cosignature by this node",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, c.ledger.path)
			tamper(t, path, func(tx *bolt.Tx) error {
				c.tamper(t, tx)
				if c.rebuild {
					rebuildTree(t, tx)
				}
				return nil
			})
			_, err := Verify(context.Background(), openRO(t, path), c.keys)
			var pr *Problem
			if c.checkpoint {
				pr = wantCheckpointProblem(t, err)
			} else {
				pr = wantProblem(t, err, c.want)
				if pr.Checkpoint {
					t.Errorf("problem %v is with the checkpoint, want entry %d", err, c.want)
				}
			}
			if !strings.Contains(pr.Error(), c.wantIn) {
				t.Errorf("%v does not say %q", err, c.wantIn)
			}
			t.Logf("%v", pr)
		})
	}
}

// TestVerifyRefusesBadCosignatures records, through the ledger as a node
// would, checkpoint entries whose notes are consistent with the entry but are
// not what the exchange accepts: the ledger does not check notes, the
// exchange and the auditor do.
func TestVerifyRefusesBadCosignatures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// record appends the bad entry to one of the ledgers and says which.
		record func(t *testing.T, p *pair) *node
		wantIn string
	}{
		{
			name: "cosigned checkpoint without the counterpart's cosignature",
			record: func(t *testing.T, p *pair) *node {
				cp, _ := ledger.CheckpointOf(bytes.Clone(p.id.l.Checkpoint()))
				if _, err := p.id.l.AppendCheckpointCosigned(ctx, cp.Size, p.id.l.Checkpoint()); err != nil {
					t.Fatal(err)
				}
				return p.id
			},
			wantIn: "carries no cosignature by the counterpart",
		},
		{
			name: "cosigned checkpoint cosigned by this node itself",
			record: func(t *testing.T, p *pair) *node {
				signed := bytes.Clone(p.id.l.Checkpoint())
				cp, _ := ledger.CheckpointOf(signed)
				both := cosignBy(t, signed, p.id.logSigner.Verifier(), p.id.cosigner)
				if _, err := p.id.l.AppendCheckpointCosigned(ctx, cp.Size, both); err != nil {
					t.Fatal(err)
				}
				return p.id
			},
			wantIn: "carries no cosignature by the counterpart",
		},
		{
			name: "cosignature by the counterpart's plain signature, not cosignature/v1",
			record: func(t *testing.T, p *pair) *node {
				signed := bytes.Clone(p.id.l.Checkpoint())
				cp, _ := ledger.CheckpointOf(signed)
				both := cosignBy(t, signed, p.id.logSigner.Verifier(), p.kh.logSigner)
				if _, err := p.id.l.AppendCheckpointCosigned(ctx, cp.Size, both); err != nil {
					t.Fatal(err)
				}
				return p.id
			},
			wantIn: "carries no cosignature by the counterpart",
		},
		{
			name: "cosigned checkpoint with a root the entries do not have",
			record: func(t *testing.T, p *pair) *node {
				size := p.id.l.Size()
				forged := signCheckpoint(t, p.id, size, bytes.Repeat([]byte{9}, 32))
				both := cosignBy(t, forged, p.id.logSigner.Verifier(), p.kh.cosigner)
				if _, err := p.id.l.AppendCheckpointCosigned(ctx, size, both); err != nil {
					t.Fatal(err)
				}
				return p.id
			},
			wantIn: "not what the counterpart cosigned",
		},
		{
			name: "cosigned checkpoint of the counterpart's ledger",
			record: func(t *testing.T, p *pair) *node {
				signed := bytes.Clone(p.kh.l.Checkpoint())
				cp, _ := ledger.CheckpointOf(signed)
				both := cosignBy(t, signed, p.kh.logSigner.Verifier(), p.id.cosigner)
				if _, err := p.id.l.AppendCheckpointCosigned(ctx, cp.Size, both); err != nil {
					t.Fatal(err)
				}
				return p.id
			},
			wantIn: "not signed by the log key of this node",
		},
		{
			name: "witnessed checkpoint without this node's cosignature",
			record: func(t *testing.T, p *pair) *node {
				cp, _ := ledger.CheckpointOf(bytes.Clone(p.id.l.Checkpoint()))
				if _, err := p.kh.l.AppendWitnessed(ctx, cp.Size, p.id.l.Checkpoint()); err != nil {
					t.Fatal(err)
				}
				return p.kh
			},
			wantIn: "carries no cosignature by this node",
		},
		{
			name: "witnessed checkpoint of another size than the entry says",
			record: func(t *testing.T, p *pair) *node {
				signed := bytes.Clone(p.id.l.Checkpoint())
				cp, _ := ledger.CheckpointOf(signed)
				both := cosignBy(t, signed, p.id.logSigner.Verifier(), p.kh.cosigner)
				if _, err := p.kh.l.AppendWitnessed(ctx, cp.Size+1, both); err != nil {
					t.Fatal(err)
				}
				return p.kh
			},
			wantIn: "the entry says",
		},
		{
			name: "witnessed checkpoint not a checkpoint",
			record: func(t *testing.T, p *pair) *node {
				signed, err := note.Sign(&note.Note{Text: p.id.name + "\nseven\nAAAA\n"}, p.id.logSigner)
				if err != nil {
					t.Fatal(err)
				}
				both := cosignBy(t, signed, p.id.logSigner.Verifier(), p.kh.cosigner)
				if _, err := p.kh.l.AppendWitnessed(ctx, 1, both); err != nil {
					t.Fatal(err)
				}
				return p.kh
			},
			wantIn: "not a checkpoint",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newLogPair(t)
			p.exchange(p.id, p.kh)
			n := tc.record(t, p)
			bad := n.l.Size() - 1
			p.close()
			_, err := Verify(context.Background(), openRO(t, n.path), nil)
			pr := wantProblem(t, err, bad)
			if !strings.Contains(pr.Error(), tc.wantIn) {
				t.Errorf("%v does not say %q", err, tc.wantIn)
			}
			t.Logf("%v", pr)
		})
	}
}

// TestVerifyOlderLedger verifies the ledgers of the earlier format kept in
// pkg/cli/testdata: no log keys, no checkpoints, no stored tree.
func TestVerifyOlderLedger(t *testing.T) {
	k, err := LoadKeys("../cli/testdata/ledger-without-conflicts/keys.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"id.db", "kh.db"} {
		path := copyFile(t, "../cli/testdata/ledger-without-conflicts/"+name)
		r, err := Verify(context.Background(), openRO(t, path), k)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Entries != 7 || r.CheckpointSize != 0 || r.LatestCosignedSize != 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

// TestReconcileTransparencyLogs rolls one ledger back to an older copy and
// lets its node go on: each ledger verifies by itself, but the other holds a
// cosigned checkpoint that the rolled-back ledger contradicts.
func TestReconcileTransparencyLogs(t *testing.T) {
	t.Run("agree", func(t *testing.T) {
		f := newLogFixture(t)
		wantDiscrepancies(t, reconcile(t, f.p, f.p.id.path, f.p.kh.path),
			Discrepancy{Kind: DiscrepancyUndelivered, MessageID: f.m3.ID})
	})

	// rollback runs the link, copies n's ledger, runs on, puts the copy back
	// and lets n write more; it returns the message lost with the rollback.
	rollback := func(t *testing.T, p *pair, n *node, more int) exchange {
		p.exchange(p.id, p.kh)
		p.cosign(p.id)
		p.cosign(p.kh)
		old := copyLive(t, n)
		lost := p.exchange(p.id, p.kh)
		p.cosign(p.id)
		p.cosign(p.kh)
		if err := n.l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(old, n.path); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(n.path, n.opts)
		if err != nil {
			t.Fatal(err)
		}
		n.l = l
		for range more {
			m, _ := p.seal(n, p.other(n))
			n.send(m)
		}
		p.close()
		return lost
	}

	t.Run("sender rolled back and rewritten", func(t *testing.T) {
		p := newLogPair(t)
		lost := rollback(t, p, p.id, 6)
		d := reconcile(t, p, p.id.path, p.kh.path)
		kinds := kindsOf(d)
		if kinds[DiscrepancyFork] != 1 || kinds[DiscrepancyNotSent] != 1 || kinds[DiscrepancyWitnessMissing] != 1 {
			t.Errorf("got %v", d)
		}
		for _, x := range d {
			if x.Kind == DiscrepancyNotSent && x.MessageID != lost.ID {
				t.Errorf("not sent: %v, want %s", x, lost.ID)
			}
			if x.Kind == DiscrepancyFork && !strings.Contains(x.Detail, "it was rewritten") {
				t.Errorf("fork: %v", x)
			}
		}
	})

	t.Run("receiver rolled back", func(t *testing.T) {
		p := newLogPair(t)
		rollback(t, p, p.kh, 0)
		d := reconcile(t, p, p.id.path, p.kh.path)
		kinds := kindsOf(d)
		if kinds[DiscrepancyFork] != 1 || kinds[DiscrepancyNotReceived] != 1 || kinds[DiscrepancyWitnessMissing] != 1 {
			t.Errorf("got %v", d)
		}
		for _, x := range d {
			if x.Kind == DiscrepancyFork && !strings.Contains(x.Detail, "cut off or rolled back") {
				t.Errorf("fork: %v", x)
			}
		}
	})
}

func kindsOf(d []Discrepancy) map[string]int {
	m := make(map[string]int)
	for _, x := range d {
		m[x.Kind]++
	}
	return m
}

// copyLive copies n's open ledger as `focalpoint ledger backup` does.
func copyLive(t *testing.T, n *node) string {
	t.Helper()
	path := n.path + ".old"
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.l.Backup(out); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLeafHash: the auditor's leaf hash is the ledger's.
func TestLeafHash(t *testing.T) {
	var lh leafHasher
	for _, raw := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{7}, 1000)} {
		if got := lh.append(nil, raw); !bytes.Equal(got, ledger.LeafHash(raw)) {
			t.Errorf("leaf hash of %d bytes: %x, want %x", len(raw), got, ledger.LeafHash(raw))
		}
	}
}
