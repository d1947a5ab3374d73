package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// Options configure a Ledger. The zero value is a durable, writable ledger.
type Options struct {
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the ledger's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// ReadOnly opens the file for reading only, sharing it with other readers.
	ReadOnly bool
	// NoSync skips fsync on commit. Only for measurements that must leave the
	// disk out; a node never sets it.
	NoSync bool
	// MaxBatch caps how many writes share one transaction; 0 means 1024.
	MaxBatch int
	// Now is the clock entries are stamped with; nil means time.Now.
	Now func() time.Time
	// LogSigner signs a checkpoint of the tree after every committed batch;
	// nil signs none (an auditor's read-only open).
	LogSigner note.Signer
	// MaxConflicts caps the refused conflicting envelopes kept as evidence;
	// 0 means 1000. Past the cap, conflicts are still refused and counted.
	MaxConflicts int
}

// Ledger is an open ledger file. Its methods are safe for concurrent use.
type Ledger struct {
	db      *bolt.DB
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	maxBatch     int
	maxConflicts int
	requests     chan *request
	closing      chan struct{}
	stopped      chan struct{}
	close        sync.Once

	size      atomic.Uint64
	outboxLen atomic.Int64
	// releaseChecked and releasedAt are when the committer last looked at
	// the process's mapped file pages and how many there were after the last
	// release; only the committer uses them. releases counts the releases.
	releaseChecked time.Time
	releasedAt     int64
	releases       atomic.Int64
	// lastTime is the newest entry's time; only the committer uses it after Open.
	lastTime time.Time
	// tree is the compact range of the whole tree; only the committer uses it
	// after Open. memTree holds subtree hashes of an older read-only file that
	// has no stored tree.
	tree    *compact.Range
	memTree map[compact.NodeID][]byte
	signer  note.Signer
	// lastActivity is the index of the newest entry that is not about
	// checkpoints: the witness loop runs while it is not yet cosigned.
	lastActivity atomic.Int64

	mu         sync.Mutex
	waiters    map[string][]chan struct{}
	checkpoint []byte
	// changed is closed and replaced after every commit that appended entries.
	changed chan struct{}
}

// Open opens or creates the ledger at path.
func Open(path string, opts Options) (*Ledger, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		// Another process holding the file gets a clear error, not a hang.
		Timeout:      2 * time.Second,
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger: open %s: %w: the file is in use by another process (a running node?); to read a running node's ledger, copy it with `focalpoint ledger backup`", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	l := &Ledger{
		db:       db,
		log:      opts.Logger,
		now:      opts.Now,
		maxBatch: opts.MaxBatch,
		requests: make(chan *request),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		waiters:  make(map[string][]chan struct{}),
		memTree:  make(map[compact.NodeID][]byte),
		changed:  make(chan struct{}),
		signer:   opts.LogSigner,
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxBatch <= 0 {
		l.maxBatch = 1024
	}
	l.maxConflicts = opts.MaxConflicts
	if l.maxConflicts <= 0 {
		l.maxConflicts = 1000
	}
	if !opts.ReadOnly {
		if err := l.upgrade(); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := l.prepare(opts.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	l.metrics = newMetrics(opts.Registerer, l)
	if opts.ReadOnly {
		close(l.stopped)
	} else {
		go l.run()
	}
	return l, nil
}

// prepare creates the buckets of a new file, checks the format of an old one and
// finds the next index without scanning.
func (l *Ledger) prepare(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: no %s bucket: not a ledger file", ErrCorrupt, bucketMeta)
		}
		// A writable open has migrated a format-1 file by now; a read-only
		// one reads it as it is.
		if f := meta.Get(metaFormat); string(f) != formatVersion && (!readOnly || string(f) != formatVersion1) {
			return fmt.Errorf("%w: format %q, want %q", ErrCorrupt, f, formatVersion)
		}
		for _, name := range coreBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: no %s bucket", ErrCorrupt, name)
			}
		}
		k, v := tx.Bucket(bucketEntries).Cursor().Last()
		if k != nil {
			if len(k) != 8 {
				return fmt.Errorf("%w: entry key of %d bytes", ErrCorrupt, len(k))
			}
			l.size.Store(beU64(k) + 1)
			last, err := parseEntry(beU64(k), v)
			if err != nil {
				return err
			}
			l.lastTime = last.GetRecordedAt().AsTime()
		}
		// Counted once at start; commits keep the count from then on.
		l.outboxLen.Store(int64(tx.Bucket(bucketOutbox).Stats().KeyN))
		l.checkpoint = bytes.Clone(tx.Bucket(bucketMeta).Get(metaCheckpoint))
		return l.findLastActivity(tx)
	}
	if readOnly {
		return l.db.View(func(tx *bolt.Tx) error {
			if err := check(tx); err != nil {
				return err
			}
			return l.loadTree(tx, false)
		})
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			for _, name := range coreBuckets {
				if _, err := tx.CreateBucket(name); err != nil {
					return fmt.Errorf("ledger: create bucket %s: %w", name, err)
				}
			}
			if err := tx.Bucket(bucketMeta).Put(metaFormat, []byte(formatVersion)); err != nil {
				return fmt.Errorf("ledger: write format: %w", err)
			}
		}
		if err := check(tx); err != nil {
			return err
		}
		for _, name := range laterBuckets {
			if tx.Bucket(name) != nil {
				continue
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("ledger: create bucket %s: %w", name, err)
			}
			switch string(name) {
			case string(bucketThreads):
				if err := indexThreads(tx); err != nil {
					return err
				}
			case string(bucketDeadlines):
				if err := indexDeadlines(tx); err != nil {
					return err
				}
			}
		}
		return l.loadTree(tx, true)
	})
}

