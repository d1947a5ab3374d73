package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

func openTemp(t *testing.T, opts Options) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func testConfig() *ledgerv1.Config {
	return &ledgerv1.Config{
		LedgerName:             "imigrasi.go.id/focalpoint/ledger",
		Self:                   &messagev1.Party{Agency: "ID-DJI", SpiffeId: "spiffe://imigrasi.go.id/focalpoint/node"},
		Counterpart:            &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/node"},
		SelfMessagesKey:        "a+1+x",
		CounterpartMessagesKey: "b+2+y",
	}
}

func msg(i int) Message {
	return Message{
		ID:       fmt.Sprintf("01900000-0000-7000-8000-%012d", i),
		Kind:     ledgerv1.MessageKind_MESSAGE_KIND_ALERT,
		ThreadID: "t",
		Envelope: []byte(fmt.Sprintf("envelope %d", i)),
	}
}

func issuer(index uint64, at time.Time) ([]byte, error) {
	return []byte(fmt.Sprintf("receipt for entry %d at %d", index, at.UnixNano())), nil
}

func snapshot(t *testing.T, l *Ledger) [][]byte {
	t.Helper()
	var out [][]byte
	if err := l.Scan(0, func(_ *ledgerv1.Entry, raw []byte) error {
		out = append(out, bytes.Clone(raw))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendReadReopen(t *testing.T) {
	ctx := context.Background()
	l, path := openTemp(t, Options{})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	idx, err := l.AppendSent(ctx, msg(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if idx != 1 {
		t.Fatalf("first SENT at %d, want 1 (after CONFIG)", idx)
	}
	e, _, err := l.Entry(idx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(msg(1).Envelope)
	if e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_SENT || !bytes.Equal(e.GetEnvelopeSha256(), sum[:]) || e.GetMessageId() != msg(1).ID {
		t.Fatalf("entry = %v", e)
	}
	blob, err := l.Envelope(e)
	if err != nil || !bytes.Equal(blob, msg(1).Envelope) {
		t.Fatalf("blob = %q, %v", blob, err)
	}
	rows, err := l.Outbox(0, 10)
	if err != nil || l.OutboxLen() != 1 || len(rows) != 1 || rows[0].MessageID != msg(1).ID || rows[0].SentIndex != idx {
		t.Fatalf("outbox = %v, %d, %v", rows, l.OutboxLen(), err)
	}
	before := snapshot(t, l)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendSent(ctx, msg(2), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.OutboxLen() != 1 {
		t.Fatalf("outbox length after reopen = %d", l2.OutboxLen())
	}
	if l2.Size() != 2 {
		t.Fatalf("size after reopen = %d", l2.Size())
	}
	if _, err := l2.AppendSent(ctx, msg(2), 0); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, l2)
	for i := range before {
		if !bytes.Equal(before[i], after[i]) {
			t.Fatalf("entry %d changed after reopen and append", i)
		}
	}
	if len(after) != 3 {
		t.Fatalf("%d entries, want 3", len(after))
	}
	cfg, err := l2.Config()
	if err != nil || cfg.GetLedgerName() != testConfig().GetLedgerName() {
		t.Fatalf("config = %v, %v", cfg, err)
	}
}

func TestInitRecordsChangesOnly(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	for range 3 {
		if err := l.Init(ctx, testConfig()); err != nil {
			t.Fatal(err)
		}
	}
	if l.Size() != 1 {
		t.Fatalf("same config three times: %d entries, want 1", l.Size())
	}
	cfg := testConfig()
	cfg.CounterpartMessagesKey = "rotated"
	if err := l.Init(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := l.Config()
	if err != nil || got.GetCounterpartMessagesKey() != "rotated" || l.Size() != 2 {
		t.Fatalf("after rotation: %v, %v, size %d", got, err, l.Size())
	}
}

func TestReceivedDeduplicates(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	m := msg(1)
	first, err := l.AppendReceived(ctx, m, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if first.Replayed || first.Index != 0 {
		t.Fatalf("first = %+v", first)
	}
	size := l.Size()
	before := snapshot(t, l)

	again, err := l.AppendReceived(ctx, m, func(uint64, time.Time) ([]byte, error) {
		t.Fatal("a replay must not issue a new receipt")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || !bytes.Equal(again.SignedReceipt, first.SignedReceipt) || again.Index != first.Index {
		t.Fatalf("replay = %+v, want the original receipt", again)
	}

	other := m
	other.Envelope = []byte("other bytes under the same ID")
	if _, err := l.AppendReceived(ctx, other, issuer); !errors.Is(err, ErrConflict) {
		t.Fatalf("other bytes: err = %v, want ErrConflict", err)
	}
	if l.Size() != size {
		t.Fatalf("size %d after replay and conflict, want %d", l.Size(), size)
	}
	if after := snapshot(t, l); len(after) != len(before) {
		t.Fatal("ledger changed")
	}
	entries, err := l.MessageEntries(m.ID)
	if err != nil || len(entries) != 2 || entries[1].GetKind() != ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_ISSUED || entries[1].GetRefersToIndex() != entries[0].GetIndex() {
		t.Fatalf("entries = %v, %v", entries, err)
	}
	inbox, err := l.InboxFrom(0, 10)
	if err != nil || len(inbox) != 1 || inbox[0].MessageID != m.ID {
		t.Fatalf("inbox = %v, %v", inbox, err)
	}
}

func TestIssueFailureWritesNothing(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	_, err := l.AppendReceived(ctx, msg(1), func(uint64, time.Time) ([]byte, error) {
		return nil, errors.New("signer unavailable")
	})
	if err == nil {
		t.Fatal("want error")
	}
	if l.Size() != 0 {
		t.Fatalf("size = %d after failed issue", l.Size())
	}
	if _, err := l.MessageEntries(msg(1).ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("message recorded: %v", err)
	}
}

func TestReceiptReceived(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	sent, err := l.AppendSent(ctx, msg(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendSent(ctx, msg(1), 0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("same ID sent twice: %v", err)
	}
	if _, err := l.AppendReceiptReceived(ctx, msg(9).ID, []byte("r")); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("receipt for unknown message: %v", err)
	}
	waited := make(chan *ledgerv1.Entry, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		e, err := l.WaitReceipt(ctx, msg(1).ID)
		if err != nil {
			t.Error(err)
		}
		waited <- e
	}()
	idx, err := l.AppendReceiptReceived(ctx, msg(1).ID, []byte("receipt"))
	if err != nil {
		t.Fatal(err)
	}
	if e := <-waited; e.GetIndex() != idx || e.GetRefersToIndex() != sent {
		t.Fatalf("waiter got %v", e)
	}
	again, err := l.AppendReceiptReceived(ctx, msg(1).ID, []byte("another receipt"))
	if err != nil || again != idx || l.Size() != 2 {
		t.Fatalf("second receipt: %d, %v, size %d", again, err, l.Size())
	}
	if rows, _ := l.Outbox(0, 10); len(rows) != 0 || l.OutboxLen() != 0 {
		t.Fatalf("outbox holds %v (len %d) after receipt", rows, l.OutboxLen())
	}
	if _, err := l.WaitReceipt(ctx, msg(9).ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wait for unknown: %v", err)
	}
}

// Concurrent writers share transactions, and every write gets its own index.
func TestGroupCommit(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, _ := openTemp(t, Options{Registerer: reg})
	ctx := context.Background()
	const n = 400
	var wg sync.WaitGroup
	idx := make([]uint64, n)
	for i := range n {
		wg.Go(func() {
			var err error
			idx[i], err = l.AppendSent(ctx, msg(i), 0)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := make(map[uint64]bool)
	for i, x := range idx {
		if seen[x] {
			t.Fatalf("index %d given twice", x)
		}
		seen[x] = true
		e, _, err := l.Entry(x)
		if err != nil || e.GetMessageId() != msg(i).ID {
			t.Fatalf("entry %d = %v, %v; want message %d", x, e, err, i)
		}
	}
	if l.Size() != n {
		t.Fatalf("size %d", l.Size())
	}
	if got := testutil.ToFloat64(l.metrics.appended.WithLabelValues("SENT")); got != n {
		t.Fatalf("appended metric = %v", got)
	}
	// Fewer commits than writes proves the batching; with 400 goroutines racing
	// a ~1 ms fsync, batches always form.
	count := histogramCount(t, reg, "focalpoint_ledger_commit_batch_writes")
	if count >= n {
		t.Fatalf("%d commits for %d writes: no group commit", count, n)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestBackupIsAConsistentLedger(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	if err := l.Init(ctx, testConfig()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := l.AppendSent(ctx, msg(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backup(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c, err := Open(out, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Size() != l.Size() {
		t.Fatalf("copy has %d entries, original %d", c.Size(), l.Size())
	}
	want, got := snapshot(t, l), snapshot(t, c)
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			t.Fatalf("entry %d differs in the copy", i)
		}
	}
	if _, err := c.AppendSent(ctx, msg(99), 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write to read-only copy: %v", err)
	}
}

func TestOpenRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("meta"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a foreign bbolt file: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(garbage, Options{ReadOnly: true}); err == nil {
		t.Fatal("opened garbage")
	}
}

func TestScanDetectsGap(t *testing.T) {
	ctx := context.Background()
	l, path := openTemp(t, Options{})
	for i := range 3 {
		if _, err := l.AppendSent(ctx, msg(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Delete(u64(1)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.Scan(0, func(*ledgerv1.Entry, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("scan over a deleted entry: %v", err)
	}
}

func BenchmarkAppendSentParallel(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.db")
	l, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	env := bytes.Repeat([]byte("e"), 1024)
	var mu sync.Mutex
	n := 0
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			id := fmt.Sprintf("01900000-0000-7000-8000-%012d", n)
			mu.Unlock()
			if _, err := l.AppendSent(context.Background(), Message{ID: id, Envelope: append(env, id...)}, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestRefusesWhatWouldBreakTheIndex(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	bad := []Message{
		{ID: "", Envelope: []byte("e")},
		{ID: "a\x00b", Envelope: []byte("e")},
		{ID: string(bytes.Repeat([]byte("x"), 200)), Envelope: []byte("e")},
		{ID: "ok", Envelope: nil},
	}
	for _, m := range bad {
		if _, err := l.AppendSent(ctx, m, 0); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("AppendSent(%q, 0): %v", m.ID, err)
		}
		if _, err := l.AppendReceived(ctx, m, issuer); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("AppendReceived(%q): %v", m.ID, err)
		}
	}
	if err := l.Init(ctx, &ledgerv1.Config{LedgerName: "x"}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Init(incomplete): %v", err)
	}
	if l.Size() != 0 {
		t.Fatalf("size %d", l.Size())
	}
}

// A clock stepped back must not give an entry an earlier time than the one
// before it, during a run or across a restart.
func TestTimesNeverGoBackwards(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	l, path := openTemp(t, Options{Now: now})
	if _, err := l.AppendSent(ctx, msg(1), 0); err != nil {
		t.Fatal(err)
	}
	set(clock.Add(-time.Hour))
	if _, err := l.AppendSent(ctx, msg(2), 0); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, err := Open(path, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	set(clock.Add(-time.Hour))
	if _, err := l2.AppendSent(ctx, msg(3), 0); err != nil {
		t.Fatal(err)
	}
	var prev time.Time
	if err := l2.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		if at := e.GetRecordedAt().AsTime(); at.Before(prev) {
			t.Errorf("entry %d at %v, before %v", e.GetIndex(), at, prev)
		} else {
			prev = at
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxLimitIsExactUnderConcurrency(t *testing.T) {
	l, _ := openTemp(t, Options{})
	const limit = 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, full := 0, 0
	for i := range 40 {
		wg.Go(func() {
			_, err := l.AppendSent(context.Background(), msg(i), limit)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, ErrOutboxFull):
				full++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if accepted != limit || full != 40-limit || l.OutboxLen() != limit || l.Size() != limit {
		t.Fatalf("accepted %d, refused %d, outbox %d, size %d; want exactly %d accepted", accepted, full, l.OutboxLen(), l.Size(), limit)
	}
}

// Other bytes under a known ID are refused and kept as evidence: once per
// distinct envelope, and never more than the cap, whatever a peer sends.
func TestConflictEvidenceIsBounded(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{MaxConflicts: 3})
	m := msg(1)
	if _, err := l.AppendReceived(ctx, m, issuer); err != nil {
		t.Fatal(err)
	}
	size := l.Size()
	for i := range 10 {
		for range 2 { // the same conflicting bytes twice count once
			other := m
			other.Envelope = []byte(fmt.Sprintf("forged %d", i))
			if _, err := l.AppendReceived(ctx, other, issuer); !errors.Is(err, ErrConflict) {
				t.Fatalf("conflict %d: %v", i, err)
			}
		}
	}
	got, err := l.Conflicts()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d conflicts kept, want the cap of 3", len(got))
	}
	for _, c := range got {
		if c.MessageID != m.ID || !bytes.HasPrefix(c.Envelope, []byte("forged ")) || sha256.Sum256(c.Envelope) != c.EnvelopeID {
			t.Fatalf("conflict row %+v", c)
		}
	}
	if l.Size() != size {
		t.Fatalf("conflicts grew the ledger from %d to %d entries", size, l.Size())
	}
}

func TestOpenRequestsAndThreads(t *testing.T) {
	ctx := context.Background()
	l, _ := openTemp(t, Options{})
	alert := msg(1)
	alert.ThreadID = "case-1"
	alert.Deadline = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := l.AppendSent(ctx, alert, 0); err != nil {
		t.Fatal(err)
	}
	other := msg(2)
	other.ThreadID = "case-2"
	other.Deadline = alert.Deadline.Add(time.Hour)
	if _, err := l.AppendReceived(ctx, other, issuer); err != nil {
		t.Fatal(err)
	}
	open, err := l.OpenRequests()
	if err != nil || len(open) != 2 {
		t.Fatalf("open requests %v %v", open, err)
	}
	wantOverdue := func(at time.Time, here, there int) {
		t.Helper()
		h, th, err := l.Overdue(at)
		if err != nil || h != here || th != there {
			t.Fatalf("overdue at %s: owed here %d, there %d (%v); want %d, %d", at, h, th, err, here, there)
		}
	}
	wantOverdue(alert.Deadline, 0, 0) // due, not yet overdue
	wantOverdue(alert.Deadline.Add(time.Second), 0, 1)
	wantOverdue(other.Deadline.Add(time.Second), 1, 1)
	for _, r := range open {
		if (r.MessageID == alert.ID) != r.Outbound {
			t.Fatalf("direction of %+v", r)
		}
	}
	answer := msg(3)
	answer.ThreadID = "case-1"
	answer.Closes = alert.ID
	if _, err := l.AppendReceived(ctx, answer, issuer); err != nil {
		t.Fatal(err)
	}
	open, _ = l.OpenRequests()
	if len(open) != 1 || open[0].MessageID != other.ID || !open[0].Deadline.Equal(other.Deadline) {
		t.Fatalf("after the answer: %+v", open)
	}
	wantOverdue(other.Deadline.Add(time.Second), 1, 0)
	entries, err := l.ThreadEntries("case-1")
	if err != nil || len(entries) != 3 { // SENT, RECEIVED, RECEIPT_ISSUED
		t.Fatalf("case-1: %v %v", entries, err)
	}
	changed := l.Changed()
	select {
	case <-changed:
		t.Fatal("changed before a commit")
	default:
	}
	if _, err := l.AppendSent(ctx, msg(4), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change announced")
	}
}

// A file written before the deadline index had it is indexed on a writable
// open, and counts its overdue requests as one that always had it.
func TestDeadlineIndexBuiltForOlderFiles(t *testing.T) {
	ctx := context.Background()
	l, path := openTemp(t, Options{})
	due := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		m := msg(i)
		m.Deadline = due.Add(time.Duration(i) * time.Hour)
		if _, err := l.AppendSent(ctx, m, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketDeadlines) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, there, err := ro.Overdue(due.Add(90 * time.Minute)); err != nil || there != 2 {
		t.Errorf("read-only, without the index: %d overdue (%v), want 2", there, err)
	}
	ro.Close()
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, there, err := l2.Overdue(due.Add(90 * time.Minute)); err != nil || there != 2 {
		t.Errorf("after indexing: %d overdue (%v), want 2", there, err)
	}
}
