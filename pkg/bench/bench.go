package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
)

// Options of a run. The zero value of a field means its default.
type Options struct {
	// Concurrency is how many submitters run at once (closed loop), or the cap
	// on messages in flight (open loop); also the echo floor's callers and the
	// ledger floor's writers. Default 256.
	Concurrency int
	// Duration of the end-to-end phase; default 10 s. Negative skips it.
	Duration time.Duration
	// Payload is the size of each message's envelope in bytes; default 1024.
	Payload int
	// Rate, if positive, offers that many messages a second (open loop) instead
	// of running Concurrency submitters flat out.
	Rate float64
	// Backlog, if positive, queues that many messages while the receiving node
	// is down, then starts it and measures the drain.
	Backlog int
	// DrainRate is the offered rate of new submissions while a backlog
	// drains; default 100 a second.
	DrainRate float64
	// StartUpEntries, if positive, fills each node's ledger with that many
	// entries before the nodes first start.
	StartUpEntries int
	// FloorDuration is how long each floor is measured; default 2 s.
	FloorDuration time.Duration
	// Workers sets delivery.workers in both configs; 0 keeps the node's default.
	Workers int
	// Batch sets delivery.batch in both configs; 0 keeps the node's default.
	Batch int

	// InProcess runs both nodes inside this process instead of as
	// subprocesses: for profiling the whole path in one profile.
	InProcess bool
	// Command makes the command that runs one node as a subprocess with the
	// config at path: `focalpoint serve --config path`. With cpuprofile set,
	// the node must write a CPU profile there from SIGUSR1 to SIGUSR2.
	// Required unless InProcess.
	Command func(ctx context.Context, path, cpuprofile string) *exec.Cmd
	// CPUProfileDir, if set, receives CPU profiles of the end-to-end phase,
	// or of the backlog phase if the end-to-end phase is skipped: one per
	// node process and one of the bench itself (the load), or one of
	// everything in-process.
	CPUProfileDir string
	// Dir holds the PKI, configs, ledgers and node logs, and is left in
	// place; it must not hold a PKI already. Empty means a new temporary
	// directory, removed afterwards.
	Dir string
	// Progress receives a line as each step starts; nil discards.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.Concurrency == 0 {
		o.Concurrency = 256
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Payload == 0 {
		o.Payload = 1024
	}
	if o.DrainRate == 0 {
		o.DrainRate = 100
	}
	if o.FloorDuration == 0 {
		o.FloorDuration = 2 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	switch {
	case o.Concurrency < 1:
		return errors.New("bench: concurrency must be at least 1")
	case o.Rate < 0, o.DrainRate < 0:
		return errors.New("bench: rates must not be negative")
	case o.Backlog < 0, o.StartUpEntries < 0, o.Workers < 0, o.Batch < 0:
		return errors.New("bench: backlog, start-up entries, workers and batch must not be negative")
	case !o.InProcess && o.Command == nil:
		return errors.New("bench: a command to run nodes is required unless in-process")
	}
	return nil
}

// Result is what a run measured. JSON names are the -o json output.
type Result struct {
	Machine Machine `json:"machine"`
	// Mode is "subprocess" (each node a `focalpoint serve` process) or
	// "in-process" (both nodes and the load in one process).
	Mode          string  `json:"mode"`
	Concurrency   int     `json:"concurrency"`
	DurationS     float64 `json:"duration_s"`
	PayloadBytes  int     `json:"payload_bytes"`
	RatePerS      float64 `json:"rate_per_s"` // offered; 0 is closed loop
	Workers       int     `json:"delivery_workers"`
	Batch         int     `json:"delivery_batch"`
	OutboxLimit   int     `json:"outbox_limit"`
	Floors        Floors  `json:"floors"`
	CeilingPerS   float64 `json:"ceiling_per_s"`
	AchievedPerS  float64 `json:"achieved_per_s"`
	Ratio         float64 `json:"ratio"`
	AcceptedPerS  float64 `json:"accepted_per_s"`
	ReceiptedPerS float64 `json:"receipted_per_s"`
	Submitted     int64   `json:"submitted"`
	Accepted      int64   `json:"accepted"`
	Receipted     int64   `json:"receipted"`
	// AwaitedSeparately counts receipted messages whose receipt did not come
	// within SubmitMessage's wait, so the submitter waited on with
	// AwaitReceipt. Above zero, the link was slower than that wait.
	AwaitedSeparately int64  `json:"awaited_separately"`
	Failed            int64  `json:"failed"`
	FirstError        string `json:"first_error,omitempty"`
	// Latency from submission (or, open loop, from when it was due) to the
	// receipt ledgered, over Receipted messages.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	// Latency from submission to "accepted" (signed and durable): to the time
	// the message's SENT entry records.
	AcceptP50Ms float64 `json:"accept_p50_ms"`
	AcceptP99Ms float64 `json:"accept_p99_ms"`
	// PeakRSSBytes is each node's VmHWM by agency. In-process it is the
	// bench's own, the same for both.
	PeakRSSBytes map[string]uint64 `json:"peak_rss_bytes"`
	Nodes        []NodeResult      `json:"nodes"`
	// LoadCPUS is the CPU time the bench itself (the submitters) used during
	// the end-to-end phase, in subprocess mode: it shares the machine with
	// the nodes.
	LoadCPUS float64 `json:"load_cpu_s,omitempty"`
	// CPUPerMessageUs is the CPU time of both nodes and the load together
	// per message receipted in the end-to-end phase. The model spends
	// n/M of it: the rest is what the floors leave out.
	CPUPerMessageUs float64        `json:"cpu_per_message_us"`
	Backlog         *BacklogResult `json:"backlog,omitempty"`
	Profiles        []string       `json:"profiles,omitempty"`
}

// Machine is where the run ran.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu"`
	GoVersion string `json:"go_version"`
	// LoadAverage is /proc/loadavg (1, 5, 15 min) as the run starts, and
	// LoadAverageEnd as it ends.
	LoadAverage    [3]float64 `json:"load_average"`
	LoadAverageEnd [3]float64 `json:"load_average_end"`
}

