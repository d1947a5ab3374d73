package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

func logSigner(t *testing.T) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "imigrasi.go.id/focalpoint/ledger")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// leaves reads every entry's stored bytes, to recompute the tree independently.
func leaves(t *testing.T, l *Ledger) [][]byte {
	t.Helper()
	var out [][]byte
	if err := l.Scan(0, func(_ *ledgerv1.Entry, raw []byte) error {
		out = append(out, rfc6962.DefaultHasher.HashLeaf(raw))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rootOf computes an RFC 6962 root by the definition, with no shared code.
func rootOf(hs [][]byte) []byte {
	h := rfc6962.DefaultHasher
	switch len(hs) {
	case 0:
		return h.EmptyRoot()
	case 1:
		return hs[0]
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	return h.HashChildren(rootOf(hs[:k]), rootOf(hs[k:]))
}

// The tree, proofs and checkpoints verify with the public libraries alone:
// golang.org/x/mod/sumdb/note, transparency-dev/formats and merkle/proof.
func TestTreeInterop(t *testing.T) {
	ctx := context.Background()
	signer, verifier := logSigner(t)
	l, _ := openTemp(t, Options{LogSigner: signer})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	for i := range 37 {
		if _, err := l.AppendSent(ctx, msg(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	hs := leaves(t, l)
	n := l.Size()
	cp, _, _, err := log.ParseCheckpoint(l.Checkpoint(), testConfig().GetLedgerName(), verifier)
	if err != nil {
		t.Fatalf("checkpoint does not verify with formats: %v\n%s", err, l.Checkpoint())
	}
	if cp.Size != n || !bytes.Equal(cp.Hash, rootOf(hs)) {
		t.Fatalf("checkpoint says size %d root %x; the entries give %d and %x", cp.Size, cp.Hash, n, rootOf(hs))
	}
	for size := uint64(1); size <= n; size++ {
		root, err := l.Root(size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root, rootOf(hs[:size])) {
			t.Fatalf("root at %d differs from the definition", size)
		}
		for _, i := range []uint64{0, size / 2, size - 1} {
			p, err := l.InclusionProof(i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, hs[i], p, root); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
		}
		for _, from := range []uint64{1, size / 2, size} {
			if from == 0 {
				continue
			}
			p, err := l.ConsistencyProof(from, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, size, p, rootOf(hs[:from]), root); err != nil {
				t.Fatalf("consistency %d→%d: %v", from, size, err)
			}
		}
	}
	if _, err := l.Root(n + 1); err == nil {
		t.Fatal("root beyond the ledger")
	}
}

// A ledger file kept before the tree was stored gets its tree at open: the
// same roots as if it had been there all along.
func TestTreeBuiltForOlderFiles(t *testing.T) {
	ctx := context.Background()
	l, path := openTemp(t, Options{})
	for i := range 11 {
		if _, err := l.AppendSent(ctx, msg(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	want := rootOf(leaves(t, l))
	l.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketTree) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, ro := range []bool{true, false} {
		r, err := Open(path, Options{ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Root(r.Size())
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read-only %v: root %x, %v; want %x", ro, got, err, want)
		}
		if _, err := r.InclusionProof(3, r.Size()); err != nil {
			t.Fatalf("read-only %v: %v", ro, err)
		}
		r.Close()
	}
	// The writable open stored the tree.
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.memTree) != 0 {
		t.Fatal("tree not stored by the writable open")
	}
}

func TestWitnessRecords(t *testing.T) {
	ctx := context.Background()
	signer, _ := logSigner(t)
	l, path := openTemp(t, Options{LogSigner: signer})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	if need, _ := l.NeedsCosign(); !need {
		t.Fatal("a new ledger with a CONFIG entry needs a cosignature")
	}
	w, err := l.AppendCheckpointCosigned(ctx, 1, []byte("note at 1"))
	if err != nil || w.Index != 1 || w.Size != 1 {
		t.Fatalf("cosigned: %+v %v", w, err)
	}
	if need, _ := l.NeedsCosign(); need {
		t.Fatal("a checkpoint record alone must not ask for another cosignature")
	}
	again, err := l.AppendCheckpointCosigned(ctx, 1, []byte("note at 1"))
	if err != nil || again.Index != 1 || l.Size() != 2 {
		t.Fatalf("same size again: %+v %v, size %d", again, err, l.Size())
	}
	if _, err := l.AppendCheckpointCosigned(ctx, 0, []byte("older")); err == nil {
		t.Fatal("an older checkpoint was recorded")
	}
	if _, err := l.AppendSent(ctx, msg(1), 0); err != nil {
		t.Fatal(err)
	}
	if need, _ := l.NeedsCosign(); !need {
		t.Fatal("a message after the cosigned checkpoint needs a new cosignature")
	}
	if _, err := l.AppendWitnessed(ctx, 5, []byte("their note at 5")); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordFork(ctx, []byte("contradiction")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.LatestCosigned()
	if err != nil || string(c.Note) != "note at 1" {
		t.Fatalf("latest cosigned after reopen: %+v %v", c, err)
	}
	wi, err := r.LatestWitnessed()
	if err != nil || wi.Size != 5 {
		t.Fatalf("latest witnessed: %+v %v", wi, err)
	}
	if need, _ := r.NeedsCosign(); !need {
		t.Fatal("NeedsCosign not restored at open")
	}
	forks, err := r.Forks()
	if err != nil || len(forks) != 1 || string(forks[0]) != "contradiction" {
		t.Fatalf("forks %q %v", forks, err)
	}
	if !bytes.Contains(r.Checkpoint(), []byte("\n— ")) {
		t.Fatalf("no signed checkpoint kept: %q", r.Checkpoint())
	}
}
