package cli_test

// End-to-end tests of the focalpoint binary: TestMain builds it once, and the
// tests run it as an officer or an auditor would, as real processes. Two real
// nodes talk mTLS gRPC over loopback with a dev PKI that `certs dev` makes,
// each with its own bbolt ledger. Nothing is mocked.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"sigs.k8s.io/yaml"
)

var (
	// fpBin is the focalpoint binary TestMain built; empty if it built none,
	// and then noBinary says why.
	fpBin    string
	noBinary string
	// raceBuild is set when the tests run with -race (e2e_race_test.go): the
	// binary is then built with -race as well.
	raceBuild bool
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if testing.Short() {
		noBinary = "-short: the end-to-end tests build and run the binary"
		return m.Run()
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		noBinary = "no go on PATH to build the binary with"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "fpbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "focalpoint")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	args = append(args, "github.com/focalpoint-gateway/focalpoint/cmd/focalpoint")
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	fpBin = bin
	return m.Run()
}

// command is the binary with args, in an environment where a -race binary
// exits at once: by default the race runtime sleeps a second at exit, which
// would make these tests take a minute.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, fpBin, args...)
	if raceBuild {
		cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	return cmd
}

func needBinary(t *testing.T) {
	t.Helper()
	if fpBin == "" {
		t.Skip(noBinary)
	}
}

// commandTimeout bounds every command but serve.
const commandTimeout = 30 * time.Second

// result is what one run of the binary did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("focalpoint %s: exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// lines returns stdout's lines, without the final newline's empty one.
func (r result) lines() []string {
	return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
}

// run runs the binary with args and returns what it did; it fails the test
// only if the binary cannot be run or outlives commandTimeout.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runStdin(t, nil, args...)
}

func runStdin(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("still running after %s; killed\n%s", commandTimeout, r)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("focalpoint %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	return r
}

// wantFailure checks that r exited with code (or, for code -1, with any
// non-zero code) and that its stderr holds every one of want.
func wantFailure(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if code == -1 && r.code == 0 {
		t.Errorf("want a non-zero exit\n%s", r)
		return
	}
	if code != -1 && r.code != code {
		t.Errorf("want exit %d\n%s", code, r)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not name %q\n%s", w, r)
		}
	}
}

func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	// Strict, so a renamed field fails here rather than reading as zero.
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the JSON expected: %v\n%s", err, r)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document\n%s", r)
	}
}

// eventually calls check until it reports done or timeout passes, and then
// fails the test with check's last word.
func eventually(t *testing.T, timeout time.Duration, what string, check func() (done bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, last := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last:\n%s", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer a process may write while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// nodeProc is a running `focalpoint serve`.
type nodeProc struct {
	name, config, socket string
	cmd                  *exec.Cmd
	logs                 *lockedBuffer
	exited               chan struct{}
	waitErr              error // Wait's error, once exited is closed
}

// startNode starts `serve --config config`. The process is killed, if it is
// still running, when the test ends; its log is shown if the test failed.
func startNode(t *testing.T, name, config, socket string) *nodeProc {
	t.Helper()
	n := &nodeProc{name: name, config: config, socket: socket, logs: &lockedBuffer{}, exited: make(chan struct{})}
	n.cmd = command(context.Background(), "serve", "--config", config)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s node: %v", name, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("%s node log:\n%s", name, n.logs.String())
		}
	})
	return n
}

func (n *nodeProc) running() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// waitReady waits until the node's socket exists and a ping through it is
// receipted by the counterpart, which must be starting too.
func (n *nodeProc) waitReady(t *testing.T) {
	t.Helper()
	n.waitFor(t, "ping", "--config", n.config, "--timeout", "5s")
}

// waitServing waits until the node's socket exists and its local API answers.
func (n *nodeProc) waitServing(t *testing.T) {
	t.Helper()
	n.waitFor(t, "outbox", "--config", n.config)
}

func (n *nodeProc) waitFor(t *testing.T, args ...string) {
	t.Helper()
	eventually(t, 30*time.Second, n.name+" node ready", func() (bool, string) {
		if !n.running() {
			t.Fatalf("%s node exited while starting: %v\n%s", n.name, n.waitErr, n.logs.String())
		}
		if _, err := os.Stat(n.socket); err != nil {
			return false, err.Error()
		}
		r := run(t, args...)
		return r.code == 0, r.String()
	})
}