// NodeResult is one node's share.
type NodeResult struct {
	Agency string `json:"agency"`
	// Role is "sender" (the submitters' node) or "receiver".
	Role string `json:"role"`
	// LedgerEntriesAtStart is how many entries its ledger held when it first
	// started; GenerateS how long making them took.
	LedgerEntriesAtStart uint64  `json:"ledger_entries_at_start"`
	GenerateS            float64 `json:"generate_s,omitempty"`
	// StartupMs is from process start (or node.New) to the local API
	// answering a health check, at first start; RestartMs at the restart that
	// ends a backlog run.
	StartupMs float64 `json:"startup_ms"`
	RestartMs float64 `json:"restart_ms,omitempty"`
	// PeakRSSBytes is VmHWM (heap, stacks and the ledger's pages mapped from
	// the page cache); PeakRSSAnonBytes the peak of RssAnon alone, sampled.
	PeakRSSBytes     uint64 `json:"peak_rss_bytes"`
	PeakRSSAnonBytes uint64 `json:"peak_rss_anon_bytes"`
	// CPUS is the CPU time it used during the end-to-end phase, and
	// CPUPerMessageUs that over the messages receipted in it.
	CPUS            float64 `json:"cpu_s"`
	CPUPerMessageUs float64 `json:"cpu_per_message_us"`
	// LedgerMeanBatch and LedgerCommitMeanMs describe its group commits
	// during the end-to-end phase.
	LedgerMeanBatch    float64 `json:"ledger_mean_batch"`
	LedgerCommitMeanMs float64 `json:"ledger_commit_mean_ms"`
	// LedgerCommitBusy is the share of the phase its one committing
	// goroutine spent committing: near 1, the ledger is the limit.
	LedgerCommitBusy float64 `json:"ledger_commit_busy"`
	// RPCMeanMs is the mean time its gRPC server took per call, by method,
	// during the phase.
	RPCMeanMs map[string]float64 `json:"rpc_mean_ms,omitempty"`
}

