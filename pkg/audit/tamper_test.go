package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// These helpers change a closed ledger file behind the ledger package's back,
// as someone with the file would. Bucket names and key layout are those of
// pkg/ledger/bucket.go.
var (
	bucketEntries  = []byte("entries")
	bucketBlobs    = []byte("blobs")
	bucketMessages = []byte("messages")
	bucketTree     = []byte("tree")
	bucketMeta     = []byte("meta")
)

// treeKey is the key of a stored subtree hash: level, then index big-endian.
func treeKey(level uint, index uint64) []byte {
	return append([]byte{byte(level)}, be64(index)...)
}

// rebuildTree stores the Merkle tree of the entries as they now are, as
// whoever rewrites entries can: the stored tree is not signed, so only
// checkpoints (and the counterpart's cosignatures of them) bind the entries.
func rebuildTree(t testing.TB, tx *bolt.Tx) {
	t.Helper()
	if tx.Bucket(bucketTree) != nil {
		if err := tx.DeleteBucket(bucketTree); err != nil {
			t.Fatal(err)
		}
	}
	b, err := tx.CreateBucket(bucketTree)
	if err != nil {
		t.Fatal(err)
	}
	r := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	err = tx.Bucket(bucketEntries).ForEach(func(_, v []byte) error {
		return r.Append(rfc6962.DefaultHasher.HashLeaf(v), func(id compact.NodeID, h []byte) {
			if err := b.Put(treeKey(id.Level, id.Index), h); err != nil {
				t.Fatal(err)
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// flipTreeNode inverts a byte of the stored subtree hash at level, index.
func flipTreeNode(t testing.TB, tx *bolt.Tx, level uint, index uint64) {
	t.Helper()
	k := treeKey(level, index)
	v := bytes.Clone(tx.Bucket(bucketTree).Get(k))
	if v == nil {
		t.Fatalf("no tree node at level %d index %d", level, index)
	}
	v[0] ^= 0xff
	if err := tx.Bucket(bucketTree).Put(k, v); err != nil {
		t.Fatal(err)
	}
}

func be64(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// tamper runs fn in one bbolt write transaction on the file at path.
func tamper(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// rawEntry returns a copy of entry i's stored bytes.
func rawEntry(t testing.TB, tx *bolt.Tx, i uint64) []byte {
	t.Helper()
	v := tx.Bucket(bucketEntries).Get(be64(i))
	if v == nil {
		t.Fatalf("no entry %d", i)
	}
	return bytes.Clone(v)
}

func getEntry(t testing.TB, tx *bolt.Tx, i uint64) *ledgerv1.Entry {
	t.Helper()
	var e ledgerv1.Entry
	if err := proto.Unmarshal(rawEntry(t, tx, i), &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// putEntry stores e under its own index, encoded as the ledger encodes it.
func putEntry(t testing.TB, tx *bolt.Tx, e *ledgerv1.Entry) {
	t.Helper()
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Bucket(bucketEntries).Put(be64(e.GetIndex()), raw); err != nil {
		t.Fatal(err)
	}
}

// editEntry decodes entry i, lets fn change it and stores it again.
func editEntry(t testing.TB, tx *bolt.Tx, i uint64, fn func(e *ledgerv1.Entry)) {
	t.Helper()
	e := getEntry(t, tx, i)
	fn(e)
	putEntry(t, tx, e)
}

// blobKey is where pkg/ledger keeps the signed bytes entry i introduced:
// index big-endian, then their SHA-256.
func blobKey(i uint64, sum []byte) []byte {
	return append(be64(i), sum...)
}

// putBlob keeps b beside entry i, as whoever points entry i at it would, and
// returns its SHA-256.
func putBlob(t testing.TB, tx *bolt.Tx, i uint64, b []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(b)
	if err := tx.Bucket(bucketBlobs).Put(blobKey(i, sum[:]), b); err != nil {
		t.Fatal(err)
	}
	return sum[:]
}

// blobKeyOf returns the key of the one blob whose SHA-256 is sum.
func blobKeyOf(t testing.TB, tx *bolt.Tx, sum []byte) []byte {
	t.Helper()
	var found [][]byte
	c := tx.Bucket(bucketBlobs).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if bytes.HasSuffix(k, sum) {
			found = append(found, bytes.Clone(k))
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d blobs %x, want 1", len(found), sum)
	}
	return found[0]
}

// copyBlob keeps the signed bytes entry from introduced beside entry to as
// well, as whoever copies or moves an entry would.
func copyBlob(t testing.TB, tx *bolt.Tx, from, to uint64) {
	t.Helper()
	k, v := tx.Bucket(bucketBlobs).Cursor().Seek(be64(from))
	if k == nil || !bytes.HasPrefix(k, be64(from)) {
		t.Fatalf("no blob beside entry %d", from)
	}
	if err := tx.Bucket(bucketBlobs).Put(blobKey(to, k[8:]), bytes.Clone(v)); err != nil {
		t.Fatal(err)
	}
}

// flipBlobByte inverts one byte in the middle of the blob kept for b.
func flipBlobByte(t testing.TB, tx *bolt.Tx, b []byte) {
	t.Helper()
	k := blobKeyOf(t, tx, sumOf(b))
	v := bytes.Clone(tx.Bucket(bucketBlobs).Get(k))
	v[len(v)/2] ^= 0xff
	if err := tx.Bucket(bucketBlobs).Put(k, v); err != nil {
		t.Fatal(err)
	}
}

// dropIndexRows deletes the message-index rows of entries from index on, as a
// careful truncation would.
func dropIndexRows(t testing.TB, tx *bolt.Tx, from uint64) {
	t.Helper()
	c := tx.Bucket(bucketMessages).Cursor()
	var doomed [][]byte
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[len(k)-8:]) >= from {
			doomed = append(doomed, bytes.Clone(k))
		}
	}
	for _, k := range doomed {
		if err := tx.Bucket(bucketMessages).Delete(k); err != nil {
			t.Fatal(err)
		}
	}
}

// truncate deletes entries from index on, and their message-index rows: the
// file then looks like an older copy of itself.
func truncate(t testing.TB, tx *bolt.Tx, from uint64) {
	t.Helper()
	for i := from; tx.Bucket(bucketEntries).Get(be64(i)) != nil; i++ {
		if err := tx.Bucket(bucketEntries).Delete(be64(i)); err != nil {
			t.Fatal(err)
		}
	}
	dropIndexRows(t, tx, from)
}

// entriesWhole says whether the entries are numbered 0, 1, … without a gap.
func entriesWhole(tx *bolt.Tx) bool {
	want := uint64(0)
	c := tx.Bucket(bucketEntries).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 8 || binary.BigEndian.Uint64(k) != want {
			return false
		}
		want++
	}
	return true
}
