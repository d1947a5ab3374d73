package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// fixture is a small link with every entry kind in both ledgers:
//
//	ID ledger                          KH ledger
//	0 CONFIG                           0 CONFIG
//	1 SENT m1                          1 RECEIVED m1
//	2 RECEIPT_RECEIVED m1              2 RECEIPT_ISSUED m1
//	3 SENT m2 (outcome, in a thread)   3 RECEIVED m2
//	4 RECEIPT_RECEIVED m2              4 RECEIPT_ISSUED m2
//	5 RECEIVED m3                      5 SENT m3
//	6 RECEIPT_ISSUED m3                6 RECEIPT_RECEIVED m3
//	7 SENT m4 (never delivered)
type fixture struct {
	p              *pair
	m1, m2, m3, m4 exchange
}

// newFixture builds the link and closes both ledgers, so their files can be
// copied and changed.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := newPair(t)
	f := &fixture{p: p}
	f.m1 = p.exchange(p.id, p.kh)
	f.m2 = p.exchange(p.id, p.kh)
	f.m3 = p.exchange(p.kh, p.id)
	f.m4 = p.sendOnly(p.id, p.kh)
	want := []struct {
		name      string
		got, want uint64
	}{
		{"m1 SENT", f.m1.Sent, 1}, {"m1 RECEIPT_RECEIVED", f.m1.ReceiptReceived, 2},
		{"m2 SENT", f.m2.Sent, 3}, {"m2 RECEIPT_RECEIVED", f.m2.ReceiptReceived, 4},
		{"m3 RECEIVED", f.m3.Received, 5}, {"m3 RECEIPT_ISSUED", f.m3.ReceiptIssued, 6},
		{"m4 SENT", f.m4.Sent, 7},
		{"m1 RECEIVED", f.m1.Received, 1}, {"m2 RECEIVED", f.m2.Received, 3}, {"m3 SENT", f.m3.Sent, 5},
	}
	for _, w := range want {
		if w.got != w.want {
			t.Fatalf("fixture: %s at entry %d, want %d", w.name, w.got, w.want)
		}
	}
	p.close()
	return f
}

// wantProblem checks that err is a *Problem at entry index that says the
// ledger is invalid.
func wantProblem(t *testing.T, err error, index uint64) *Problem {
	t.Helper()
	if err == nil {
		t.Fatalf("verified; want a problem at entry %d", index)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v is not ErrInvalid", err)
	}
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v is not a *Problem", err)
	}
	if p.Index != index {
		t.Fatalf("problem at entry %d, want %d: %v", p.Index, index, err)
	}
	return p
}

