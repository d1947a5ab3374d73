package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// wantBlobs is what each entry's readers must return: entry index → blob
// kind → bytes. A kind missing for an entry must give ErrNotFound.
type wantBlobs map[uint64]map[blobKind][]byte

var readers = map[blobKind]func(*Ledger, *ledgerv1.Entry) ([]byte, error){
	envelopeBlob:   (*Ledger).Envelope,
	receiptBlob:    (*Ledger).Receipt,
	checkpointBlob: (*Ledger).CheckpointNote,
}

// populate writes rounds first to first+n-1 of every kind of entry that
// keeps signed bytes.
func populate(t *testing.T, l *Ledger, first, n int) wantBlobs {
	t.Helper()
	ctx := context.Background()
	want := wantBlobs{}
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	for i := first; i < first+n; i++ {
		sent := msg(i)
		s, err := l.AppendSent(ctx, sent, 0)
		if err != nil {
			t.Fatal(err)
		}
		want[s] = map[blobKind][]byte{envelopeBlob: sent.Envelope}
		receipt := []byte(fmt.Sprintf("their receipt for %s", sent.ID))
		r, err := l.AppendReceiptReceived(ctx, sent.ID, receipt)
		if err != nil {
			t.Fatal(err)
		}
		want[r] = map[blobKind][]byte{envelopeBlob: sent.Envelope, receiptBlob: receipt}

		got := msg(1000 + i)
		res, err := l.AppendReceived(ctx, got, issuer)
		if err != nil {
			t.Fatal(err)
		}
		want[res.Index] = map[blobKind][]byte{envelopeBlob: got.Envelope}
		want[res.Index+1] = map[blobKind][]byte{envelopeBlob: got.Envelope, receiptBlob: res.SignedReceipt}

		cosigned := []byte(fmt.Sprintf("our checkpoint at %d, cosigned", l.Size()))
		c, err := l.AppendCheckpointCosigned(ctx, l.Size(), cosigned)
		if err != nil {
			t.Fatal(err)
		}
		want[c.Index] = map[blobKind][]byte{checkpointBlob: cosigned}
		witnessed := []byte(fmt.Sprintf("their checkpoint at %d, cosigned by us", i+1))
		w, err := l.AppendWitnessed(ctx, uint64(i+1), witnessed)
		if err != nil {
			t.Fatal(err)
		}
		want[w.Index] = map[blobKind][]byte{checkpointBlob: witnessed}
	}
	return want
}

// checkBlobs reads every blob of every entry through the readers.
func checkBlobs(t *testing.T, l *Ledger, want wantBlobs) {
	t.Helper()
	for i := range l.Size() {
		e, _, err := l.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		for k, read := range readers {
			got, err := read(l, e)
			w, ok := want[i][k]
			switch {
			case !ok && !errors.Is(err, ErrNotFound):
				t.Errorf("entry %d (%s): %s = %q, %v; want ErrNotFound", i, KindName(e.GetKind()), k, got, err)
			case ok && (err != nil || !bytes.Equal(got, w)):
				t.Errorf("entry %d (%s): %s = %q, %v; want %q", i, KindName(e.GetKind()), k, got, err, w)
			}
		}
	}
}

// fileState is what a test looks at in a closed ledger file.
type fileState struct {
	format  string
	rekeyed []byte
	keys    [][]byte
}

