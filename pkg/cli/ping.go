package cli

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/focalpoint-gateway/focalpoint/pkg/focal"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// pingResult is what ping prints with -o json.
type pingResult struct {
	Sent      int     `json:"sent"`
	Receipted int     `json:"receipted"`
	Failed    int     `json:"failed"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	FirstErr  string  `json:"first_error,omitempty"`
	Outbox    uint64  `json:"outbox_pending"`
}

func newPingCmd() *cobra.Command {
	var cf configFlag
	var out output
	var count, concurrency int
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "ping --config FILE [--count N] [--concurrency C]",
		Short: "Send signed test messages through the whole path and wait for each receipt",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			if count < 1 || concurrency < 1 {
				return usageError{fmt.Errorf("--count and --concurrency must be at least 1")}
			}
			client, done, err := cf.client()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res := ping(ctx, client, count, concurrency)
			if ob, err := client.GetOutbox(cmd.Context(), &focalv1.GetOutboxRequest{}); err == nil {
				res.Outbox = ob.GetPending()
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "sent %d, receipted %d, failed %d\nround trip p50 %.1f ms, p99 %.1f ms, max %.1f ms\noutbox pending %d\n",
					res.Sent, res.Receipted, res.Failed, res.P50Ms, res.P99Ms, res.MaxMs, res.Outbox)
			}
			if res.Receipted != count {
				return fmt.Errorf("%d of %d test messages were not receipted; first error: %s", count-res.Receipted, count, res.FirstErr)
			}
			return nil
		},
	}
	cf.register(c)
	out.register(c)
	c.Flags().IntVar(&count, "count", 1, "how many test messages")
	c.Flags().IntVar(&concurrency, "concurrency", 1, "how many at once")
	c.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up waiting for receipts after this long")
	return c
}

// awaitFor is how long a submission waits for its receipt: until ctx ends,
// as far as the node allows. The node itself stops a little before ctx's
// deadline, so that the answer arrives in time.
func awaitFor(ctx context.Context) time.Duration {
	d := focal.MaxAwaitReceipt
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, max(0, time.Until(dl)))
	}
	return d
}

func ping(ctx context.Context, client focalv1.FocalServiceClient, count, concurrency int) pingResult {
	var (
		mu       sync.Mutex
		res      pingResult
		rtts     []time.Duration
		next     int
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Failed++
		if firstErr == nil {
			firstErr = err
		}
	}
	var wg sync.WaitGroup
	for range min(concurrency, count) {
		wg.Go(func() {
			for {
				mu.Lock()
				if next == count {
					mu.Unlock()
					return
				}
				next++
				n := next
				mu.Unlock()
				start := time.Now()
				sub, err := client.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{
					Draft: &focalv1.Draft{
						Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: fmt.Sprintf("ping %d", n)}}},
					},
					AwaitReceipt: durationpb.New(awaitFor(ctx)),
				})
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				res.Sent++
				mu.Unlock()
				// A --timeout longer than a submission may wait goes on here.
				if sub.GetReceipt() == nil {
					if _, err := client.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: sub.GetMessageId()}); err != nil {
						fail(err)
						continue
					}
				}
				mu.Lock()
				res.Receipted++
				rtts = append(rtts, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		res.FirstErr = describe(firstErr)
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		ms := func(q float64) float64 {
			return float64(rtts[min(len(rtts)-1, int(q*float64(len(rtts))))].Microseconds()) / 1000
		}
		res.P50Ms, res.P99Ms, res.MaxMs = ms(0.50), ms(0.99), ms(1)
	}
	return res
}