// BacklogResult is the drain of a backlog.
type BacklogResult struct {
	Messages int `json:"messages"`
	// FillPerS is how fast the sender accepted the backlog with its peer down.
	FillPerS float64 `json:"fill_per_s"`
	// DrainS is from the receiver serving again to the last of the backlog
	// being receipted; DrainPerS the backlog over that time, and DrainRatio
	// that over the end-to-end phase's achieved rate (goal: at least 0.5).
	DrainS float64 `json:"drain_s"`
	// FirstDeliveryMs is from the receiver serving again to the first of
	// the backlog being receipted: the sender's reconnect backoff.
	FirstDeliveryMs float64 `json:"first_delivery_ms"`
	DrainPerS       float64 `json:"drain_per_s"`
	DrainRatio      float64 `json:"drain_ratio,omitempty"`
	// Submissions offered at DrainOfferedPerS while it drained, and how they
	// fared: a stall shows as a long accept time or a long gap between
	// acceptances.
	DrainOfferedPerS float64 `json:"drain_offered_per_s"`
	DrainAccepted    int64   `json:"drain_accepted"`
	DrainFailed      int64   `json:"drain_failed"`
	DrainFirstError  string  `json:"drain_first_error,omitempty"`
	AcceptP50Ms      float64 `json:"accept_p50_ms"`
	AcceptP99Ms      float64 `json:"accept_p99_ms"`
	AcceptMaxMs      float64 `json:"accept_max_ms"`
	LongestGapMs     float64 `json:"longest_gap_ms"`
	// Stalled says a submission waited more than a second, or none was
	// accepted for more than a second beyond the offered spacing.
	Stalled bool `json:"stalled"`
}

// stallAfter is how long a submission may wait before the bench calls it a stall.
const stallAfter = time.Second

// Ceiling is the modeled end-to-end ceiling: per message two gRPC calls, two
// signatures and two verifications (each side signs once and verifies once),
// the calls at the echo floor e with all cores busy, the signatures spread
// over n cores: M = 1 / (2/E + 2/(n·S) + 2/(n·V)).
func Ceiling(f Floors, n int) float64 {
	if f.EchoPerS <= 0 || f.SignPerS <= 0 || f.VerifyPerS <= 0 || n <= 0 {
		return 0
	}
	c := float64(n)
	return 1 / (2/f.EchoPerS + 2/(c*f.SignPerS) + 2/(c*f.VerifyPerS))
}

// run is the state of one Run.
type run struct {
	opts    Options
	dir     string
	la      launcher
	cfgs    [2]*config.Config // the sender (submitters' node) and the receiver
	nodes   [2]*nodeProc
	results [2]NodeResult
	res     *Result
	say     func(format string, args ...any)
	draft   *focalv1.Draft
	// profFile is the bench's CPU profile while profiles run.
	profFile *os.File
}