func TestVerifyGoodLedgers(t *testing.T) {
	f := newFixture(t)
	all := keysFor(t, f.p.id, f.p.kh)
	for _, tc := range []struct {
		name string
		keys *Keys
	}{{"ledger's own keys", nil}, {"published keys", all}} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Verify(context.Background(), openRO(t, f.p.id.path), tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]uint64{"CONFIG": 1, "SENT": 3, "RECEIVED": 1, "RECEIPT_ISSUED": 1, "RECEIPT_RECEIVED": 2, "CHECKPOINT_COSIGNED": 0, "CHECKPOINT_WITNESSED": 0}
			if id.Entries != 8 || id.Sent != 3 || id.Received != 1 || fmt.Sprint(id.ByKind) != fmt.Sprint(want) {
				t.Errorf("ID report: %d entries, %d sent, %d received, %v; want 8, 3, 1, %v", id.Entries, id.Sent, id.Received, id.ByKind, want)
			}
			if id.LedgerName != "imigrasi.go.id/focalpoint/ledger" {
				t.Errorf("ledger name %q", id.LedgerName)
			}
			if len(id.Pending) != 1 || id.Pending[0].MessageID != f.m4.ID || id.Pending[0].SentIndex != 7 || id.Pending[0].SentAt.IsZero() {
				t.Errorf("pending %+v, want only %s at entry 7", id.Pending, f.m4.ID)
			}
			if !id.First.Before(id.Last) || !id.Pending[0].SentAt.Equal(id.Last) {
				t.Errorf("span %s to %s, m4 sent at %s", id.First, id.Last, id.Pending[0].SentAt)
			}

			kh, err := Verify(context.Background(), openRO(t, f.p.kh.path), tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if kh.Entries != 7 || kh.Sent != 1 || kh.Received != 2 || len(kh.Pending) != 0 || kh.ByKind["RECEIPT_ISSUED"] != 2 {
				t.Errorf("KH report: %+v", kh)
			}
		})
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	f := newFixture(t)
	p := f.p
	attacker, _ := newSigner(t, p.id.signer.Name()) // same name, other key

	// resealed returns m's envelope, its message signed anew by s.
	resealed := func(t *testing.T, m exchange, s note.Signer) []byte {
		op, err := envelope.Open(m.Envelope, note.VerifierList(p.id.signer.Verifier(), p.kh.signer.Verifier()))
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Seal(op.Message, s)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	// replaceEnvelope keeps env and points entry i at it.
	replaceEnvelope := func(t *testing.T, tx *bolt.Tx, i uint64, env []byte) {
		sum := putBlob(t, tx, i, env)
		editEntry(t, tx, i, func(e *ledgerv1.Entry) { e.EnvelopeSha256 = sum })
	}
	// appendCopy appends a copy of entry i as the next entry, one second
	// later, with the signed bytes it introduced.
	appendCopy := func(t *testing.T, tx *bolt.Tx, i, next uint64) {
		copyBlob(t, tx, i, next)
		e := getEntry(t, tx, i)
		last := getEntry(t, tx, next-1)
		e.Index = next
		e.RecordedAt = timestamppb.New(last.GetRecordedAt().AsTime().Add(time.Second))
		putEntry(t, tx, e)
	}

	type tc struct {
		name    string
		ledger  *node
		tamper  func(t *testing.T, tx *bolt.Tx)
		keys    *Keys // nil: the ledger's own
		want    uint64
		wantErr error // also errors.Is, if set
	}
	cases := []tc{
		{
			name:   "entry byte flipped",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				raw := rawEntry(t, tx, 3)
				raw[bytes.Index(raw, []byte(f.m2.ID))+10] ^= 0xff // no longer UTF-8
				if err := tx.Bucket(bucketEntries).Put(be64(3), raw); err != nil {
					t.Fatal(err)
				}
			},
			want: 3, wantErr: ledger.ErrCorrupt,
		},
		{
			name:   "entry bit flipped in the message ID",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				raw := rawEntry(t, tx, 3)
				raw[bytes.Index(raw, []byte(f.m2.ID))+35] ^= 0x01 // another hex digit
				if err := tx.Bucket(bucketEntries).Put(be64(3), raw); err != nil {
					t.Fatal(err)
				}
			},
			want: 3,
		},
		{
			name:   "entry bit flipped in the thread ID",
			ledger: p.kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				raw := rawEntry(t, tx, 3)
				thread := getEntry(t, tx, 3).GetThreadId()
				if thread == "" {
					t.Fatal("m2 has no thread")
				}
				raw[bytes.Index(raw, []byte(thread))+35] ^= 0x01
				if err := tx.Bucket(bucketEntries).Put(be64(3), raw); err != nil {
					t.Fatal(err)
				}
			},
			want: 3,
		},
		{
			name:   "envelope byte flipped, sender",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { flipBlobByte(t, tx, f.m2.Envelope) },
			want:   3,
		},
		{
			name:   "envelope byte flipped, receiver",
			ledger: p.kh,
			tamper: func(t *testing.T, tx *bolt.Tx) { flipBlobByte(t, tx, f.m1.Envelope) },
			want:   1,
		},
		{
			name:   "receipt byte flipped, sender",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { flipBlobByte(t, tx, f.m1.Receipt) },
			want:   2,
		},
		{
			name:   "receipt byte flipped, receiver",
			ledger: p.kh,
			tamper: func(t *testing.T, tx *bolt.Tx) { flipBlobByte(t, tx, f.m1.Receipt) },
			want:   2,
		},
		{
			name:   "envelope blob deleted",
			ledger: p.kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				if err := tx.Bucket(bucketBlobs).Delete(blobKeyOf(t, tx, sumOf(f.m2.Envelope))); err != nil {
					t.Fatal(err)
				}
			},
			want:    3,
			wantErr: ledger.ErrNotFound,
		},
		{
			name:   "entry deleted in the middle",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				if err := tx.Bucket(bucketEntries).Delete(be64(4)); err != nil {
					t.Fatal(err)
				}
			},
			want:    4,
			wantErr: ledger.ErrCorrupt,
		},
		{
			name:   "two entries swapped",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				a, b := rawEntry(t, tx, 1), rawEntry(t, tx, 3)
				if err := tx.Bucket(bucketEntries).Put(be64(1), b); err != nil {
					t.Fatal(err)
				}
				if err := tx.Bucket(bucketEntries).Put(be64(3), a); err != nil {
					t.Fatal(err)
				}
			},
			want:    1,
			wantErr: ledger.ErrCorrupt,
		},
		{
			name:   "two entries swapped and renumbered",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				a, b := getEntry(t, tx, 1), getEntry(t, tx, 3)
				putBlob(t, tx, 3, f.m1.Envelope)
				putBlob(t, tx, 1, f.m2.Envelope)
				a.Index, b.Index = 3, 1
				a.RecordedAt, b.RecordedAt = b.RecordedAt, a.RecordedAt
				putEntry(t, tx, a)
				putEntry(t, tx, b)
			},
			// Entry 2, m1's receipt, now refers to a SENT entry of m2.
			want: 2,
		},
		{
			name:   "envelope signed by an unknown key of the same name",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { replaceEnvelope(t, tx, 7, resealed(t, f.m4, attacker)) },
			want:   7, wantErr: envelope.ErrUnknownKey,
		},
		{
			name:   "envelope signed by an unknown key, published keys",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { replaceEnvelope(t, tx, 7, resealed(t, f.m4, attacker)) },
			keys:   keysFor(t, p.id, p.kh),
			want:   7, wantErr: envelope.ErrUnknownKey,
		},
		{
			name:   "own message signed with the counterpart's key",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { replaceEnvelope(t, tx, 7, resealed(t, f.m4, p.kh.signer)) },
			want:   7, wantErr: envelope.ErrUnknownKey,
		},
		{
			name:   "own message signed with the counterpart's published key",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { replaceEnvelope(t, tx, 7, resealed(t, f.m4, p.kh.signer)) },
			keys:   keysFor(t, p.id, p.kh),
			want:   7, // a trusted key, but not this party's
		},
		{
			name:   "keys file lacks the counterpart key",
			ledger: p.id,
			tamper: func(*testing.T, *bolt.Tx) {},
			keys:   keysFor(t, p.id),
			want:   2, wantErr: envelope.ErrUnknownKey, // m1's receipt, signed by KH
		},
		{
			name:   "keys file lacks the ledger's own key",
			ledger: p.kh,
			tamper: func(*testing.T, *bolt.Tx) {},
			keys:   keysFor(t, p.id),
			want:   2, wantErr: envelope.ErrUnknownKey, // KH's receipt for m1
		},
		{
			name:   "receipt issued names another ledger index",
			ledger: p.kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				r := &envelopev1.Receipt{
					MessageId: f.m1.ID, EnvelopeSha256: sumOf(f.m1.Envelope), LedgerIndex: 3,
					ReceivedAt: getEntry(t, tx, 1).GetRecordedAt(), Receiver: partyKH,
				}
				signed, err := envelope.SignReceipt(r, p.kh.signer)
				if err != nil {
					t.Fatal(err)
				}
				sum := putBlob(t, tx, 2, signed)
				editEntry(t, tx, 2, func(e *ledgerv1.Entry) { e.ReceiptSha256 = sum })
			},
			want: 2,
		},
		{
			name:   "receipt received is another message's",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				sum := putBlob(t, tx, 2, f.m2.Receipt)
				editEntry(t, tx, 2, func(e *ledgerv1.Entry) { e.ReceiptSha256 = sum })
			},
			want: 2,
		},
		{
			name:   "message sent twice",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { appendCopy(t, tx, 1, 8) },
			want:   8,
		},
		{
			name:   "second receipt for a message",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) { appendCopy(t, tx, 2, 8) },
			want:   8,
		},
		{
			name:   "time goes back",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				before := getEntry(t, tx, 6).GetRecordedAt().AsTime().Add(-time.Millisecond)
				editEntry(t, tx, 7, func(e *ledgerv1.Entry) { e.RecordedAt = timestamppb.New(before) })
			},
			want: 7,
		},
		{
			name:   "RECEIVED without its RECEIPT_ISSUED",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				e := getEntry(t, tx, 7)
				e.Index = 6
				copyBlob(t, tx, 7, 6)
				putEntry(t, tx, e)
				if err := tx.Bucket(bucketEntries).Delete(be64(7)); err != nil {
					t.Fatal(err)
				}
			},
			want: 5,
		},
		{
			name:   "entry 0 not CONFIG",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				e := getEntry(t, tx, 7)
				e.Index, e.RecordedAt = 0, getEntry(t, tx, 0).GetRecordedAt()
				putEntry(t, tx, e)
			},
			want: 0,
		},
		{
			name:   "CONFIG key does not parse",
			ledger: p.kh,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				editEntry(t, tx, 0, func(e *ledgerv1.Entry) {
					e.Config.CounterpartMessagesKey = "imigrasi.go.id/focalpoint/messages+0000+AAAA"
				})
			},
			want: 0,
		},
		{
			name:   "message index lost a message",
			ledger: p.id,
			tamper: func(t *testing.T, tx *bolt.Tx) {
				c := tx.Bucket(bucketMessages).Cursor()
				prefix := append([]byte(f.m2.ID), 0)
				var doomed [][]byte
				for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					doomed = append(doomed, bytes.Clone(k))
				}
				for _, k := range doomed {
					if err := tx.Bucket(bucketMessages).Delete(k); err != nil {
						t.Fatal(err)
					}
				}
			},
			want:    3,
			wantErr: ledger.ErrNotFound,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, c.ledger.path)
			tamper(t, path, func(tx *bolt.Tx) error {
				c.tamper(t, tx)
				// Whoever rewrites entries can rewrite the stored tree over
				// them too (TestVerifyStoredTree catches those who do not);
				// these cases are about what the entries and blobs say. A
				// ledger with a gap cannot be given a tree that opens.
				if entriesWhole(tx) {
					rebuildTree(t, tx)
				}
				return nil
			})
			_, err := Verify(context.Background(), openRO(t, path), c.keys)
			pr := wantProblem(t, err, c.want)
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("error %v is not %v", err, c.wantErr)
			}
			t.Logf("%v", pr)
		})
	}
}