// stop sends SIGTERM and waits up to 15 s for the node to exit. It may run
// on any goroutine.
func (n *nodeProc) stop() (code int, err error) {
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("SIGTERM %s node: %w", n.name, err)
	}
	select {
	case <-n.exited:
		return n.cmd.ProcessState.ExitCode(), nil
	case <-time.After(15 * time.Second):
		return 0, fmt.Errorf("%s node still running 15 s after SIGTERM", n.name)
	}
}

// checkLogs checks that every line the node wrote is a JSON log record (its
// stderr is not a terminal) and that a -race binary found no race.
func (n *nodeProc) checkLogs(t *testing.T) {
	t.Helper()
	logs := n.logs.String()
	if strings.Contains(logs, "DATA RACE") {
		t.Errorf("%s node: data race:\n%s", n.name, logs)
		return
	}
	for i, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec struct {
			Time  time.Time `json:"time"`
			Level string    `json:"level"`
			Msg   string    `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" || rec.Time.IsZero() {
			t.Errorf("%s node log line %d is not a JSON record with time, level and msg: %q", n.name, i+1, line)
		}
	}
}

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// Held open until all are chosen, so no two are the same.
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// shortTempDir is a temporary directory with a short path: a node's unix
// socket lives in its state directory, and t.TempDir's paths can pass the
// 104-byte limit for socket paths.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type party struct{ agency, trustDomain string }

var (
	indonesia = party{"ID-DJI", "imigrasi.go.id"}
	cambodia  = party{"KH-GDI", "immigration.gov.kh"}
)

// nodeConfig is a config like deploy/dev's for me, whose counterpart is
// peer, with the dev PKI in certs.
func nodeConfig(certs, stateDir string, me, peer party, listen, peerAddr string) string {
	at := func(p party, file string) string { return filepath.Join(certs, p.trustDomain, file) }
	return fmt.Sprintf(`# Like deploy/dev, written by pkg/cli/e2e_test.go.
node:
  agency: %s
  spiffe_id: spiffe://%s/focalpoint/node
  state_dir: %s
  messages_key: %s
  log_key: %s
identity:
  svid_cert: %s
  svid_key: %s
  bundle: %s
counterpart:
  agency: %s
  spiffe_id: spiffe://%s/focalpoint/node
  address: %s
  bundle: %s
  messages_key: %s
  log_key: %s
peer:
  listen: %s
delivery:
  initial_backoff: 50ms
  max_backoff: 1s
log:
  level: info
`, me.agency, me.trustDomain, stateDir, at(me, "messages.key"), at(me, "log.key"),
		at(me, "node.pem"), at(me, "node.key"), at(me, "bundle.pem"),
		peer.agency, peer.trustDomain, peerAddr, at(peer, "bundle.pem"), at(peer, "messages.vkey"), at(peer, "log.vkey"),
		listen)
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sendResult is what `alert send` and `outcome send` print with -o json.
type sendResult struct {
	MessageID   string    `json:"message_id"`
	LedgerIndex uint64    `json:"ledger_index"`
	ThreadID    string    `json:"thread_id"`
	AcceptedAt  time.Time `json:"accepted_at"`
}

// decodeSend checks the JSON of a send: a UUIDv7 message ID and a numeric
// ledger index.
func decodeSend(t *testing.T, r result) sendResult {
	t.Helper()
	var raw map[string]any
	decodeJSON(t, r, &raw)
	if _, ok := raw["ledger_index"].(float64); !ok {
		t.Errorf("ledger_index is not a JSON number\n%s", r)
	}
	var s sendResult
	decodeJSON(t, r, &s)
	wantUUIDv7(t, s.MessageID)
	if s.AcceptedAt.IsZero() {
		t.Errorf("no accepted_at\n%s", r)
	}
	return s
}

func wantUUIDv7(t *testing.T, s string) {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil || id.Version() != 7 || id.String() != s {
		t.Fatalf("%q is not a UUIDv7 in canonical form (%v)", s, err)
	}
}

// inbox is the part of `inbox -o json` the tests read.
type inbox struct {
	Records []struct {
		Message struct {
			Header struct {
				MessageID string `json:"message_id"`
				ThreadID  string `json:"thread_id"`
				Handling  struct {
					Code string `json:"code"`
				} `json:"handling"`
			} `json:"header"`
			Payload map[string]json.RawMessage `json:"payload"`
		} `json:"message"`
		SignatureValid bool `json:"signature_valid"`
	} `json:"records"`
}

func readInbox(t *testing.T, config string) (inbox, result) {
	t.Helper()
	r := mustRun(t, "inbox", "--config", config, "-o", "json")
	var in inbox
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
		t.Fatalf("inbox JSON: %v\n%s", err, r)
	}
	return in, r
}

// wantInbound checks, in `show -o json`, that the node received the message
// from its counterpart with a valid signature, and has the ledger entries
// kinds.
func wantInbound(t *testing.T, config, id string, kinds ...string) {
	t.Helper()
	r := mustRun(t, "show", "--config", config, id, "-o", "json")
	var rec struct {
		Direction      string `json:"direction"`
		SignatureValid bool   `json:"signature_valid"`
		LedgerEntries  []struct {
			Kind string `json:"kind"`
		} `json:"ledger_entries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("show JSON: %v\n%s", err, r)
	}
	var got []string
	for _, e := range rec.LedgerEntries {
		got = append(got, e.Kind)
	}
	if rec.Direction != "DIRECTION_INBOUND" || !rec.SignatureValid || strings.Join(got, " ") != strings.Join(kinds, " ") {
		t.Errorf("show -o json: want inbound, signature valid, entries %q; got %s, %t, %q\n%s", kinds, rec.Direction, rec.SignatureValid, got, r)
	}
}

