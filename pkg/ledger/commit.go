package ledger

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
)

// Group commit.
//
// Every write is an op handed to one goroutine, which takes whatever ops are
// waiting, runs them all in one bbolt transaction and commits once, so N
// concurrent writers share one fsync. There is no timer: while one commit is on
// the disk the next batch gathers by itself, so a lone writer pays one fsync and
// a crowd pays one fsync per batch.
//
// An op MUST NOT write anything before it has decided to go ahead: a refusal
// (ErrConflict and the like) is reported through the op's own result and the op
// returns nil, so one refused write never spoils its batch. An op returns an
// error only when storage itself fails; then the batch is rolled back and every
// op in it is run again alone, so each caller gets its own answer. Ops may
// therefore run more than once and MUST keep their results in fields they
// overwrite on each run.

type op func(w *writer) error

type request struct {
	op   op
	done chan error
}

// do hands op to the committer and waits until its transaction is durable.
func (l *Ledger) do(ctx context.Context, o op) error {
	if l.db.IsReadOnly() {
		return ErrReadOnly
	}
	r := &request{op: o, done: make(chan error, 1)}
	select {
	case l.requests <- r:
	case <-l.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("ledger: %w", ctx.Err())
	}
	// Once handed over, the op will be committed or fail; wait for which, even if
	// ctx ends, so a caller never reports failure for a write that is durable.
	return <-r.done
}