// TestVerifyEveryEntryByteFlip flips each byte of a SENT entry in turn. Every
// flip must be caught at that entry: most by what the entry says, the others,
// inside recorded_at, which no signature covers, by the tree the ledger
// stores. TestVerifyTimeFlipsNeedCheckpoints shows what catches those when
// the stored tree is rewritten too.
func TestVerifyEveryEntryByteFlip(t *testing.T) {
	f := newFixture(t)
	const index = 3
	var raw []byte
	tamper(t, f.p.id.path, func(tx *bolt.Tx) error { raw = rawEntry(t, tx, index); return nil })
	var e ledgerv1.Entry
	if err := proto.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	// Entries are encoded in field order: index, kind, recorded_at, ….
	size := func(m *ledgerv1.Entry) int { return proto.Size(m) }
	tsFrom := size(&ledgerv1.Entry{Index: e.Index, Kind: e.Kind})
	tsTo := size(&ledgerv1.Entry{Index: e.Index, Kind: e.Kind, RecordedAt: e.RecordedAt})
	if !bytes.Equal(raw[tsFrom+2:tsTo], mustMarshal(t, e.RecordedAt)) {
		t.Fatalf("recorded_at is not at bytes %d to %d", tsFrom, tsTo)
	}
	ledgerBytes, err := readAll(f.p.id.path)
	if err != nil {
		t.Fatal(err)
	}
	byTree := 0
	for off := range raw {
		for _, mask := range []byte{0xff, 0x01, 0x80} {
			path := writeTemp(t, ledgerBytes)
			tamper(t, path, func(tx *bolt.Tx) error {
				v := bytes.Clone(raw)
				v[off] ^= mask
				return tx.Bucket(bucketEntries).Put(be64(index), v)
			})
			l := openRO(t, path)
			_, err := Verify(context.Background(), l, nil)
			l.Close()
			var p *Problem
			switch {
			case err == nil:
				t.Errorf("byte %d ^ %#x: verified", off, mask)
			case !errors.As(err, &p) || !errors.Is(err, ErrInvalid):
				t.Errorf("byte %d ^ %#x: %v is not a *Problem", off, mask, err)
			case p.Index != index:
				t.Errorf("byte %d ^ %#x: problem at entry %d, want %d: %v", off, mask, p.Index, index, err)
			case strings.Contains(p.What, "stored tree"):
				byTree++
				if off < tsFrom || off >= tsTo {
					t.Logf("byte %d ^ %#x, outside recorded_at, caught only by the stored tree: %v", off, mask, err)
				}
			}
		}
	}
	t.Logf("%d bytes, 3 flips each; %d caught by the stored tree alone", len(raw), byTree)
}