func readFile(t *testing.T, path string) fileState {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s fileState
	if err := db.View(func(tx *bolt.Tx) error {
		s.format = string(tx.Bucket(bucketMeta).Get(metaFormat))
		s.rekeyed = bytes.Clone(tx.Bucket(bucketMeta).Get(metaRekeyed))
		return tx.Bucket(bucketBlobs).ForEach(func(k, _ []byte) error {
			s.keys = append(s.keys, bytes.Clone(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// update runs fn in a write transaction on the closed ledger file at path.
func update(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// toFormat1 rewrites a closed ledger file as format 1 kept it: each blob
// under its SHA-256 alone, once however many entries introduced it.
func toFormat1(t *testing.T, path string) {
	t.Helper()
	update(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBlobs)
		var keys, values [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v))
			return nil
		}); err != nil {
			return err
		}
		for i, k := range keys {
			if len(k) != 40 {
				return fmt.Errorf("blob key of %d bytes", len(k))
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := b.Put(k[8:], values[i]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaFormat, []byte(formatVersion1))
	})
}

// format1Ledger writes a ledger of n rounds with a log signer, closes it and
// turns it into format 1. It returns the file, its blobs and its root.
func format1Ledger(t *testing.T, n int) (string, wantBlobs, []byte) {
	t.Helper()
	signer, _ := logSigner(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path, Options{LogSigner: signer})
	if err != nil {
		t.Fatal(err)
	}
	want := populate(t, l, 0, n)
	root, err := l.Root(l.Size())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	toFormat1(t, path)
	return path, want, root
}

func keyLengths(keys [][]byte) map[int]int {
	n := map[int]int{}
	for _, k := range keys {
		n[len(k)]++
	}
	return n
}

func TestOpenRefusesUnknownFormat(t *testing.T) {
	l, path := openTemp(t, Options{})
	populate(t, l, 0, 2)
	l.Close()
	for _, f := range []string{"focalpoint-ledger-3", "focalpoint-ledger-0", ""} {
		update(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaFormat, []byte(f)) })
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{false, true} {
			if r, err := Open(path, Options{ReadOnly: ro}); !errors.Is(err, ErrCorrupt) {
				if err == nil {
					r.Close()
				}
				t.Fatalf("format %q, read-only %v: %v, want ErrCorrupt", f, ro, err)
			}
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Fatalf("format %q: the refused open changed the file", f)
		}
	}
}

func TestBlobReadersRefuseWhatAnEntryDoesNotName(t *testing.T) {
	l, _ := openTemp(t, Options{})
	want := populate(t, l, 0, 1)
	sent, _, err := l.Entry(1)
	if err != nil || sent.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_SENT {
		t.Fatalf("entry 1 = %v, %v; want SENT", sent, err)
	}
	if _, err := l.Receipt(sent); !errors.Is(err, ErrNotFound) {
		t.Errorf("receipt of a SENT entry: %v", err)
	}
	if _, err := l.CheckpointNote(sent); !errors.Is(err, ErrNotFound) {
		t.Errorf("checkpoint of a SENT entry: %v", err)
	}
	// Bytes are found beside the entry that introduced them, not by hash
	// alone: the same SHA-256 under another index names nothing.
	moved := &ledgerv1.Entry{Kind: sent.GetKind(), Index: sent.GetIndex() + 2, EnvelopeSha256: sent.GetEnvelopeSha256()}
	if _, err := l.Envelope(moved); !errors.Is(err, ErrNotFound) {
		t.Errorf("envelope named by another entry: %v", err)
	}
	wrong := &ledgerv1.Entry{Kind: sent.GetKind(), Index: sent.GetIndex(), EnvelopeSha256: bytes.Repeat([]byte{7}, 32)}
	if _, err := l.Envelope(wrong); !errors.Is(err, ErrNotFound) {
		t.Errorf("envelope under another SHA-256: %v", err)
	}
	short := &ledgerv1.Entry{Kind: sent.GetKind(), Index: sent.GetIndex(), EnvelopeSha256: sent.GetEnvelopeSha256()[:31]}
	if _, err := l.Envelope(short); !errors.Is(err, ErrNotFound) {
		t.Errorf("envelope under a short SHA-256: %v", err)
	}
	checkBlobs(t, l, want)
}

func TestMigrationRefusesMissingBlob(t *testing.T) {
	path, want, _ := format1Ledger(t, 3)
	lost := want[1][envelopeBlob]
	update(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketBlobs).Delete(sumOf(lost)) })
	if l, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("migration of a file missing a blob: %v, want ErrCorrupt", err)
	}
	// The auditor still reads the file, and finds the blob missing.
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e, _, err := r.Entry(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Envelope(e); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing envelope: %v", err)
	}
}