// Run sets up two nodes with a dev PKI on loopback, measures the floors, runs
// the load and returns what it measured. It fails if any message accepted
// during the run was not receipted.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	r := &run{opts: opts, la: launcher{inProcess: opts.InProcess, command: opts.Command}}
	r.say = func(format string, args ...any) { fmt.Fprintf(opts.Progress, "bench: "+format+"\n", args...) }
	r.res = &Result{
		Machine:      machine(),
		Mode:         "subprocess",
		Concurrency:  opts.Concurrency,
		DurationS:    max(0, opts.Duration.Seconds()),
		PayloadBytes: opts.Payload,
		RatePerS:     opts.Rate,
		PeakRSSBytes: map[string]uint64{},
	}
	var err error
	if opts.CPUProfileDir != "" {
		if r.opts.CPUProfileDir, err = filepath.Abs(opts.CPUProfileDir); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if err := os.MkdirAll(r.opts.CPUProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	if opts.InProcess {
		r.res.Mode = "in-process"
	} else {
		r.la.profileDir = r.opts.CPUProfileDir
	}
	if r.draft, err = Draft(time.Now(), opts.Payload); err != nil {
		return nil, err
	}
	r.dir = opts.Dir
	if r.dir == "" {
		// Short: the local socket's path must fit in sun_path.
		if r.dir, err = os.MkdirTemp("", "fpbench-"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(r.dir)
	}
	if err := r.setup(); err != nil {
		return nil, err
	}
	if err := r.generate(ctx); err != nil {
		return nil, err
	}
	if err := r.floors(ctx); err != nil {
		return nil, err
	}
	defer r.stopAll()
	for i := range r.cfgs {
		n, err := r.start(ctx, i)
		if err != nil {
			return nil, err
		}
		r.results[i].StartupMs = ms(n.startup)
		r.say("%s node serving %.0f ms after start (ledger of %d entries)", n.name, ms(n.startup), r.results[i].LedgerEntriesAtStart)
	}
	if err := r.warmUp(ctx); err != nil {
		return nil, err
	}
	if opts.Duration > 0 {
		if err := r.endToEnd(ctx); err != nil {
			return nil, err
		}
	}
	if opts.Backlog > 0 {
		if err := r.backlog(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.stopAll(); err != nil {
		return nil, err
	}
	r.res.Nodes = r.results[:]
	for _, n := range r.res.Nodes {
		r.res.PeakRSSBytes[n.Agency] = n.PeakRSSBytes
	}
	r.res.Machine.LoadAverageEnd = loadAverage()
	if r.res.Failed > 0 || r.res.Receipted != r.res.Accepted {
		return r.res, fmt.Errorf("bench: %d messages accepted, %d receipted, %d failed; first error: %s",
			r.res.Accepted, r.res.Receipted, r.res.Failed, r.res.FirstError)
	}
	return r.res, nil
}

// setup writes the dev PKI and the two configs.
func (r *run) setup() error {
	layout, err := devpki.Write(filepath.Join(r.dir, "certs"), devpki.Default(), time.Now())
	if err != nil {
		return fmt.Errorf("bench: dev PKI: %w", err)
	}
	var peers, metrics [2]string
	for i := range 2 {
		if peers[i], err = freePort(); err != nil {
			return err
		}
		if metrics[i], err = freePort(); err != nil {
			return err
		}
	}
	limit := max(config.DefaultOutboxLimit, 2*r.opts.Backlog)
	for i := range 2 {
		f := demo.DevConfig(r.dir, layout.Nodes[i], layout.Nodes[1-i], peers[i], peers[1-i])
		f.Metrics.Listen = metrics[i]
		f.Delivery.Workers = r.opts.Workers
		f.Delivery.Batch = r.opts.Batch
		// A backlog must fit in the outbox with room for what is submitted
		// while it drains.
		f.Delivery.OutboxLimit = limit
		path := filepath.Join(r.dir, layout.Nodes[i].TrustDomain.Name()+".yaml")
		if err := config.Write(path, f); err != nil {
			return err
		}
		if r.cfgs[i], err = config.Load(path); err != nil {
			return err
		}
		r.results[i].Agency = r.cfgs[i].Agency
		r.results[i].Role = [2]string{"sender", "receiver"}[i]
	}
	r.res.Workers = r.cfgs[0].Workers
	r.res.Batch = r.cfgs[0].Batch
	r.res.OutboxLimit = r.cfgs[0].OutboxLimit
	return nil
}

func (r *run) generate(ctx context.Context) error {
	if r.opts.StartUpEntries == 0 {
		return nil
	}
	r.say("writing %d entries into each ledger (no fsync)", r.opts.StartUpEntries)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			size, took, err := generate(ctx, r.cfgs[i], r.opts.StartUpEntries, r.opts.Payload)
			errs[i] = err
			r.results[i].LedgerEntriesAtStart = size
			r.results[i].GenerateS = took.Seconds()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Measure a start from the disk, as after a reboot, not from the page
	// cache the generator just filled.
	for _, c := range r.cfgs {
		if err := evict(c.LedgerPath); err != nil {
			return fmt.Errorf("bench: dropping %s from the page cache: %w", c.LedgerPath, err)
		}
	}
	return nil
}

func (r *run) floors(ctx context.Context) error {
	o, d := r.opts, r.opts.FloorDuration
	f := &r.res.Floors
	var err error
	r.say("floor: gRPC echo over mTLS, %d bytes, concurrency %d, %s", o.Payload, o.Concurrency, d)
	if f.EchoPerS, err = measureEcho(ctx, r.cfgs[0], r.cfgs[1], o.Concurrency, o.Payload, d); err != nil {
		return err
	}
	n := r.res.Machine.Cores
	r.say("floor: Ed25519 sign and verify, one goroutine, then %d at once, %s each", n, d)
	if f.SignPerS, err = measureSign(r.cfgs[0], o.Payload, 1, d); err != nil {
		return err
	}
	if f.VerifyPerS, err = measureVerify(r.cfgs[0], o.Payload, 1, d); err != nil {
		return err
	}
	if f.SignAllCoresPerS, err = measureSign(r.cfgs[0], o.Payload, n, d); err != nil {
		return err
	}
	if f.VerifyAllCoresPerS, err = measureVerify(r.cfgs[0], o.Payload, n, d); err != nil {
		return err
	}
	r.say("floor: ledger appends, fsync on, %d writers, %s", o.Concurrency, d)
	if f.LedgerAppendPerS, f.LedgerMeanBatch, err = measureLedger(ctx, r.cfgs[0], r.dir, o.Concurrency, o.Payload, d); err != nil {
		return err
	}
	os.Remove(filepath.Join(r.dir, "floor-ledger.db"))
	r.res.CeilingPerS = Ceiling(*f, r.res.Machine.Cores)
	return nil
}

func (r *run) start(ctx context.Context, i int) (*nodeProc, error) {
	n, err := r.la.start(ctx, r.cfgs[i], filepath.Join(r.dir, r.cfgs[i].Agency+".log"))
	if err != nil {
		return nil, err
	}
	r.nodes[i] = n
	r.profile(n)
	return n, nil
}

// stop stops node i and keeps its peak memory.
func (r *run) stop(i int) error {
	n := r.nodes[i]
	if n == nil {
		return nil
	}
	r.nodes[i] = nil
	n.rss.stop()
	hwm, anon := n.rss.peak()
	res := &r.results[i]
	res.PeakRSSBytes = max(res.PeakRSSBytes, hwm)
	res.PeakRSSAnonBytes = max(res.PeakRSSAnonBytes, anon)
	return n.stop()
}

func (r *run) stopAll() error {
	return errors.Join(r.stop(1), r.stop(0))
}

// warmUp sends one message per submitter through the whole path, so that
// connections, goroutines and caches are up before anything is timed.
func (r *run) warmUp(ctx context.Context) error {
	r.say("warm-up: %d messages", r.opts.Concurrency)
	ld := &load{client: r.nodes[0].client, draft: r.draft, await: true}
	o := ld.count(ctx, r.opts.Concurrency, r.opts.Concurrency)
	if o.failed > 0 {
		return fmt.Errorf("bench: warm-up: %d of %d messages failed: %w", o.failed, r.opts.Concurrency, o.firstErr)
	}
	return nil
}

// endToEnd is the main phase: submitters on the sender's local API, every
// message awaited until its receipt is in the sender's ledger.
func (r *run) endToEnd(ctx context.Context) error {
	o := r.opts
	if o.Rate > 0 {
		r.say("end to end: %.0f messages a second offered (at most %d in flight) for %s", o.Rate, o.Concurrency, o.Duration)
	} else {
		r.say("end to end: %d submitters for %s", o.Concurrency, o.Duration)
	}
	var before [2]samples
	var cpuBefore [2]time.Duration
	for i, n := range r.nodes {
		before[i], _ = scrape(ctx, n.cfg.MetricsListen)
		cpuBefore[i], _ = cpuTime(n.pid)
	}
	selfBefore, _ := cpuTime(os.Getpid())
	if err := r.startProfiles(); err != nil {
		return err
	}
	ld := &load{client: r.nodes[0].client, draft: r.draft, await: true}
	began := time.Now()
	var out *outcome
	if o.Rate > 0 {
		out = ld.open(ctx, o.Rate, o.Concurrency, o.Duration, nil)
	} else {
		out = ld.closed(ctx, o.Concurrency, o.Duration)
	}
	// The phase lasts until the last message in flight is done.
	phase := time.Since(began)
	if err := r.stopProfiles(); err != nil {
		return err
	}
	selfAfter, _ := cpuTime(os.Getpid())
	res := r.res
	res.Submitted, res.Accepted, res.Receipted, res.Failed = out.submitted, out.accepted, out.receipted, out.failed
	res.AwaitedSeparately = out.awaitedSeparately
	if out.firstErr != nil {
		res.FirstError = out.firstErr.Error()
	}
	res.AcceptedPerS = float64(out.acceptedInWindow) / out.window.Seconds()
	res.ReceiptedPerS = float64(out.receiptedInWindow) / out.window.Seconds()
	res.AchievedPerS = res.ReceiptedPerS
	if res.CeilingPerS > 0 {
		res.Ratio = res.AchievedPerS / res.CeilingPerS
	}
	res.P50Ms, res.P99Ms, res.P999Ms, res.MaxMs = ms(quantile(out.e2e, 0.5)), ms(quantile(out.e2e, 0.99)), ms(quantile(out.e2e, 0.999)), ms(quantile(out.e2e, 1))
	res.AcceptP50Ms, res.AcceptP99Ms = ms(quantile(out.accept, 0.5)), ms(quantile(out.accept, 0.99))
	total := (selfAfter - selfBefore).Seconds()
	if !r.opts.InProcess {
		res.LoadCPUS = total
	}
	for i, n := range r.nodes {
		after, err := scrape(ctx, n.cfg.MetricsListen)
		if err != nil {
			return err
		}
		d := after.sub(before[i])
		nr := &r.results[i]
		if c := d.value("focalpoint_ledger_commit_batch_writes_count"); c > 0 {
			nr.LedgerMeanBatch = d.value("focalpoint_ledger_commit_batch_writes_sum") / c
			nr.LedgerCommitMeanMs = 1000 * d.value("focalpoint_ledger_commit_duration_seconds_sum") / d.value("focalpoint_ledger_commit_duration_seconds_count")
			nr.LedgerCommitBusy = d.value("focalpoint_ledger_commit_duration_seconds_sum") / phase.Seconds()
		}
		counts := d.byLabel("grpc_server_handling_seconds_count", "grpc_method")
		sums := d.byLabel("grpc_server_handling_seconds_sum", "grpc_method")
		for method, c := range counts {
			if c > 0 {
				if nr.RPCMeanMs == nil {
					nr.RPCMeanMs = map[string]float64{}
				}
				nr.RPCMeanMs[method] = 1000 * sums[method] / c
			}
		}
		if !r.opts.InProcess {
			cpu, _ := cpuTime(n.pid)
			nr.CPUS = (cpu - cpuBefore[i]).Seconds()
			total += nr.CPUS
			if out.receipted > 0 {
				nr.CPUPerMessageUs = nr.CPUS * 1e6 / float64(out.receipted)
			}
		}
	}
	if out.receiptedInWindow > 0 {
		res.CPUPerMessageUs = total * 1e6 / float64(out.receipted)
	}
	r.say("end to end: %.0f receipted/s (ceiling %.0f/s, ratio %.2f), p50 %.1f ms, p99 %.1f ms",
		res.AchievedPerS, res.CeilingPerS, res.Ratio, res.P50Ms, res.P99Ms)
	return nil
}

// startProfiles starts the CPU profiles of a phase: the bench's own (the
// load, or in-process everything) and each running node's. A node started
// while they run is profiled from its start (see run.start).
func (r *run) startProfiles() error {
	dir := r.opts.CPUProfileDir
	if dir == "" {
		return nil
	}
	name := "bench.cpu.pprof" // the load alone, or in-process everything
	if r.opts.InProcess {
		name = "in-process.cpu.pprof"
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: %w", err)
	}
	r.profFile = f
	r.res.Profiles = append(r.res.Profiles, path)
	for _, n := range r.nodes {
		r.profile(n)
	}
	return nil
}

// profile has a subprocess node start its CPU profile, if profiles run.
func (r *run) profile(n *nodeProc) {
	if r.profFile == nil || n == nil || n.profile == "" {
		return
	}
	n.signal(syscall.SIGUSR1)
	r.res.Profiles = append(r.res.Profiles, n.profile)
}

func (r *run) stopProfiles() error {
	if r.profFile == nil {
		return nil
	}
	for _, n := range r.nodes {
		if n != nil {
			n.signal(syscall.SIGUSR2)
		}
	}
	pprof.StopCPUProfile()
	err := r.profFile.Close()
	r.profFile = nil
	return err
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAverage: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func loadAverage() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	for i, f := range strings.Fields(string(b))[:3] {
		out[i], _ = strconv.ParseFloat(f, 64)
	}
	return out
}