// TestVerifyTimeFlipsNeedCheckpoints changes a SENT entry's recorded_at and
// rewrites the stored tree to match. Without checkpoints nothing catches a
// time that stays in order; with a checkpoint the counterpart cosigned, every
// change is caught.
func TestVerifyTimeFlipsNeedCheckpoints(t *testing.T) {
	for _, logs := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoints=%v", logs), func(t *testing.T) {
			p := newPairWith(t, pairConfig{logs: logs, seeded: true})
			x := p.exchange(p.id, p.kh)
			p.exchange(p.kh, p.id)
			if logs {
				p.cosign(p.id)
			}
			p.close()
			index := x.Sent
			var raw []byte
			tamper(t, p.id.path, func(tx *bolt.Tx) error { raw = rawEntry(t, tx, index); return nil })
			var e ledgerv1.Entry
			if err := proto.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			size := func(m *ledgerv1.Entry) int { return proto.Size(m) }
			tsFrom := size(&ledgerv1.Entry{Index: e.Index, Kind: e.Kind}) + 2
			tsTo := size(&ledgerv1.Entry{Index: e.Index, Kind: e.Kind, RecordedAt: e.RecordedAt})
			ledgerBytes, err := readAll(p.id.path)
			if err != nil {
				t.Fatal(err)
			}
			unseen, flips := 0, 0
			for off := tsFrom; off < tsTo; off++ {
				for _, mask := range []byte{0xff, 0x01, 0x80} {
					flips++
					path := writeTemp(t, ledgerBytes)
					tamper(t, path, func(tx *bolt.Tx) error {
						v := bytes.Clone(raw)
						v[off] ^= mask
						if err := tx.Bucket(bucketEntries).Put(be64(index), v); err != nil {
							return err
						}
						rebuildTree(t, tx)
						return nil
					})
					l := openRO(t, path)
					_, err := Verify(context.Background(), l, nil)
					l.Close()
					switch {
					case err == nil && logs:
						t.Errorf("byte %d ^ %#x: verified", off, mask)
					case err == nil:
						unseen++
					case !errors.Is(err, ErrInvalid):
						t.Errorf("byte %d ^ %#x: %v", off, mask, err)
					}
				}
			}
			if !logs && unseen == 0 {
				t.Error("every change of recorded_at was caught without checkpoints; the package documentation says some are not")
			}
			t.Logf("%d flips inside recorded_at, %d unseen", flips, unseen)
		})
	}
}