// Close waits for writes already handed to the ledger, then closes the file.
// Later writes get ErrClosed.
func (l *Ledger) Close() error {
	l.close.Do(func() { close(l.closing) })
	<-l.stopped
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("ledger: close: %w", err)
	}
	return nil
}

// Path is the file's path.
func (l *Ledger) Path() string { return l.db.Path() }

// Size is the number of entries.
func (l *Ledger) Size() uint64 { return l.size.Load() }

// Entry returns entry i and its exact stored bytes.
func (l *Ledger) Entry(i uint64) (*ledgerv1.Entry, []byte, error) {
	var e *ledgerv1.Entry
	var raw []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		e, raw, err = readEntry(tx, i)
		raw = bytes.Clone(raw)
		return err
	})
	return e, raw, err
}

// Scan calls fn for each entry from index from, in order, with its exact stored
// bytes, inside one read transaction: a consistent view even while the node
// writes. The bytes are valid only during the call. fn MUST NOT call the
// ledger: a second read transaction in the same goroutine can deadlock against
// a commit that grows the file. Scan in chunks to look things up in between.
func (l *Ledger) Scan(from uint64, fn func(e *ledgerv1.Entry, raw []byte) error) error {
	return l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		want := from
		for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
			if len(k) != 8 || beU64(k) != want {
				return fmt.Errorf("%w: index gap: want entry %d, found key %x", ErrCorrupt, want, k)
			}
			e, err := parseEntry(want, v)
			if err != nil {
				return err
			}
			if err := fn(e, v); err != nil {
				return err
			}
			want++
		}
		return nil
	})
}

// Entries returns copies of up to n entries' stored bytes from index from on,
// for export: short read transactions, so a slow reader holds nothing up.
func (l *Ledger) Entries(from uint64, n int) ([][]byte, error) {
	var out [][]byte
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		for k, v := c.Seek(u64(from)); k != nil && len(out) < n; k, v = c.Next() {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	return out, err
}

// FirstIndex returns the index and kind of the first entry about a message,
// from the message index alone, without reading any entry: the cheap check an
// auditor makes for every message.
func (l *Ledger) FirstIndex(id string) (uint64, ledgerv1.EntryKind, error) {
	var index uint64
	var kind ledgerv1.EntryKind
	err := l.db.View(func(tx *bolt.Tx) error {
		prefix := messagePrefix(id)
		k, v := tx.Bucket(bucketMessages).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return fmt.Errorf("%w: message %s", ErrNotFound, id)
		}
		if len(k) != len(prefix)+8 || len(v) != 1 {
			return fmt.Errorf("%w: message index key %x", ErrCorrupt, k)
		}
		index, kind = beU64(k[len(prefix):]), ledgerv1.EntryKind(v[0])
		return nil
	})
	return index, kind, err
}

// MessageEntries returns every entry about a message, in ledger order, or
// ErrNotFound.
func (l *Ledger) MessageEntries(id string) ([]*ledgerv1.Entry, error) {
	var out []*ledgerv1.Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = messageEntries(tx, id)
		return err
	})
	if err == nil && len(out) == 0 {
		return nil, fmt.Errorf("%w: message %s", ErrNotFound, id)
	}
	return out, err
}