func (l *Ledger) run() {
	defer close(l.stopped)
	// The mapped pages are looked at between commits and, on a ledger that
	// is only read, on this slower tick, so an idle node stays idle.
	tick := time.NewTicker(10 * releaseEvery)
	defer tick.Stop()
	for {
		var first *request
		select {
		case first = <-l.requests:
		case <-tick.C:
			l.maybeRelease()
			continue
		case <-l.closing:
			return
		}
		batch := []*request{first}
	gather:
		for len(batch) < l.maxBatch {
			select {
			case r := <-l.requests:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		l.commit(batch)
		l.maybeRelease()
	}
}

// The ledger's pages this process has mapped are released (see releaseMapped)
// once they have grown by releaseStep since the last release, looked at no
// more often than releaseEvery. They are measured, not estimated from what was
// read: a read maps its page and up to 15 cached neighbours (the kernel's
// fault-around), so scattered reads of a few KiB can map tens of MiB.
const (
	releaseStep  = 4 << 20
	releaseEvery = 10 * time.Millisecond
)

// maybeRelease releases the mapped pages if they have grown enough.
func (l *Ledger) maybeRelease() {
	now := time.Now()
	if now.Sub(l.releaseChecked) < releaseEvery {
		return
	}
	l.releaseChecked = now
	mapped, err := residentFileBytes()
	if err != nil || mapped < l.releasedAt+releaseStep {
		return
	}
	if err := l.releaseMapped(); err != nil {
		l.log.Warn("ledger: releasing mapped pages failed", "err", err)
		return
	}
	l.releases.Add(1)
	// What stays is the binary's pages and whatever was mapped since: the
	// base for the next step.
	if l.releasedAt, err = residentFileBytes(); err != nil {
		l.releasedAt = mapped
	}
}

func (l *Ledger) commit(batch []*request) {
	start := time.Now()
	w, err := l.apply(batch)
	if err != nil && len(batch) > 1 {
		l.log.Warn("ledger: batch failed, committing its writes one by one", "writes", len(batch), "err", err)
		for _, r := range batch {
			l.commit([]*request{r})
		}
		return
	}
	if err == nil {
		l.tree = w.tree
		if w.checkpoint != nil {
			l.mu.Lock()
			l.checkpoint = w.checkpoint
			l.mu.Unlock()
		}
		if w.activity >= 0 {
			l.lastActivity.Store(w.activity)
		}
		l.size.Store(w.next)
		if w.appended != nil {
			l.lastTime = w.now
		}
		l.outboxLen.Add(int64(w.outboxDelta))
		l.metrics.committed(w, len(batch), time.Since(start))
		l.wake(w.receipted)
		if w.appended != nil {
			l.announce()
		}
	}
	for _, r := range batch {
		r.done <- err
	}
}

func (l *Ledger) apply(batch []*request) (*writer, error) {
	var w *writer
	err := l.db.Update(func(tx *bolt.Tx) error {
		// Entry times never go backwards, even if the clock is stepped back:
		// an auditor reads a time earlier than its predecessor's as tampering.
		now := l.now().UTC()
		if now.Before(l.lastTime) {
			now = l.lastTime
		}
		w = &writer{
			tx:        tx,
			now:       now,
			next:      l.size.Load(),
			entries:   tx.Bucket(bucketEntries),
			blobs:     tx.Bucket(bucketBlobs),
			messages:  tx.Bucket(bucketMessages),
			inbox:     tx.Bucket(bucketInbox),
			outbox:    tx.Bucket(bucketOutbox),
			conflicts: tx.Bucket(bucketConflicts),
			forks:     tx.Bucket(bucketForks),
			treeNodes: tx.Bucket(bucketTree),
			threads:   tx.Bucket(bucketThreads),
			requests:  tx.Bucket(bucketRequests),
			deadlines: tx.Bucket(bucketDeadlines),
			tree:      cloneRange(l.tree),
			activity:  -1,
			meta:      tx.Bucket(bucketMeta),
		}
		// Keys are written in increasing order into an append-only bucket:
		// full pages waste nothing and are never split again.
		w.entries.FillPercent = 1.0
		w.blobs.FillPercent = 1.0
		w.inbox.FillPercent = 1.0
		for _, r := range batch {
			if err := r.op(w); err != nil {
				return err
			}
		}
		if w.err != nil {
			return w.err
		}
		if w.appended == nil || l.signer == nil {
			return nil
		}
		cfg, err := latestConfig(tx)
		if err != nil {
			return err
		}
		if w.checkpoint, err = signCheckpoint(l.signer, cfg.GetLedgerName(), w.next, w.tree); err != nil {
			return err
		}
		return w.meta.Put(metaCheckpoint, w.checkpoint)
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: commit: %w", err)
	}
	return w, nil
}

// writer is one transaction's view for ops.
type writer struct {
	tx                                             *bolt.Tx
	now                                            time.Time
	next                                           uint64
	entries, blobs, messages, inbox, outbox, meta  *bolt.Bucket
	conflicts, forks, treeNodes, threads, requests *bolt.Bucket
	deadlines                                      *bolt.Bucket
	tree                                           *compact.Range
	// err is the first failure to store a tree node; it fails the batch.
	err error

	// What the commit did, for metrics and waiters once it is durable.
	appended    map[ledgerv1.EntryKind]int
	bytes       int
	receipted   []string
	outboxDelta int
	checkpoint  []byte
	activity    int64
}

// append stamps e with the next index and the commit time and stores it.
func (w *writer) append(e *ledgerv1.Entry) (uint64, error) {
	e.Index = w.next
	e.RecordedAt = timestamppb.New(w.now)
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("marshal entry %d: %w", e.Index, err)
	}
	if err := w.entries.Put(u64(e.Index), raw); err != nil {
		return 0, fmt.Errorf("put entry %d: %w", e.Index, err)
	}
	if err := w.tree.Append(LeafHash(raw), w.visit); err != nil {
		return 0, fmt.Errorf("tree, entry %d: %w", e.Index, err)
	}
	if !isCheckpointKind(e.GetKind()) {
		w.activity = int64(e.Index)
	}
	if e.GetMessageId() != "" {
		if err := w.messages.Put(messageKey(e.GetMessageId(), e.Index), []byte{byte(e.GetKind())}); err != nil {
			return 0, fmt.Errorf("index entry %d: %w", e.Index, err)
		}
	}
	if e.GetThreadId() != "" {
		if err := w.threads.Put(messageKey(e.GetThreadId(), e.Index), []byte{byte(e.GetKind())}); err != nil {
			return 0, fmt.Errorf("index entry %d by case: %w", e.Index, err)
		}
	}
	if w.appended == nil {
		w.appended = make(map[ledgerv1.EntryKind]int)
	}
	w.appended[e.GetKind()]++
	w.bytes += len(raw)
	w.next++
	return e.Index, nil
}

// visit stores a subtree hash the tree reports as it grows.
func (w *writer) visit(id compact.NodeID, hash []byte) {
	if err := w.treeNodes.Put(nodeKey(id), hash); err != nil && w.err == nil {
		w.err = fmt.Errorf("put tree node: %w", err)
	}
}

// appendWith appends e with the signed bytes it introduces, kept beside it
// (see blob.go), and sets the field of e that names them.
func (w *writer) appendWith(e *ledgerv1.Entry, blob []byte) (uint64, error) {
	k := introduces(e.GetKind())
	if k == noBlob {
		return 0, fmt.Errorf("an entry of kind %s introduces no signed bytes", KindName(e.GetKind()))
	}
	sum := sha256.Sum256(blob)
	k.setSum(e, sum[:])
	i, err := w.append(e)
	if err != nil {
		return 0, err
	}
	if err := w.blobs.Put(blobKey(i, sum[:]), blob); err != nil {
		return 0, fmt.Errorf("put %s of entry %d: %w", k, i, err)
	}
	w.bytes += len(blob)
	return i, nil
}