// TestVerifyTrustsOnlyGivenKeys forges a ledger's history wholesale: its
// CONFIG names the forger's key and every envelope is signed with it. The
// ledger agrees with itself, so it verifies on its own keys; the published
// keys refuse it. (A ledger that holds receipts cannot be forged this way:
// the counterpart signed the envelope hashes.)
func TestVerifyTrustsOnlyGivenKeys(t *testing.T) {
	p := newPair(t)
	sent := []exchange{p.sendOnly(p.id, p.kh), p.sendOnly(p.id, p.kh)}
	p.close()
	forger, forgerKey := newSigner(t, p.id.signer.Name()) // same name, other key
	path := copyFile(t, p.id.path)
	tamper(t, path, func(tx *bolt.Tx) error {
		defer rebuildTree(t, tx)
		editEntry(t, tx, 0, func(e *ledgerv1.Entry) { e.Config.SelfMessagesKey = forgerKey })
		for _, m := range sent {
			op, err := envelope.Open(m.Envelope, note.VerifierList(p.id.signer.Verifier()))
			if err != nil {
				t.Fatal(err)
			}
			env, err := envelope.Seal(op.Message, forger)
			if err != nil {
				t.Fatal(err)
			}
			sum := putBlob(t, tx, m.Sent, env)
			editEntry(t, tx, m.Sent, func(e *ledgerv1.Entry) { e.EnvelopeSha256 = sum })
		}
		return nil
	})
	l := openRO(t, path)
	if _, err := Verify(context.Background(), l, nil); err != nil {
		t.Fatalf("a self-consistent forgery fails on its own keys (the package documentation says it passes): %v", err)
	}
	_, err := Verify(context.Background(), l, keysFor(t, p.id, p.kh))
	wantProblem(t, err, sent[0].Sent)
	if !errors.Is(err, envelope.ErrUnknownKey) {
		t.Errorf("error %v is not ErrUnknownKey", err)
	}
}