// Config returns the latest CONFIG entry's configuration, or ErrNotFound for a
// ledger never initialised.
func (l *Ledger) Config() (*ledgerv1.Config, error) {
	var cfg *ledgerv1.Config
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		cfg, err = latestConfig(tx)
		return err
	})
	return cfg, err
}

// Conflict is a validly signed envelope refused because its message ID was
// already recorded with other bytes.
type Conflict struct {
	MessageID  string
	RefusedAt  time.Time
	Envelope   []byte
	EnvelopeID [32]byte
}

// Conflicts returns the conflicting envelopes kept as evidence.
func (l *Ledger) Conflicts() ([]Conflict, error) {
	var out []Conflict
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConflicts)
		if b == nil { // an older file opened read-only
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			c, err := decodeConflict(k, v)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// OutboxRow is a sent message still waiting for its receipt.
type OutboxRow struct {
	MessageID  string
	SentIndex  uint64
	AcceptedAt time.Time
}

// Outbox returns up to limit waiting messages whose SENT index is at least
// from, oldest first.
func (l *Ledger) Outbox(from uint64, limit int) ([]OutboxRow, error) {
	var rows []OutboxRow
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.Seek(u64(from)); k != nil && len(rows) < limit; k, v = c.Next() {
			r, err := decodeOutboxRow(k, v)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return nil
	})
	return rows, err
}

// OutboxLen is how many sent messages wait for their receipt. It is kept in
// memory, so asking costs nothing.
func (l *Ledger) OutboxLen() int { return int(l.outboxLen.Load()) }

// EntriesBefore returns up to n entries with an index below before, newest
// first.
func (l *Ledger) EntriesBefore(before uint64, n int) ([]*ledgerv1.Entry, error) {
	var out []*ledgerv1.Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		k, v := c.Seek(u64(before))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < n; k, v = c.Prev() {
			if len(k) != 8 {
				return fmt.Errorf("%w: entry key %x", ErrCorrupt, k)
			}
			e, err := parseEntry(beU64(k), v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// InboxFrom returns up to n received messages whose RECEIVED entry is at
// index from or later, oldest first: the order a watcher consumes them in.
func (l *Ledger) InboxFrom(from uint64, n int) ([]InboxItem, error) {
	var out []InboxItem
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketInbox).Cursor()
		for k, v := c.Seek(u64(from)); k != nil && len(out) < n; k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("%w: inbox key %x", ErrCorrupt, k)
			}
			out = append(out, InboxItem{MessageID: string(v), ReceivedIndex: beU64(k)})
		}
		return nil
	})
	return out, err
}

// InboxItem is one received message.
type InboxItem struct {
	MessageID     string
	ReceivedIndex uint64
}

// WaitReceipt blocks until the counterpart's receipt for a sent message is in
// the ledger and returns the RECEIPT_RECEIVED entry, or returns when ctx ends.
func (l *Ledger) WaitReceipt(ctx context.Context, id string) (*ledgerv1.Entry, error) {
	ch := make(chan struct{})
	l.mu.Lock()
	l.waiters[id] = append(l.waiters[id], ch)
	l.mu.Unlock()
	defer l.dropWaiter(id, ch)
	// Registered before looking, so a receipt committed in between still wakes us.
	entries, err := l.MessageEntries(id)
	if err != nil {
		return nil, err
	}
	if entries[0].GetKind() != ledgerv1.EntryKind_ENTRY_KIND_SENT {
		return nil, fmt.Errorf("%w: message %s was not sent by this node", ErrUnknownMessage, id)
	}
	for {
		if e := findKind(entries, ledgerv1.EntryKind_ENTRY_KIND_RECEIPT_RECEIVED); e != nil {
			return e, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("ledger: waiting for the receipt of %s: %w", id, ctx.Err())
		case <-l.closing:
			return nil, ErrClosed
		}
		if entries, err = l.MessageEntries(id); err != nil {
			return nil, err
		}
	}
}

func (l *Ledger) dropWaiter(id string, ch chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(l.waiters, id)
	} else {
		l.waiters[id] = list
	}
}

func (l *Ledger) wake(ids []string) {
	if len(ids) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		for _, ch := range l.waiters[id] {
			close(ch)
		}
		delete(l.waiters, id)
	}
}

// Changed returns a channel closed at the next commit that appends entries.
// Take it, look at the ledger, then wait on it: nothing committed in between
// is missed.
func (l *Ledger) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *Ledger) announce() {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
}

