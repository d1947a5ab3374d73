package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/focalpoint-gateway/focalpoint/pkg/focal"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
)

// load is one phase of submissions to a node's local API.
type load struct {
	client focalv1.FocalServiceClient
	draft  *focalv1.Draft
	// await makes each submitter wait for the receipt before it counts the
	// message done; without it a message is done once accepted.
	await bool
}

// outcome is what a phase did. Rates count what completed inside the window;
// messages still in flight at its end are finished (and checked) but not
// counted.
type outcome struct {
	window    time.Duration
	submitted int64 // SubmitMessage calls made
	accepted  int64 // of which answered OK
	receipted int64 // receipts awaited and got
	// awaitedSeparately counts messages whose receipt did not come within
	// SubmitMessage's wait and was awaited with AwaitReceipt.
	awaitedSeparately int64
	failed            int64
	firstErr          error

	acceptedInWindow, receiptedInWindow int64
	// accept is submit-to-accepted; e2e is submit-to-receipt ledgered, from the
	// time the message was due (open loop) or sent (closed loop).
	accept, e2e []time.Duration
	// longestGap is the longest time between two acceptances: a stall shows
	// here even when percentiles hide it.
	longestGap time.Duration
	// lastIndex is the highest SENT ledger index among accepted messages.
	lastIndex uint64

	mu           sync.Mutex
	lastAccepted time.Time
}

func (o *outcome) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	if o.firstErr == nil {
		o.firstErr = err
	}
}

// one submits a message due at due and, with await, waits for its receipt:
// in the same SubmitMessage call, and only if the receipt has not come when
// that call answers, with AwaitReceipt.
func (ld *load) one(ctx context.Context, o *outcome, due, deadline time.Time) {
	atomic.AddInt64(&o.submitted, 1)
	req := &focalv1.SubmitMessageRequest{Draft: ld.draft}
	if ld.await {
		// Long enough that on a working link the receipt comes within it;
		// the phase's remaining time if that is longer, so that a slow phase
		// is measured in one call, not two.
		req.AwaitReceipt = durationpb.New(min(focal.MaxAwaitReceipt, max(minAwait, time.Until(deadline))))
	}
	sent := time.Now()
	sub, err := ld.client.SubmitMessage(ctx, req)
	if err != nil {
		o.fail(err)
		return
	}
	answered := time.Now()
	// With a wait, the answer comes with the receipt, long after the message
	// was accepted: acceptance is the time its SENT entry records, on this
	// machine's clock. That time is taken as the ledger's commit begins, so
	// the figure leaves out the commit's fsync and the answer's way back.
	acc := answered
	if ld.await && sub.GetAcceptedAt() != nil {
		// A wall clock stepped back between the two readings must not give
		// a negative latency.
		acc = latest(sent, sub.GetAcceptedAt().AsTime())
	}
	o.mu.Lock()
	o.accepted++
	if !acc.After(deadline) {
		o.acceptedInWindow++
	}
	o.accept = append(o.accept, acc.Sub(sent))
	// Answers come back out of order when they wait for receipts: a gap is
	// measured only forward.
	if acc.After(o.lastAccepted) {
		if !o.lastAccepted.IsZero() {
			o.longestGap = max(o.longestGap, acc.Sub(o.lastAccepted))
		}
		o.lastAccepted = acc
	}
	o.lastIndex = max(o.lastIndex, sub.GetLedgerIndex())
	o.mu.Unlock()
	if !ld.await {
		return
	}
	done := answered
	if sub.GetReceipt() == nil {
		// Accepted without its receipt within the wait: wait on, so that no
		// message goes uncounted, and count how often it happens.
		atomic.AddInt64(&o.awaitedSeparately, 1)
		if _, err := ld.client.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: sub.GetMessageId()}); err != nil {
			o.fail(err)
			return
		}
		done = time.Now()
	}
	o.mu.Lock()
	o.receipted++
	if !done.After(deadline) {
		o.receiptedInWindow++
	}
	o.e2e = append(o.e2e, done.Sub(due))
	o.mu.Unlock()
}

// minAwait is the shortest wait for a receipt a submission asks for.
const minAwait = 10 * time.Second

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// closed runs concurrency submitters, each sending its next message as soon as
// the last one is done, for d.
func (ld *load) closed(ctx context.Context, concurrency int, d time.Duration) *outcome {
	o := &outcome{window: d}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(deadline) {
					return
				}
				ld.one(ctx, o, now, deadline)
			}
		})
	}
	wg.Wait()
	return o
}

// count runs concurrency submitters until n messages are accepted or fail.
func (ld *load) count(ctx context.Context, concurrency, n int) *outcome {
	o := &outcome{}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	far := start.Add(24 * time.Hour)
	for range min(concurrency, n) {
		wg.Go(func() {
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				ld.one(ctx, o, time.Now(), far)
			}
		})
	}
	wg.Wait()
	o.window = time.Since(start)
	return o
}

// open offers rate messages a second, evenly spaced, for d (or until stop is
// closed), whatever the node's answers: a message is due at its slot and its
// latency counts from then, so a slow node cannot slow the load down and hide
// its own delay (coordinated omission). At most concurrency messages are in
// flight; one past that waits, and its wait is in its latency.
func (ld *load) open(ctx context.Context, rate float64, concurrency int, d time.Duration, stop <-chan struct{}) *outcome {
	o := &outcome{window: d}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	deadline := start.Add(d)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
loop:
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(deadline) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				break loop
			case <-stop:
				break loop
			case <-time.After(wait):
			}
		}
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			ld.one(ctx, o, due, deadline)
		})
	}
	if el := time.Since(start); el < d {
		o.window = el // stopped early
	}
	wg.Wait()
	return o
}

// quantile is the q-quantile of ds, which it sorts.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q * float64(len(ds)))
	return ds[min(len(ds)-1, i)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