// TestVerifyFollowsKeyRotation rotates Indonesia's key halfway: each entry is
// checked with the key in force when it was written.
func TestVerifyFollowsKeyRotation(t *testing.T) {
	p := newPair(t)
	before := p.exchange(p.id, p.kh)
	oldKeys := keysFor(t, p.id, p.kh)
	old := p.rotate(p.id)
	p.exchange(p.id, p.kh)
	p.exchange(p.kh, p.id)
	// A node that kept signing with the retired key after the rotation.
	m, _ := p.seal(p.id, p.kh)
	m.Envelope = func() []byte {
		op, err := envelope.Open(m.Envelope, note.VerifierList(p.id.signer.Verifier()))
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Seal(op.Message, old)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}()
	stale := p.id.send(m)
	p.close()

	both := append(append([]note.Verifier{}, oldKeys.Messages...), keysFor(t, p.id).Messages...)
	all := &Keys{Messages: both}
	newOnly := keysFor(t, p.id, p.kh)

	l := openRO(t, p.id.path)
	// Everything up to the stale message is sound under either kind of trust.
	for _, tc := range []struct {
		name string
		keys *Keys
		want uint64
	}{
		{"ledger's own keys", nil, stale},
		{"old and new published keys", all, stale},
		{"only the new published keys", newOnly, before.Sent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(context.Background(), l, tc.keys)
			wantProblem(t, err, tc.want)
		})
	}
	kh := openRO(t, p.kh.path)
	if _, err := Verify(context.Background(), kh, all); err != nil {
		t.Errorf("KH ledger across the rotation: %v", err)
	}
	if _, err := Verify(context.Background(), kh, nil); err != nil {
		t.Errorf("KH ledger across the rotation, own keys: %v", err)
	}
}

// TestVerifyLiveLedger verifies ledgers while both nodes keep writing, in
// the same process: Verify must neither deadlock with the ledger's committer
// when the file grows nor see a half-written transaction.
func TestVerifyLiveLedger(t *testing.T) {
	for _, logs := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoints=%v", logs), func(t *testing.T) { testVerifyLiveLedger(t, logs) })
	}
}

func testVerifyLiveLedger(t *testing.T, logs bool) {
	p := newPairWith(t, pairConfig{ledger: ledger.Options{NoSync: true}, logs: logs})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 0; i < 150; i++ {
			if i%3 == 2 {
				p.exchange(p.kh, p.id)
			} else {
				p.exchange(p.id, p.kh)
			}
			if logs && i%10 == 9 {
				p.cosign(p.id)
				p.cosign(p.kh)
			}
		}
	}()
	runs := 0
	for running := true; running; runs++ {
		select {
		case <-done:
			running = false
		default:
		}
		for _, n := range []*node{p.id, p.kh} {
			if _, err := Verify(context.Background(), n.l, nil); err != nil {
				t.Fatalf("run %d, %s: %v", runs, n.name, err)
			}
		}
	}
	wg.Wait()
	r, err := Verify(context.Background(), p.id.l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 100 || r.Received != 50 || len(r.Pending) != 0 {
		t.Errorf("after the writes: %d sent, %d received, %d pending", r.Sent, r.Received, len(r.Pending))
	}
	t.Logf("%d verifications during the writes", runs)
}

func TestVerifyEmptyLedgerAndCancel(t *testing.T) {
	path := t.TempDir() + "/empty.db"
	l, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Verify(context.Background(), l, nil)
	wantProblem(t, err, 0)

	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Verify(ctx, openRO(t, f.p.id.path), nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalid) {
		t.Errorf("cancelled: %v, want context.Canceled and not ErrInvalid", err)
	}
}

func TestProblemError(t *testing.T) {
	p := &Problem{Index: 41, Kind: "RECEIPT_RECEIVED", MessageID: "0190abcd", What: "receipt names envelope sha256 ab12…, SENT entry 17 has cd34…", Err: envelope.ErrBadSignature}
	want := "audit: entry 41 (RECEIPT_RECEIVED, message 0190abcd): receipt names envelope sha256 ab12…, SENT entry 17 has cd34…"
	if p.Error() != want {
		t.Errorf("got  %s\nwant %s", p.Error(), want)
	}
	var err error = fmt.Errorf("wrapped: %w", p)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, envelope.ErrBadSignature) {
		t.Errorf("errors.Is fails through %v", err)
	}
	if got := (&Problem{Index: 3, What: "x"}).Error(); got != "audit: entry 3: x" {
		t.Errorf("got %q", got)
	}
}

func sumOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(path string) ([]byte, error) { return os.ReadFile(path) }

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