// A new ledger keeps each blob once, beside the entry that introduced it, in
// key order.
func TestBlobKeysInAppendOrder(t *testing.T) {
	l, path := openTemp(t, Options{})
	want := populate(t, l, 0, 5)
	checkBlobs(t, l, want)
	introducers := 0
	for i := range l.Size() {
		e, _, err := l.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if introduces(e.GetKind()) != noBlob {
			introducers++
		}
	}
	l.Close()
	s := readFile(t, path)
	if s.format != formatVersion {
		t.Fatalf("format %q, want %q", s.format, formatVersion)
	}
	if len(s.keys) != introducers {
		t.Fatalf("%d blobs for %d entries that introduce one", len(s.keys), introducers)
	}
	for i, k := range s.keys {
		if len(k) != 40 {
			t.Fatalf("blob key %x of %d bytes", k, len(k))
		}
		if i > 0 && bytes.Compare(s.keys[i-1], k) >= 0 {
			t.Fatalf("blob key %x after %x", k, s.keys[i-1])
		}
		index := beU64(k)
		if _, ok := want[index]; !ok {
			t.Fatalf("blob beside entry %d, which introduces none", index)
		}
	}
}

func TestFormat1ReadOnlyThenMigrated(t *testing.T) {
	path, want, root := format1Ledger(t, 4)
	if s := readFile(t, path); s.format != formatVersion1 || keyLengths(s.keys)[40] != 0 {
		t.Fatalf("not a format-1 file: %q, key lengths %v", s.format, keyLengths(s.keys))
	}

	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of format 1: %v", err)
	}
	checkBlobs(t, r, want)
	if c, err := r.LatestCosigned(); err != nil || c.Note == nil {
		t.Fatalf("latest cosigned of format 1: %+v, %v", c, err)
	}
	proof, err := r.InclusionProof(3, r.Size())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if s := readFile(t, path); s.format != formatVersion1 {
		t.Fatalf("a read-only open changed the format to %q", s.format)
	}

	var logs bytes.Buffer
	signer, _ := logSigner(t)
	l, err := Open(path, Options{LogSigner: signer, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("writable open of format 1: %v", err)
	}
	if got := strings.Count(logs.String(), "re-keyed"); got != 1 || !strings.Contains(logs.String(), fmt.Sprintf("blobs=%d", len(want))) {
		t.Errorf("migration log: %q", logs.String())
	}
	checkBlobs(t, l, want)
	// Entries are untouched, so is everything signed over them.
	if got, err := l.Root(l.Size()); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("root after migration %x, %v; want %x", got, err, root)
	}
	if got, err := l.InclusionProof(3, l.Size()); err != nil || fmt.Sprint(got) != fmt.Sprint(proof) {
		t.Fatalf("inclusion proof changed by the migration: %v", err)
	}
	more := populate(t, l, 100, 2)
	for i, w := range more {
		want[i] = w
	}
	checkBlobs(t, l, want)
	l.Close()

	s := readFile(t, path)
	if s.format != formatVersion || s.rekeyed != nil {
		t.Fatalf("after migration: format %q, progress %x", s.format, s.rekeyed)
	}
	if n := keyLengths(s.keys); n[40] != len(want) || len(n) != 1 {
		t.Fatalf("key lengths %v after migration, want %d of 40 bytes", n, len(want))
	}
}

