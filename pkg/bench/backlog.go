package bench

import (
	"context"
	"fmt"
	"time"

	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
)

// maxDrain bounds how long the bench waits for a backlog to drain.
const maxDrain = 30 * time.Minute

// backlog stops the receiver, has the sender accept Backlog messages, starts
// the receiver again and times the drain, while new submissions arrive at
// DrainRate to show whether the drain holds them up.
func (r *run) backlog(ctx context.Context) error {
	o := r.opts
	b := &BacklogResult{Messages: o.Backlog, DrainOfferedPerS: o.DrainRate}
	r.res.Backlog = b
	r.say("backlog: stopping the %s node", r.cfgs[1].Agency)
	if err := r.stop(1); err != nil {
		return err
	}
	if o.Duration < 0 {
		if err := r.startProfiles(); err != nil {
			return err
		}
		defer r.stopProfiles()
	}
	r.say("backlog: %d submitters queue %d messages", o.Concurrency, o.Backlog)
	sender := r.nodes[0]
	fill := (&load{client: sender.client, draft: r.draft}).count(ctx, o.Concurrency, o.Backlog)
	if fill.failed > 0 {
		return fmt.Errorf("bench: backlog: %d of %d submissions failed: %w", fill.failed, o.Backlog, fill.firstErr)
	}
	b.FillPerS = float64(fill.accepted) / fill.window.Seconds()
	r.say("backlog: queued at %.0f/s; starting the %s node with new submissions at %.0f/s", b.FillPerS, r.cfgs[1].Agency, o.DrainRate)

	stop := make(chan struct{})
	during := make(chan *outcome, 1)
	go func() {
		ld := &load{client: sender.client, draft: r.draft}
		during <- ld.open(ctx, o.DrainRate, o.Concurrency, maxDrain, stop)
	}()
	n, err := r.start(ctx, 1)
	if err != nil {
		close(stop)
		<-during
		return err
	}
	r.results[1].RestartMs = ms(n.startup)
	back := time.Now()
	first, drained, err := waitDrained(ctx, sender.client, fill.lastIndex, back.Add(maxDrain))
	close(stop)
	d := <-during
	if err != nil {
		return err
	}
	b.DrainS = drained.Sub(back).Seconds()
	b.FirstDeliveryMs = ms(first.Sub(back))
	b.DrainPerS = float64(o.Backlog) / b.DrainS
	if r.res.AchievedPerS > 0 {
		b.DrainRatio = b.DrainPerS / r.res.AchievedPerS
	}
	b.DrainAccepted, b.DrainFailed = d.accepted, d.failed
	if d.firstErr != nil {
		b.DrainFirstError = d.firstErr.Error()
	}
	b.AcceptP50Ms, b.AcceptP99Ms, b.AcceptMaxMs = ms(quantile(d.accept, 0.5)), ms(quantile(d.accept, 0.99)), ms(quantile(d.accept, 1))
	b.LongestGapMs = ms(d.longestGap)
	spacing := time.Duration(float64(time.Second) / o.DrainRate)
	b.Stalled = d.failed > 0 || quantile(d.accept, 1) > stallAfter || d.longestGap > stallAfter+spacing
	r.say("backlog: drained in %.1f s, %.0f/s; submissions meanwhile: accept p99 %.1f ms, max %.1f ms, %d refused",
		b.DrainS, b.DrainPerS, b.AcceptP99Ms, b.AcceptMaxMs, d.failed)
	return nil
}

// waitDrained polls the sender's outbox, oldest first, until nothing at or
// below ledger index last waits, and says when it first saw the backlog
// shrink and when it saw it gone. Messages submitted meanwhile may still
// wait: they are not the backlog.
func waitDrained(ctx context.Context, c focalv1.FocalServiceClient, last uint64, deadline time.Time) (first, drained time.Time, err error) {
	var start uint64
	for {
		resp, err := c.GetOutbox(ctx, &focalv1.GetOutboxRequest{})
		if err != nil {
			return first, drained, fmt.Errorf("bench: outbox: %w", err)
		}
		items := resp.GetItems()
		now := time.Now()
		switch {
		case len(items) == 0 || items[0].GetLedgerIndex() > last:
			if first.IsZero() {
				first = now
			}
			return first, now, nil
		case start == 0:
			start = items[0].GetLedgerIndex()
		case first.IsZero() && items[0].GetLedgerIndex() != start:
			first = now
		}
		if now.After(deadline) {
			return first, drained, fmt.Errorf("bench: backlog: %d messages still pending after %s", resp.GetPending(), maxDrain)
		}
		select {
		case <-ctx.Done():
			return first, drained, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