// outbox is `outbox -o json`: protojson leaves out zeros and writes a
// uint64 as a string.
type outbox struct {
	Pending json.Number `json:"pending"`
	Items   []struct {
		MessageID   string    `json:"message_id"`
		LedgerIndex string    `json:"ledger_index"`
		AcceptedAt  time.Time `json:"accepted_at"`
		Attempts    int       `json:"attempts"`
		LastError   string    `json:"last_error"`
	} `json:"items"`
}

func readOutbox(t *testing.T, config string) (outbox, result) {
	t.Helper()
	r := mustRun(t, "outbox", "--config", config, "-o", "json")
	var ob outbox
	decodeJSON(t, r, &ob)
	return ob, r
}

// outboxPending is the outbox's pending count.
func outboxPending(t *testing.T, config string) (uint64, result) {
	t.Helper()
	ob, r := readOutbox(t, config)
	if ob.Pending == "" {
		return 0, r
	}
	n, err := strconv.ParseUint(string(ob.Pending), 10, 64)
	if err != nil {
		t.Fatalf("outbox pending %q: %v\n%s", ob.Pending, err, r)
	}
	return n, r
}

// report is `audit verify -o json`: decoded strictly into the audit's own
// type, so the JSON and the type cannot drift apart.
type report = audit.Report

func verifyJSON(t *testing.T, args ...string) report {
	t.Helper()
	r := mustRun(t, append([]string{"audit", "verify", "-o", "json"}, args...)...)
	var rep report
	decodeJSON(t, r, &rep)
	return rep
}

// ledgerEntries backs the running node's ledger up to a new file and counts
// its entries with the auditor's check: a count independent of `show`.
// ledgerEntries counts the entries about messages in a copy of a running
// node's ledger. The checkpoint entries that cross-witnessing adds on its own
// schedule are left out: they record no one's input.
func ledgerEntries(t *testing.T, config, out string) uint64 {
	t.Helper()
	mustRun(t, "ledger", "backup", "--config", config, "--out", out)
	rep := verifyJSON(t, "--ledger", out)
	return rep.Entries - rep.ByKind["CHECKPOINT_COSIGNED"] - rep.ByKind["CHECKPOINT_WITNESSED"]
}