// A migration cut short goes on from where it stopped; meanwhile an auditor
// reads the half-moved file.
func TestMigrationResumes(t *testing.T) {
	path, want, root := format1Ledger(t, 4)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved, done, err := rekeyBlobs(db, 7)
	db.Close()
	if err != nil || done || moved == 0 {
		t.Fatalf("first chunk: moved %d, done %v, %v", moved, done, err)
	}
	s := readFile(t, path)
	if n := keyLengths(s.keys); s.format != formatVersion1 || n[40] != moved || n[32] == 0 || !bytes.Equal(s.rekeyed, u64(7)) {
		t.Fatalf("after one chunk: format %q, progress %x, key lengths %v", s.format, s.rekeyed, n)
	}

	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, r, want)
	r.Close()

	var logs bytes.Buffer
	l, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.Contains(logs.String(), fmt.Sprintf("blobs=%d", len(want)-moved)) {
		t.Errorf("migration log %q, want the %d blobs left", logs.String(), len(want)-moved)
	}
	checkBlobs(t, l, want)
	if got, err := l.Root(l.Size()); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("root %x, %v; want %x", got, err, root)
	}
	l.Close()
	s = readFile(t, path)
	if n := keyLengths(s.keys); s.format != formatVersion || s.rekeyed != nil || n[40] != len(want) || len(n) != 1 {
		t.Fatalf("after resuming: format %q, progress %x, key lengths %v", s.format, s.rekeyed, n)
	}
}

// Format 1 kept bytes that two entries introduced once; after the migration
// each entry has its own copy, even when the two are migrated in different
// transactions, and an auditor reads both in between.
func TestMigrationSplitsSharedBlob(t *testing.T) {
	ctx := context.Background()
	l, path := openTemp(t, Options{})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	note := []byte("the same note, recorded twice")
	c, err := l.AppendCheckpointCosigned(ctx, 1, note)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendSent(ctx, msg(1), 0); err != nil {
		t.Fatal(err)
	}
	w, err := l.AppendWitnessed(ctx, 1, note)
	if err != nil {
		t.Fatal(err)
	}
	want := wantBlobs{
		c.Index: {checkpointBlob: note},
		2:       {envelopeBlob: msg(1).Envelope},
		w.Index: {checkpointBlob: note},
	}
	l.Close()
	toFormat1(t, path)
	if n := len(readFile(t, path).keys); n != 2 {
		t.Fatalf("%d blobs in format 1, want 2", n)
	}

	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := rekeyBlobs(db, 2); err != nil || done {
		t.Fatalf("first chunk: done %v, %v", done, err)
	}
	db.Close()
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, r, want)
	r.Close()

	l, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	checkBlobs(t, l, want)
	l.Close()
	if s := readFile(t, path); len(s.keys) != 3 || keyLengths(s.keys)[40] != 3 {
		t.Fatalf("after migration: %d blobs, key lengths %v; want 3 of 40 bytes", len(s.keys), keyLengths(s.keys))
	}
}

// The ledgers in pkg/cli/testdata were written by a release of format 1.
func TestMigratesFormat1Release(t *testing.T) {
	for _, name := range []string{"id.db", "kh.db"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "cli", "testdata", "ledger-without-conflicts", name))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			readAll := func(l *Ledger) (wantBlobs, []byte) {
				got := wantBlobs{}
				for i := range l.Size() {
					e, _, err := l.Entry(i)
					if err != nil {
						t.Fatal(err)
					}
					for k, read := range readers {
						if v, err := read(l, e); err == nil {
							if got[i] == nil {
								got[i] = map[blobKind][]byte{}
							}
							got[i][k] = v
						}
					}
				}
				root, err := l.Root(l.Size())
				if err != nil {
					t.Fatal(err)
				}
				return got, root
			}
			r, err := Open(path, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			want, root := readAll(r)
			r.Close()
			if len(want) == 0 {
				t.Fatal("no blobs read from the format-1 file")
			}
			l, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkBlobs(t, l, want)
			if _, got := readAll(l); !bytes.Equal(got, root) {
				t.Fatalf("root %x after migration, want %x", got, root)
			}
			l.Close()
			if s := readFile(t, path); s.format != formatVersion || keyLengths(s.keys)[32] != 0 {
				t.Fatalf("after migration: format %q, key lengths %v", s.format, keyLengths(s.keys))
			}
		})
	}
}
