package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/focalpoint-gateway/focalpoint/pkg/bench"
)

func newBenchCmd() *cobra.Command {
	var out output
	var o bench.Options
	c := &cobra.Command{
		Use:   "bench [--concurrency C] [--duration D] [--rate R] [--backlog N] [--start-up-entries N]",
		Short: "Measure two real nodes on this machine against the floors under them",
		Long: `Run two nodes on loopback, each a ` + "`focalpoint serve`" + ` process with a fresh dev
PKI, mutual TLS and fsync'd ledgers in a temporary directory, and measure in
the same run:

  the floors: gRPC echo over the same mTLS identities (E), Ed25519 signatures
  (S) and verifications (V) on one core, and fsync'd ledger appends;
  end to end: submitters of alerts on the sender's local API, each message
  awaited until the counterpart's receipt is in the sender's ledger;
  the modeled ceiling M = 1 / (2/E + 2/(n·S) + 2/(n·V)) on n cores and the
  ratio of the achieved rate to it, latency percentiles, and each node's peak
  memory and start-up time.

--rate offers a fixed rate instead of running --concurrency submitters flat
out (for latency). --backlog N queues N messages with the receiving node
down, starts it, and times the drain while new submissions keep arriving.
--start-up-entries N fills each ledger with N entries first, to measure
start-up and memory with a large ledger. --cpuprofile DIR writes a CPU profile
of each node (and of the load) for the end-to-end phase; --in-process runs
both nodes in this process instead, for one profile of everything.

The run fails if any accepted message was not receipted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			now := time.Now()
			switch {
			case o.Concurrency < 1:
				return usageError{fmt.Errorf("--concurrency must be at least 1")}
			case o.Rate < 0, o.DrainRate <= 0:
				return usageError{fmt.Errorf("--rate must not be negative, and --drain-rate must be positive")}
			case o.Backlog < 0, o.StartUpEntries < 0, o.Workers < 0, o.Batch < 0:
				return usageError{fmt.Errorf("--backlog, --start-up-entries, --workers and --batch must not be negative")}
			case o.FloorDuration <= 0:
				return usageError{fmt.Errorf("--floor-duration must be positive")}
			case o.Payload < bench.MinPayload(now) || o.Payload > bench.MaxPayload(now):
				return usageError{fmt.Errorf("--payload must be from %d to %d bytes: the size of an alert's signed envelope", bench.MinPayload(now), bench.MaxPayload(now))}
			}
			if !o.InProcess {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("bench: the focalpoint binary, to run nodes: %w", err)
				}
				o.Command = func(ctx context.Context, path, cpuprofile string) *exec.Cmd {
					if cpuprofile != "" {
						return exec.CommandContext(ctx, exe, "bench", "node", "--config", path, "--cpuprofile", cpuprofile)
					}
					return exec.CommandContext(ctx, exe, "serve", "--config", path)
				}
			}
			o.Progress = cmd.ErrOrStderr()
			res, runErr := bench.Run(cmd.Context(), o)
			if res != nil {
				if asJSON {
					err = writeJSON(cmd.OutOrStdout(), res)
				} else {
					err = writeBench(cmd.OutOrStdout(), res)
				}
				if err != nil {
					return err
				}
			}
			return runErr
		},
	}
	out.register(c)
	f := c.Flags()
	f.IntVar(&o.Concurrency, "concurrency", 256, "concurrent submitters (closed loop), or the cap on messages in flight with --rate")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "how long the end-to-end phase runs; negative skips it")
	f.IntVar(&o.Payload, "payload", 1024, "bytes of each message's signed envelope")
	f.Float64Var(&o.Rate, "rate", 0, "offer this many messages a second (open loop); 0 runs --concurrency submitters flat out")
	f.IntVar(&o.Backlog, "backlog", 0, "queue this many messages with the receiving node down, then time the drain")
	f.Float64Var(&o.DrainRate, "drain-rate", 100, "new submissions a second while a backlog drains")
	f.IntVar(&o.StartUpEntries, "start-up-entries", 0, "fill each ledger with this many entries before the nodes start")
	f.DurationVar(&o.FloorDuration, "floor-duration", 2*time.Second, "how long each floor is measured")
	f.IntVar(&o.Workers, "workers", 0, "delivery.workers of both nodes; 0 keeps the default")
	f.IntVar(&o.Batch, "batch", 0, "delivery.batch of both nodes; 0 keeps the default")
	f.BoolVar(&o.InProcess, "in-process", false, "run both nodes inside this process (for one profile of everything)")
	f.StringVar(&o.CPUProfileDir, "cpuprofile", "", "write CPU profiles of the end-to-end phase into this directory")
	f.StringVar(&o.Dir, "dir", "", "keep PKI, configs, ledgers and node logs in this new directory instead of a temporary one")
	c.AddCommand(newBenchNodeCmd())
	return c
}

// newBenchNodeCmd runs `serve` and writes a CPU profile from SIGUSR1 to
// SIGUSR2, so the bench can profile each node process over the phase it
// measures. It is the bench's, not an operator's: hidden.
func newBenchNodeCmd() *cobra.Command {
	var path, profile string
	c := &cobra.Command{
		Use:    "node --config FILE --cpuprofile FILE",
		Short:  "Run a node for the bench, profiling its CPU between SIGUSR1 and SIGUSR2",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
			defer signal.Stop(sigs)
			var f *os.File
			defer func() {
				if f != nil {
					pprof.StopCPUProfile()
					f.Close()
				}
			}()
			go func() {
				for s := range sigs {
					switch {
					case s == syscall.SIGUSR1 && f == nil:
						// Created now, not at start: a node never profiled
						// leaves no empty file behind.
						var err error
						if f, err = os.Create(profile); err == nil {
							_ = pprof.StartCPUProfile(f)
						}
					case s == syscall.SIGUSR2:
						pprof.StopCPUProfile()
					}
				}
			}()
			serve := newServeCmd()
			serve.SetArgs([]string{"--config", path})
			serve.SetOut(cmd.OutOrStdout())
			serve.SetErr(cmd.ErrOrStderr())
			return serve.ExecuteContext(cmd.Context())
		},
	}
	c.Flags().StringVar(&path, "config", "", "the node's config file (required)")
	c.Flags().StringVar(&profile, "cpuprofile", "", "where to write the CPU profile (required)")
	required(c, "config")
	required(c, "cpuprofile")
	return c
}

// writeBench prints a result for people.
func writeBench(w io.Writer, r *bench.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	m := r.Machine
	p("machine\t%d cores, %s, %s, load %.2f %.2f %.2f (end %.2f)", m.Cores, m.CPU, m.GoVersion, m.LoadAverage[0], m.LoadAverage[1], m.LoadAverage[2], m.LoadAverageEnd[0])
	load := fmt.Sprintf("%d submitters, closed loop", r.Concurrency)
	if r.RatePerS > 0 {
		load = fmt.Sprintf("%.0f/s offered, at most %d in flight", r.RatePerS, r.Concurrency)
	}
	p("run\t%s nodes; %s; %g s; %d-byte envelopes; %d delivery workers, batches of up to %d", r.Mode, load, r.DurationS, r.PayloadBytes, r.Workers, r.Batch)
	f := r.Floors
	p("floors\techo %.0f/s, sign %.0f/s, verify %.0f/s (one core; all cores %.0f/s and %.0f/s), ledger append %.0f/s (batch %.1f)",
		f.EchoPerS, f.SignPerS, f.VerifyPerS, f.SignAllCoresPerS, f.VerifyAllCoresPerS, f.LedgerAppendPerS, f.LedgerMeanBatch)
	p("ceiling M\t%.0f/s", r.CeilingPerS)
	if r.DurationS > 0 {
		p("achieved\t%.0f/s receipted end to end (%.0f/s accepted): %.0f%% of M", r.AchievedPerS, r.AcceptedPerS, 100*r.Ratio)
		p("latency\tsubmit to receipt p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms; submit to accepted p50 %.1f ms, p99 %.1f ms",
			r.P50Ms, r.P99Ms, r.P999Ms, r.MaxMs, r.AcceptP50Ms, r.AcceptP99Ms)
		p("messages\t%d accepted, %d receipted (%d after SubmitMessage's wait, with AwaitReceipt), %d failed", r.Accepted, r.Receipted, r.AwaitedSeparately, r.Failed)
		cpu := fmt.Sprintf("%.0f µs a message, nodes and load together (the model's share: %.0f µs)", r.CPUPerMessageUs, 1e6*float64(m.Cores)/r.CeilingPerS)
		if r.LoadCPUS > 0 {
			cpu += fmt.Sprintf("; the submitters used %.1f CPU-s", r.LoadCPUS)
		}
		p("CPU\t%s", cpu)
	}
	for _, n := range r.Nodes {
		line := fmt.Sprintf("%s (%s)\tpeak RSS %.1f MiB (anon %.1f MiB); start %.0f ms with %d entries", n.Agency, n.Role,
			mib(n.PeakRSSBytes), mib(n.PeakRSSAnonBytes), n.StartupMs, n.LedgerEntriesAtStart)
		if n.RestartMs > 0 {
			line += fmt.Sprintf(", restart %.0f ms", n.RestartMs)
		}
		if n.CPUS > 0 {
			line += fmt.Sprintf("; %.0f µs CPU a message", n.CPUPerMessageUs)
		}
		if n.LedgerMeanBatch > 0 {
			line += fmt.Sprintf("; commits of %.1f writes, %.2f ms, committer %.0f%% busy", n.LedgerMeanBatch, n.LedgerCommitMeanMs, 100*n.LedgerCommitBusy)
		}
		p("%s", line)
		if len(n.RPCMeanMs) > 0 {
			var calls []string
			for _, m := range slices.Sorted(maps.Keys(n.RPCMeanMs)) {
				calls = append(calls, fmt.Sprintf("%s %.1f ms", m, n.RPCMeanMs[m]))
			}
			p("\tserved %s", strings.Join(calls, ", "))
		}
	}
	if b := r.Backlog; b != nil {
		ratio := ""
		if b.DrainRatio > 0 {
			ratio = fmt.Sprintf(" (%.2f of achieved)", b.DrainRatio)
		}
		p("backlog\t%d queued at %.0f/s with the peer down; first receipt %.0f ms after the peer was back, drained in %.1f s at %.0f/s%s", b.Messages, b.FillPerS, b.FirstDeliveryMs, b.DrainS, b.DrainPerS, ratio)
		stalled := "no stall"
		if b.Stalled {
			stalled = "STALLED"
		}
		p("during drain\t%.0f/s offered, %d accepted, %d refused; accept p50 %.1f ms, p99 %.1f ms, max %.1f ms; longest gap %.0f ms: %s",
			b.DrainOfferedPerS, b.DrainAccepted, b.DrainFailed, b.AcceptP50Ms, b.AcceptP99Ms, b.AcceptMaxMs, b.LongestGapMs, stalled)
	}
	for _, path := range r.Profiles {
		p("profile\t%s", path)
	}
	return tw.Flush()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