var (
	ledgerLine = func(kind string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\s+\d+\s+` + kind + `\s`)
	}
	receivedEntry        = ledgerLine("RECEIVED")
	receiptIssuedEntry   = ledgerLine("RECEIPT_ISSUED")
	sentEntry            = ledgerLine("SENT")
	receiptReceivedEntry = ledgerLine("RECEIPT_RECEIVED")
)

// TestEndToEnd runs two nodes as an operator would, and uses them as the
// officers and an auditor would: certs, serve, alert, inbox, show, outcome,
// ping, outbox, the refusals a tired officer meets, a live backup, keys,
// graceful shutdown, and the offline audit of both ledgers.
func TestEndToEnd(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	start := time.Now()
	step := func(s string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), s) }

	step("1. The dev PKI, once.")
	r := mustRun(t, "certs", "dev", "--out", certs)
	for _, p := range []party{indonesia, cambodia} {
		if want := fmt.Sprintf("%s (%s) in %s", p.trustDomain, p.agency, filepath.Join(certs, p.trustDomain)); !strings.Contains(r.stdout, want) {
			t.Errorf("certs dev does not say %q\n%s", want, r)
		}
	}
	wantFailure(t, run(t, "certs", "dev", "--out", certs), -1, certs)

	step("2. Two configs on free loopback ports.")
	addrs := freeAddrs(t, 2)
	idState, khState := filepath.Join(dir, "id"), filepath.Join(dir, "kh")
	idConfig := writeFile(t, filepath.Join(dir, "id.yaml"), nodeConfig(certs, idState, indonesia, cambodia, addrs[0], addrs[1]))
	khConfig := writeFile(t, filepath.Join(dir, "kh.yaml"), nodeConfig(certs, khState, cambodia, indonesia, addrs[1], addrs[0]))
	idSocket, khSocket := filepath.Join(idState, "focal.sock"), filepath.Join(khState, "focal.sock")
	if len(khSocket) > 104 {
		t.Fatalf("socket path %s is longer than 104 bytes; set TMPDIR to a shorter directory", khSocket)
	}

	step("3. Both nodes.")
	idNode := startNode(t, "ID", idConfig, idSocket)
	khNode := startNode(t, "KH", khConfig, khSocket)
	idNode.waitReady(t)
	khNode.waitReady(t)

	// The same node started twice must refuse, saying why, and leave the
	// first serving: its socket in place, its ledger its own.
	wantFailure(t, run(t, "serve", "--config", idConfig), -1, "focalpoint: ")
	mustRun(t, "outbox", "--config", idConfig)

	step("4. An alert from Indonesia.")
	alertFile := writeFile(t, filepath.Join(dir, "alert.yaml"), mustRun(t, "alert", "example").stdout)
	alert := decodeSend(t, mustRun(t, "alert", "send", "--config", idConfig, "--file", alertFile, "-o", "json"))
	if alert.LedgerIndex == 0 {
		t.Errorf("alert ledger_index 0")
	}
	alertText, err := os.ReadFile(alertFile)
	if err != nil {
		t.Fatal(err)
	}
	r = runStdin(t, bytes.NewReader(alertText), "alert", "send", "--config", idConfig, "--file", "-")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "accepted alert ") {
		t.Fatalf("want exit 0 and 'accepted alert <id>'\n%s", r)
	}
	wantUUIDv7(t, strings.Fields(r.lines()[0])[2])

	step("5. It reaches Cambodia's inbox, signed, H2 first.")
	eventually(t, 10*time.Second, "alert in KH inbox", func() (bool, string) {
		in, r := readInbox(t, khConfig)
		for _, rec := range in.Records {
			if rec.Message.Header.MessageID == alert.MessageID {
				if !rec.SignatureValid || rec.Message.Header.Handling.Code != "HANDLING_CODE_H2" {
					t.Fatalf("inbox record of the alert: want a valid signature and H2\n%s", r)
				}
				return true, ""
			}
		}
		return false, r.String()
	})
	r = mustRun(t, "inbox", "--config", khConfig)
	if lines := r.lines(); !strings.HasPrefix(lines[0], "HANDLING") {
		t.Errorf("inbox header does not start with HANDLING\n%s", r)
	}
	found := false
	for _, line := range r.lines() {
		if strings.Contains(line, alert.MessageID) {
			found = true
			if f := strings.Fields(line); f[0] != "H2" {
				t.Errorf("inbox line of the alert starts with %q, want H2: %q", f[0], line)
			}
		}
	}
	if !found {
		t.Errorf("inbox text does not list %s\n%s", alert.MessageID, r)
	}
	r = mustRun(t, "show", "--config", khConfig, alert.MessageID)
	if first := r.lines()[0]; !strings.HasPrefix(first, "HANDLING") || !strings.Contains(first, "H2") {
		t.Errorf("show: first line is %q, want the handling code H2 first", first)
	}
	for _, want := range []string{"message    " + alert.MessageID + " (alert)", "ID-DJI (spiffe://imigrasi.go.id/focalpoint/node)", "signature  valid"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show of the alert on KH lacks %q\n%s", want, r)
		}
	}
	if !receivedEntry.MatchString(r.stdout) || !receiptIssuedEntry.MatchString(r.stdout) {
		t.Errorf("show of the alert on KH lacks the ledger entries RECEIVED and RECEIPT_ISSUED\n%s", r)
	}
	wantInbound(t, khConfig, alert.MessageID, "RECEIVED", "RECEIPT_ISSUED")
	// Indonesia has Cambodia's receipt.
	eventually(t, 10*time.Second, "KH's receipt on ID", func() (bool, string) {
		r := mustRun(t, "show", "--config", idConfig, alert.MessageID)
		return strings.Contains(r.stdout, "receipt    receipted by KH-GDI") &&
			sentEntry.MatchString(r.stdout) && receiptReceivedEntry.MatchString(r.stdout), r.String()
	})

	step("6. Cambodia answers with an outcome.")
	outcomeFile := writeFile(t, filepath.Join(dir, "outcome.yaml"), mustRun(t, "outcome", "example").stdout)
	outcome := decodeSend(t, mustRun(t, "outcome", "send", "--config", khConfig, "--in-reply-to", alert.MessageID, "--file", outcomeFile, "-o", "json"))
	if outcome.ThreadID != alert.ThreadID {
		t.Errorf("outcome case %s, want the alert's %s", outcome.ThreadID, alert.ThreadID)
	}
	eventually(t, 10*time.Second, "outcome on ID", func() (bool, string) {
		r := run(t, "show", "--config", idConfig, outcome.MessageID)
		return r.code == 0, r.String()
	})
	r = mustRun(t, "show", "--config", idConfig, outcome.MessageID)
	for _, want := range []string{"(outcome)", "KH-GDI (spiffe://immigration.gov.kh/focalpoint/node)", "signature  valid", "replies to " + alert.MessageID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show of the outcome on ID lacks %q\n%s", want, r)
		}
	}
	wantInbound(t, idConfig, outcome.MessageID, "RECEIVED", "RECEIPT_ISSUED")
	if !strings.HasPrefix(r.stdout, "HANDLING") || !receivedEntry.MatchString(r.stdout) {
		t.Errorf("show of the outcome on ID: want HANDLING first and a RECEIVED entry\n%s", r)
	}

	step("7. Thirty pings, four at a time.")
	r = mustRun(t, "ping", "--config", idConfig, "--count", "30", "--concurrency", "4", "-o", "json")
	var ping struct {
		Sent      int     `json:"sent"`
		Receipted int     `json:"receipted"`
		Failed    int     `json:"failed"`
		P50Ms     float64 `json:"p50_ms"`
		P99Ms     float64 `json:"p99_ms"`
		MaxMs     float64 `json:"max_ms"`
		FirstErr  string  `json:"first_error"`
		Outbox    uint64  `json:"outbox_pending"`
	}
	decodeJSON(t, r, &ping)
	if ping.Sent != 30 || ping.Receipted != 30 || ping.Failed != 0 || ping.P50Ms <= 0 || ping.P99Ms < ping.P50Ms || ping.MaxMs < ping.P99Ms {
		t.Errorf("ping: want 30 sent and receipted, 0 < p50 <= p99 <= max\n%s", r)
	}

	step("8. Nothing waits for a receipt.")
	for _, config := range []string{idConfig, khConfig} {
		eventually(t, 5*time.Second, "empty outbox", func() (bool, string) {
			n, r := outboxPending(t, config)
			return n == 0, r.String()
		})
	}

	step("9. What a tired officer gets wrong is refused, and nothing is recorded.")
	entriesBefore := ledgerEntries(t, idConfig, filepath.Join(dir, "id-before.db"))
	inboxBefore, r := readInbox(t, khConfig)
	for _, rec := range inboxBefore.Records {
		if _, ok := rec.Message.Payload["test"]; ok {
			t.Errorf("KH's inbox lists a test message (ping) among the officer's messages\n%s", r)
			break
		}
	}
	mrz := mrzLine(t, alertText, 1)
	badMRZ := mrz[:len(mrz)-1] + strconv.Itoa((int(mrz[len(mrz)-1]-'0')+1)%10)
	draft := func(name, text string) string { return writeFile(t, filepath.Join(dir, name), text) }
	refusals := []struct {
		name string
		args []string
		code int // -1: any non-zero
		want []string
	}{
		{"family name left out",
			[]string{"alert", "send", "--config", idConfig, "--file", draft("no-family.yaml", dropLine(t, string(alertText), "family_name:"))},
			1, []string{"payload.alert.subject.family_name"}},
		{"misspelt field",
			[]string{"alert", "send", "--config", idConfig, "--file", draft("typo.yaml", replaceOnce(t, string(alertText), "family_name:", "familyname:"))},
			-1, []string{"familyname"}},
		{"MRZ check digit",
			[]string{"alert", "send", "--config", idConfig, "--file", draft("mrz.yaml", replaceOnce(t, string(alertText), mrz, badMRZ))},
			1, []string{"payload.alert.document.mrz_lines[1]"}},
		{"outcome to an alert never received",
			[]string{"outcome", "send", "--config", khConfig, "--in-reply-to", newUUIDv7(t), "--file", outcomeFile},
			1, []string{"header.in_reply_to"}},
		{"outcome sent as an alert",
			[]string{"alert", "send", "--config", idConfig, "--file", outcomeFile},
			1, []string{"not an alert"}},
		{"alert sent as an outcome",
			[]string{"outcome", "send", "--config", khConfig, "--in-reply-to", alert.MessageID, "--file", alertFile},
			1, []string{"not an outcome"}},
		{"unknown message",
			[]string{"show", "--config", idConfig, newUUIDv7(t)},
			1, []string{"not found"}},
		{"output yaml",
			[]string{"inbox", "--config", khConfig, "-o", "yaml"},
			2, []string{"yaml"}},
		{"output yaml on send",
			[]string{"alert", "send", "--config", idConfig, "--file", alertFile, "-o", "yaml"},
			2, []string{"yaml"}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			wantFailure(t, r, tc.code, tc.want...)
			if r.stdout != "" {
				t.Errorf("a refusal printed on stdout\n%s", r)
			}
		})
	}
	if after := ledgerEntries(t, idConfig, filepath.Join(dir, "id-after.db")); after != entriesBefore {
		t.Errorf("ID's ledger went from %d to %d message entries on refused input", entriesBefore, after)
	}
	if inboxAfter, r := readInbox(t, khConfig); len(inboxAfter.Records) != len(inboxBefore.Records) {
		t.Errorf("KH's inbox went from %d to %d messages on refused input\n%s", len(inboxBefore.Records), len(inboxAfter.Records), r)
	}

	step("10. A consistent copy of a running node's ledger, for the auditor.")
	idCopy := filepath.Join(dir, "id-copy.db")
	mustRun(t, "ledger", "backup", "--config", idConfig, "--out", idCopy)
	wantFailure(t, run(t, "ledger", "backup", "--config", idConfig, "--out", idCopy), 1, idCopy, "exists")
	r = mustRun(t, "audit", "verify", "--ledger", idCopy)
	if lines := r.lines(); lines[len(lines)-1] != "verify: ok" {
		t.Errorf("audit verify: want last line 'verify: ok'\n%s", r)
	}
	rep := verifyJSON(t, "--ledger", idCopy)
	if rep.Entries == 0 || len(rep.Pending) != 0 || rep.LedgerName != "imigrasi.go.id/focalpoint/ledger" {
		t.Errorf("audit verify of the copy: want entries, none pending, ID's ledger name: %+v", rep)
	}
	if rep.Sent < 33 || rep.Received < 1 {
		t.Errorf("audit verify of the copy: want at least 2 alerts and 31 pings sent, an outcome received: %+v", rep)
	}

	step("11. The published keys, a graceful stop, and the offline audit.")
	var keys strings.Builder
	var published [2][]string // own key, then the counterpart's as configured
	for i, config := range []string{idConfig, khConfig} {
		r := mustRun(t, "keys", "show", "--config", config)
		for _, line := range r.lines() {
			if strings.HasPrefix(line, "messages ") {
				published[i] = append(published[i], line)
			}
		}
		if len(published[i]) != 2 {
			t.Fatalf("keys show: want two 'messages ' lines\n%s", r)
		}
		keys.WriteString(r.stdout)
	}
	if published[0][0] != published[1][1] || published[1][0] != published[0][1] {
		t.Errorf("each node's own key should be what the other has configured: ID %q, KH %q", published[0], published[1])
	}
	keysFile := writeFile(t, filepath.Join(dir, "keys.txt"), keys.String())

	var stopped sync.WaitGroup
	for _, n := range []*nodeProc{idNode, khNode} {
		stopped.Go(func() {
			code, err := n.stop()
			switch {
			case err != nil:
				t.Error(err)
			case code != 0:
				t.Errorf("%s node exited %d after SIGTERM, want 0", n.name, code)
			}
		})
	}
	stopped.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, n := range []*nodeProc{idNode, khNode} {
		n.checkLogs(t)
		if !strings.Contains(n.logs.String(), `"msg":"node stopped"`) {
			t.Errorf("%s node did not log that it stopped", n.name)
		}
	}
	idLedger, khLedger := filepath.Join(idState, "ledger.db"), filepath.Join(khState, "ledger.db")
	for _, l := range []string{idLedger, khLedger} {
		r := mustRun(t, "audit", "verify", "--ledger", l, "--keys", keysFile)
		if lines := r.lines(); lines[len(lines)-1] != "verify: ok" {
			t.Errorf("audit verify: want last line 'verify: ok'\n%s", r)
		}
	}
	r = mustRun(t, "audit", "reconcile", "--ledger", idLedger, "--ledger", khLedger, "--keys", keysFile)
	if !strings.Contains(r.stdout, "reconcile: ok") {
		t.Errorf("audit reconcile: want 'reconcile: ok'\n%s", r)
	}
}

// TestDeliveryAcrossRestarts checks the delivery guarantee: an alert
// accepted while the counterpart is down waits in the outbox, survives a
// graceful stop and restart of its node, and is delivered and receipted once
// the counterpart is up.
func TestDeliveryAcrossRestarts(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	addrs := freeAddrs(t, 2)
	idState, khState := filepath.Join(dir, "id"), filepath.Join(dir, "kh")
	idConfig := writeFile(t, filepath.Join(dir, "id.yaml"), nodeConfig(certs, idState, indonesia, cambodia, addrs[0], addrs[1]))
	khConfig := writeFile(t, filepath.Join(dir, "kh.yaml"), nodeConfig(certs, khState, cambodia, indonesia, addrs[1], addrs[0]))
	idSocket, khSocket := filepath.Join(idState, "focal.sock"), filepath.Join(khState, "focal.sock")

	// Indonesia alone: the alert is accepted, and waits.
	id := startNode(t, "ID", idConfig, idSocket)
	id.waitServing(t)
	alertFile := writeFile(t, filepath.Join(dir, "alert.yaml"), mustRun(t, "alert", "example").stdout)
	alert := decodeSend(t, mustRun(t, "alert", "send", "--config", idConfig, "--file", alertFile, "-o", "json"))
	eventually(t, 10*time.Second, "a failed delivery attempt in the outbox", func() (bool, string) {
		ob, r := readOutbox(t, idConfig)
		return len(ob.Items) == 1 && ob.Items[0].MessageID == alert.MessageID && ob.Items[0].Attempts > 0 && ob.Items[0].LastError != "", r.String()
	})

	// A graceful stop while delivery is retrying; the ledger says what waits.
	if code, err := id.stop(); err != nil || code != 0 {
		t.Fatalf("ID node stopped with %d, %v; want exit 0 within 15 s\n%s", code, err, id.logs.String())
	}
	id.checkLogs(t)
	idLedger := filepath.Join(idState, "ledger.db")
	if rep := verifyJSON(t, "--ledger", idLedger); len(rep.Pending) != 1 || rep.Pending[0].MessageID != alert.MessageID {
		t.Fatalf("audit verify of the stopped ID ledger: want the alert pending: %+v", rep)
	}

	// Indonesia again, then Cambodia: the outbox drains from disk.
	id = startNode(t, "ID (restarted)", idConfig, idSocket)
	id.waitServing(t)
	if n, r := outboxPending(t, idConfig); n != 1 {
		t.Fatalf("restarted ID: want the alert still pending\n%s", r)
	}
	kh := startNode(t, "KH", khConfig, khSocket)
	up := time.Now()
	eventually(t, 20*time.Second, "ID's outbox drained once KH is up", func() (bool, string) {
		n, r := outboxPending(t, idConfig)
		return n == 0, r.String()
	})
	t.Logf("delivered %s after KH started", time.Since(up).Round(time.Millisecond))
	kh.waitServing(t)
	in, r := readInbox(t, khConfig)
	if len(in.Records) != 1 || in.Records[0].Message.Header.MessageID != alert.MessageID || !in.Records[0].SignatureValid {
		t.Errorf("KH inbox: want the alert alone, validly signed\n%s", r)
	}

	for _, n := range []*nodeProc{id, kh} {
		if code, err := n.stop(); err != nil || code != 0 {
			t.Fatalf("%s node stopped with %d, %v; want exit 0", n.name, code, err)
		}
		n.checkLogs(t)
	}
	r = mustRun(t, "audit", "reconcile", "--ledger", idLedger, "--ledger", filepath.Join(khState, "ledger.db"))
	if !strings.Contains(r.stdout, "reconcile: ok") {
		t.Errorf("audit reconcile: want 'reconcile: ok'\n%s", r)
	}
}

// mrzLine returns MRZ line i of the alert draft's document.
func mrzLine(t *testing.T, draft []byte, i int) string {
	t.Helper()
	var d struct {
		Payload struct {
			Alert struct {
				Document struct {
					MRZLines []string `json:"mrz_lines"`
				} `json:"document"`
			} `json:"alert"`
		} `json:"payload"`
	}
	if err := yaml.Unmarshal(draft, &d); err != nil {
		t.Fatal(err)
	}
	lines := d.Payload.Alert.Document.MRZLines
	if len(lines) <= i || lines[i] == "" {
		t.Fatalf("the example alert has no MRZ line %d: %q", i, lines)
	}
	last := lines[i][len(lines[i])-1]
	if last < '0' || last > '9' {
		t.Fatalf("MRZ line %d does not end in a check digit: %q", i, lines[i])
	}
	return lines[i]
}

func dropLine(t *testing.T, text, containing string) string {
	t.Helper()
	var kept []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, containing) {
			kept = append(kept, line)
		}
	}
	if n := strings.Count(text, "\n") + 1 - len(kept); n != 1 {
		t.Fatalf("%d lines hold %q, want 1", n, containing)
	}
	return strings.Join(kept, "\n")
}

func replaceOnce(t *testing.T, text, old, new string) string {
	t.Helper()
	if n := strings.Count(text, old); n != 1 {
		t.Fatalf("%q occurs %d times, want 1", old, n)
	}
	return strings.Replace(text, old, new, 1)
}

func newUUIDv7(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// TestServeRefusesBadConfig checks that serve refuses, at once and saying
// why, a config with a misspelt key and one that gives the node's own
// verifier key as the counterpart's.
func TestServeRefusesBadConfig(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	addrs := freeAddrs(t, 2)
	good := nodeConfig(certs, filepath.Join(dir, "id"), indonesia, cambodia, addrs[0], addrs[1])

	tests := []struct {
		name, config string
		want         []string
	}{
		{"misspelt key",
			replaceOnce(t, good, "peer:\n  listen: "+addrs[0]+"\n", "peer: {listne: x}\n"),
			[]string{"listne"}},
		{"own key as the counterpart's",
			replaceOnce(t, good, filepath.Join(certs, cambodia.trustDomain, "messages.vkey"), filepath.Join(certs, indonesia.trustDomain, "messages.vkey")),
			[]string{"counterpart.messages_key", "own key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			config := writeFile(t, filepath.Join(dir, "bad.yaml"), tc.config)
			start := time.Now()
			r := run(t, "serve", "--config", config)
			wantFailure(t, r, -1, tc.want...)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("serve took %s to refuse", d)
			}
		})
	}
}

// TestDemo runs the demo as CI does: its last line says it worked.
func TestDemo(t *testing.T) {
	needBinary(t)
	r := mustRun(t, "demo")
	if lines := r.lines(); !strings.HasPrefix(lines[len(lines)-1], "demo: ok") {
		t.Errorf("demo: last line does not start with 'demo: ok'\n%s", r)
	}
}
