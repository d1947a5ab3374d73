package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// A node runs either as a process of its own (`focalpoint serve`, the way it
// runs in production, so each node's memory and CPU can be read from /proc) or
// inside the bench's process (one CPU profile of everything, for profiling
// runs; /proc then describes both nodes and the load together).

// nodeProc is one node the bench started, in whichever way.
type nodeProc struct {
	cfg  *config.Config
	name string // the agency
	log  string // where its log goes

	// pid is the node's process; the bench's own in-process.
	pid    int
	cmd    *exec.Cmd
	cancel context.CancelFunc
	exited chan struct{}
	err    error

	// startup is from the process (or node.New) starting to the local API
	// answering a health check.
	startup time.Duration
	// profile is where the node writes its CPU profile once sent SIGUSR1;
	// empty in-process.
	profile string

	conn   *grpc.ClientConn
	client focalv1.FocalServiceClient
	health healthpb.HealthClient

	rss rssWatch
}

// launcher starts nodes.
type launcher struct {
	inProcess bool
	// command makes the command that runs a node with a config, and writes a
	// CPU profile of it to cpuprofile, if not empty, between SIGUSR1 and SIGUSR2.
	command func(ctx context.Context, config, cpuprofile string) *exec.Cmd
	// profileDir, if set, receives a CPU profile of each subprocess node:
	// <agency>.cpu.pprof, and <agency>.<n>.cpu.pprof for its nth start.
	profileDir string
	starts     map[string]int
}

func (la *launcher) start(ctx context.Context, cfg *config.Config, logPath string) (*nodeProc, error) {
	n := &nodeProc{cfg: cfg, name: cfg.Agency, log: logPath, exited: make(chan struct{})}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bench: node log: %w", err)
	}
	start := time.Now()
	if la.inProcess {
		n.pid = os.Getpid()
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		n.cancel = cancel
		// The same logging as `serve`: JSON at the config's level, to a file.
		log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: cfg.LogLevel}))
		nd, err := node.New(runCtx, cfg, node.Options{Logger: log})
		if err != nil {
			cancel()
			logFile.Close()
			return nil, err
		}
		go func() {
			defer logFile.Close()
			n.err = nd.Run(runCtx)
			close(n.exited)
		}()
	} else {
		if la.profileDir != "" {
			if la.starts == nil {
				la.starts = map[string]int{}
			}
			la.starts[cfg.Agency]++
			name := cfg.Agency + ".cpu.pprof"
			if k := la.starts[cfg.Agency]; k > 1 {
				name = fmt.Sprintf("%s.%d.cpu.pprof", cfg.Agency, k)
			}
			n.profile = filepath.Join(la.profileDir, name)
		}
		n.cmd = la.command(context.WithoutCancel(ctx), cfg.Path, n.profile)
		n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
		if err := n.cmd.Start(); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("bench: start %s node: %w", cfg.Agency, err)
		}
		n.pid = n.cmd.Process.Pid
		go func() {
			defer logFile.Close()
			n.err = n.cmd.Wait()
			close(n.exited)
		}()
	}
	if err := n.waitServing(ctx, start); err != nil {
		n.stop()
		return nil, err
	}
	n.rss.start(n.pid)
	return n, nil
}

// waitServing polls the local API's health until it answers SERVING.
func (n *nodeProc) waitServing(ctx context.Context, start time.Time) error {
	// As node.DialLocal, but retrying a refused connection within
	// milliseconds, not gRPC's default second, so the start-up time is the
	// node's and not the client's backoff.
	var err error
	n.conn, err = grpc.NewClient("unix://"+n.cfg.LocalSocket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 2 * time.Millisecond, Multiplier: 1.6, MaxDelay: 20 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return fmt.Errorf("bench: local API of %s: %w", n.name, err)
	}
	n.client = focalv1.NewFocalServiceClient(n.conn)
	n.health = healthpb.NewHealthClient(n.conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("bench: %s node exited while starting: %v (log: %s)%s", n.name, n.err, n.log, tail(n.log))
		default:
		}
		if _, serr := os.Stat(n.cfg.LocalSocket); serr == nil {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			resp, herr := n.health.Check(cctx, &healthpb.HealthCheckRequest{})
			cancel()
			if herr == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
				n.startup = time.Since(start)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s node did not serve within a minute (log: %s)", n.name, n.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// signal sends sig to a subprocess node; in-process nodes ignore it.
func (n *nodeProc) signal(sig os.Signal) {
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// stop stops the node the way an operator does (SIGTERM, or cancelling its
// context) and waits for it to exit.
func (n *nodeProc) stop() error {
	n.rss.stop()
	if n.conn != nil {
		n.conn.Close()
	}
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	} else if n.cancel != nil {
		n.cancel()
	}
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		if n.cmd != nil {
			_ = n.cmd.Process.Kill()
		}
		<-n.exited
		return fmt.Errorf("bench: %s node did not stop within 30 s of SIGTERM", n.name)
	}
	if n.err != nil {
		return fmt.Errorf("bench: %s node: %w (log: %s)", n.name, n.err, n.log)
	}
	return nil
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n" + string(b)
}

// procStatus reads the memory lines of /proc/<pid>/status, in bytes.
type procStatus struct {
	VmHWM, VmRSS, RssAnon, RssFile uint64
}

func readStatus(pid int) (procStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	defer f.Close()
	var s procStatus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmHWM":
			s.VmHWM = kb << 10
		case "VmRSS":
			s.VmRSS = kb << 10
		case "RssAnon":
			s.RssAnon = kb << 10
		case "RssFile":
			s.RssFile = kb << 10
		}
	}
	return s, sc.Err()
}

// cpuTime is the user and system time a process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseUint(fields[11], 10, 64)
	st, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// USER_HZ is 100 on every Linux the node runs on.
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// rssWatch samples a process's resident memory, to report the peak of its
// anonymous part (the heap and stacks) beside the kernel's VmHWM, which also
// counts the ledger's pages mapped from the page cache.
type rssWatch struct {
	mu      sync.Mutex
	pid     int
	last    procStatus
	maxAnon uint64
	done    chan struct{}
	wg      sync.WaitGroup
}

func (w *rssWatch) start(pid int) {
	w.pid = pid
	w.done = make(chan struct{})
	w.sample()
	w.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.sample()
			}
		}
	})
}

func (w *rssWatch) sample() {
	s, err := readStatus(w.pid)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = s
	w.maxAnon = max(w.maxAnon, s.RssAnon)
}

func (w *rssWatch) stop() {
	if w.done == nil {
		return
	}
	w.sample()
	close(w.done)
	w.wg.Wait()
	w.done = nil
}

func (w *rssWatch) peak() (hwm, anon uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.VmHWM, w.maxAnon
}

// freePort picks a loopback port for a config, which needs an address before
// the node that will listen on it starts. Another process could take it in
// between; on a bench machine none does.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func bundles(cfg *config.Config) map[spiffeid.TrustDomain]string {
	return map[spiffeid.TrustDomain]string{
		cfg.ID.TrustDomain():             cfg.Bundle,
		cfg.Counterpart.ID.TrustDomain(): cfg.Counterpart.Bundle,
	}
}

func self(cfg *config.Config) *messagev1.Party {
	return &messagev1.Party{Agency: cfg.Agency, SpiffeId: cfg.ID.String()}
}

func counterpart(cfg *config.Config) *messagev1.Party {
	return &messagev1.Party{Agency: cfg.Counterpart.Agency, SpiffeId: cfg.Counterpart.ID.String()}
}