// ThreadEntries returns every entry of a case (thread), in ledger order.
func (l *Ledger) ThreadEntries(thread string) ([]*ledgerv1.Entry, error) {
	var out []*ledgerv1.Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThreads)
		if b == nil { // an older file opened read-only: look at every entry
			return tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error {
				e, err := parseEntry(beU64(k), v)
				if err == nil && e.GetThreadId() == thread {
					out = append(out, e)
				}
				return err
			})
		}
		prefix := messagePrefix(thread)
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("%w: thread index key %x", ErrCorrupt, k)
			}
			e, _, err := readEntry(tx, beU64(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// indexThreads fills the thread index of a file written before it existed.
func indexThreads(tx *bolt.Tx) error {
	b := tx.Bucket(bucketThreads)
	return tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error {
		e, err := parseEntry(beU64(k), v)
		if err != nil || e.GetThreadId() == "" {
			return err
		}
		return b.Put(messageKey(e.GetThreadId(), e.GetIndex()), []byte{byte(e.GetKind())})
	})
}

// Backup writes a consistent copy of the whole file to w while the node keeps
// working: bbolt copies from one read transaction.
func (l *Ledger) Backup(w io.Writer) (int64, error) {
	var n int64
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("ledger: backup: %w", err)
	}
	return n, nil
}

func readEntry(tx *bolt.Tx, i uint64) (*ledgerv1.Entry, []byte, error) {
	v := tx.Bucket(bucketEntries).Get(u64(i))
	if v == nil {
		return nil, nil, fmt.Errorf("%w: entry %d", ErrNotFound, i)
	}
	e, err := parseEntry(i, v)
	return e, v, err
}

func parseEntry(i uint64, raw []byte) (*ledgerv1.Entry, error) {
	var e ledgerv1.Entry
	if err := proto.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: entry %d: %w", ErrCorrupt, i, err)
	}
	if e.GetIndex() != i {
		return nil, fmt.Errorf("%w: entry %d says it is entry %d", ErrCorrupt, i, e.GetIndex())
	}
	return &e, nil
}

func messageEntries(tx *bolt.Tx, id string) ([]*ledgerv1.Entry, error) {
	var out []*ledgerv1.Entry
	prefix := messagePrefix(id)
	c := tx.Bucket(bucketMessages).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			return nil, fmt.Errorf("%w: message index key %x", ErrCorrupt, k)
		}
		e, _, err := readEntry(tx, beU64(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		if e.GetMessageId() != id {
			return nil, fmt.Errorf("%w: index says entry %d is about %s, it is about %s", ErrCorrupt, e.GetIndex(), id, e.GetMessageId())
		}
		out = append(out, e)
	}
	return out, nil
}

func latestConfig(tx *bolt.Tx) (*ledgerv1.Config, error) {
	v := tx.Bucket(bucketMeta).Get(metaConfig)
	if v == nil {
		return nil, fmt.Errorf("%w: no configuration recorded", ErrNotFound)
	}
	if len(v) != 8 {
		return nil, fmt.Errorf("%w: config index of %d bytes", ErrCorrupt, len(v))
	}
	e, _, err := readEntry(tx, beU64(v))
	if err != nil {
		return nil, err
	}
	if e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_CONFIG || e.GetConfig() == nil {
		return nil, fmt.Errorf("%w: entry %d is not a configuration", ErrCorrupt, e.GetIndex())
	}
	return e.GetConfig(), nil
}

func findKind(entries []*ledgerv1.Entry, kind ledgerv1.EntryKind) *ledgerv1.Entry {
	for _, e := range entries {
		if e.GetKind() == kind {
			return e
		}
	}
	return nil
}

// findLastActivity finds the newest entry not about checkpoints, walking back
// from the end: usually one step.
func (l *Ledger) findLastActivity(tx *bolt.Tx) error {
	l.lastActivity.Store(-1)
	c := tx.Bucket(bucketEntries).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if len(k) != 8 {
			return fmt.Errorf("%w: entry key of %d bytes", ErrCorrupt, len(k))
		}
		e, err := parseEntry(beU64(k), v)
		if err != nil {
			return err
		}
		if !isCheckpointKind(e.GetKind()) {
			l.lastActivity.Store(int64(e.GetIndex()))
			return nil
		}
	}
	return nil
}

func isCheckpointKind(k ledgerv1.EntryKind) bool {
	return k == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_COSIGNED || k == ledgerv1.EntryKind_ENTRY_KIND_CHECKPOINT_WITNESSED
}

// beU64 reads a big-endian index; callers check the length of what they read
// from the file first, since a corrupt file must give an error, not a panic.
func beU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
