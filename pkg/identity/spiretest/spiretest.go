// Package spiretest runs real SPIRE for tests: a server and an agent for each
// of two trust domains, federated with each other through their bundle
// endpoints, configured from deploy/spire exactly as a site would be (only
// join-token attestation stands in for the platform's).
//
// SPIRE is not a dependency of this module (its dependency tree is large and
// would slow every build); its binaries are built in deploy/spire/tools and
// named by FOCALPOINT_SPIRE_BIN. Without it the tests skip and say how to run
// them: .ci/spire-test.
package spiretest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Environment variables that configure the harness.
const (
	// BinEnv names the directory that holds spire-server and spire-agent.
	BinEnv = "FOCALPOINT_SPIRE_BIN"
	// PIDDirEnv, if set, names a directory where the harness records the PID
	// of every process it starts, so a script can end them if the test
	// binary is killed before its cleanups run.
	PIDDirEnv = "FOCALPOINT_SPIRE_PIDDIR"
)

// Bin returns the directory of the SPIRE binaries, or skips the test with
// how to run it.
func Bin(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(BinEnv)
	if dir == "" {
		t.Skipf("SPIRE test skipped: %s is not set. Run .ci/spire-test, which builds SPIRE (once, about 8 minutes) and runs this test with %s set.", BinEnv, BinEnv)
	}
	for _, b := range []string{"spire-server", "spire-agent"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Fatalf("%s=%s: %v", BinEnv, dir, err)
		}
	}
	return dir
}

// ConfigDir is deploy/spire of this source tree, whose server.conf,
// agent.conf and register.sh the harness uses.
func ConfigDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("spiretest: cannot locate the source tree")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "deploy", "spire")
	if _, err := os.Stat(filepath.Join(dir, "server.conf")); err != nil {
		t.Fatalf("spiretest: deploy/spire not found: %v", err)
	}
	return dir
}

// Domain is one trust domain's SPIRE: its server and one agent.
type Domain struct {
	TrustDomain spiffeid.TrustDomain
	// Dir holds the domain's configuration, data, sockets and logs.
	Dir string
	// ServerSocket is the server API's unix socket (for spire-server CLI).
	ServerSocket string
	// AgentSocket is the Workload API's unix socket.
	AgentSocket string
	// BundleEndpointURL is the server's SPIFFE bundle endpoint (https_spiffe).
	BundleEndpointURL string
	// AgentID is the agent's SPIFFE ID, the parent of entries for workloads
	// on its machine.
	AgentID spiffeid.ID

	bin, conf  string
	serverPort int
	bundlePort int
	t          testing.TB
	logs       []string
}

// WorkloadAPIAddr is the agent's Workload API address, as a node's
// identity.workload_api_socket takes it.
func (d *Domain) WorkloadAPIAddr() string { return "unix://" + d.AgentSocket }

// ServerID is the SPIFFE ID the server's bundle endpoint presents.
func (d *Domain) ServerID() spiffeid.ID {
	id, _ := spiffeid.FromPath(d.TrustDomain, "/spire/server")
	return id
}

// Federation is two trust domains whose SPIRE servers federate.
type Federation struct{ A, B *Domain }

// StartFederation starts a SPIRE server for each of a and b, exchanges their
// bundles once (after which the servers keep them current through each
// other's bundle endpoints), and starts one agent per trust domain attested
// by a join token. Everything stops when the test ends.
func StartFederation(t testing.TB, a, b spiffeid.TrustDomain) *Federation {
	t.Helper()
	bin, conf := Bin(t), ConfigDir(t)
	f := &Federation{A: newDomain(t, bin, conf, a), B: newDomain(t, bin, conf, b)}
	t.Cleanup(func() {
		if t.Failed() {
			f.A.dumpLogs()
			f.B.dumpLogs()
		}
	})
	f.A.startServer(f.B)
	f.B.startServer(f.A)
	f.A.waitServer()
	f.B.waitServer()
	f.A.exchangeBundle(f.B)
	f.B.exchangeBundle(f.A)
	f.A.startAgent()
	f.B.startAgent()
	return f
}

func newDomain(t testing.TB, bin, conf string, td spiffeid.TrustDomain) *Domain {
	t.Helper()
	// Unix socket paths are short; t.TempDir's can be too long for them.
	dir, err := os.MkdirTemp("", "fpspire-"+td.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &Domain{
		TrustDomain:  td,
		Dir:          dir,
		ServerSocket: filepath.Join(dir, "server.sock"),
		AgentSocket:  filepath.Join(dir, "agent.sock"),
		bin:          bin, conf: conf, t: t,
		serverPort: freePort(t), bundlePort: freePort(t),
	}
	d.BundleEndpointURL = fmt.Sprintf("https://127.0.0.1:%d", d.bundlePort)
	for _, sub := range []string{"server", "agent"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// env is the environment deploy/spire's configurations expand.
func (d *Domain) env(peer *Domain, sub string) []string {
	env := append(os.Environ(),
		"FP_TRUST_DOMAIN="+d.TrustDomain.Name(),
		"FP_AGENCY=focalpoint test",
		"FP_SERVER_ADDRESS=127.0.0.1",
		"FP_SERVER_PORT="+strconv.Itoa(d.serverPort),
		"FP_SERVER_SOCKET="+d.ServerSocket,
		"FP_AGENT_SOCKET="+d.AgentSocket,
		"FP_DATA_DIR="+filepath.Join(d.Dir, sub),
		"FP_LOG_LEVEL=INFO",
		"FP_BUNDLE_ENDPOINT_ADDRESS=127.0.0.1",
		"FP_BUNDLE_ENDPOINT_PORT="+strconv.Itoa(d.bundlePort),
		"FP_TRUST_BUNDLE="+filepath.Join(d.Dir, "server-bundle.pem"),
	)
	if peer != nil {
		env = append(env,
			"FP_PEER_TRUST_DOMAIN="+peer.TrustDomain.Name(),
			"FP_PEER_BUNDLE_ENDPOINT_URL="+peer.BundleEndpointURL)
	}
	return env
}

// start runs a long-lived SPIRE process (name is spire-server or
// spire-agent) until the test ends, its output in Dir/<name>.log.
func (d *Domain) start(name string, env []string, args ...string) {
	d.t.Helper()
	logPath := filepath.Join(d.Dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		d.t.Fatal(err)
	}
	d.logs = append(d.logs, logPath)
	cmd := exec.Command(filepath.Join(d.bin, name), args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	// Its own process group, so the stop below reaches anything it forks
	// (plugins) and a terminal's ^C does not race the cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		d.t.Fatalf("start %s: %v", name, err)
	}
	pidFile := ""
	if dir := os.Getenv(PIDDirEnv); dir != "" {
		pidFile = filepath.Join(dir, fmt.Sprintf("%s-%s.pid", d.TrustDomain.Name(), name))
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
			d.t.Logf("spiretest: %v", err)
		}
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.t.Cleanup(func() {
		// SIGTERM to the group, then SIGKILL if it lingers.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		log.Close()
		if pidFile != "" {
			os.Remove(pidFile)
		}
	})
}

func (d *Domain) run(bin string, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, bin), args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s%s", bin, strings.Join(args, " "), err, errOut.String(), out.String())
	}
	return out.String(), nil
}

func (d *Domain) startServer(peer *Domain) {
	d.t.Helper()
	d.start("spire-server", d.env(peer, "server"), "run", "-config", filepath.Join(d.conf, "server.conf"), "-expandEnv")
}

// waitServer waits until the server answers its health check.
func (d *Domain) waitServer() {
	d.t.Helper()
	d.waitFor("SPIRE server of "+d.TrustDomain.Name(), func() error {
		_, err := d.run("spire-server", nil, "healthcheck", "-socketPath", d.ServerSocket)
		return err
	})
}

func (d *Domain) waitFor(what string, try func() error) {
	d.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("spiretest: %s not ready: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// exchangeBundle gives d the peer's bundle, as two agencies do once when they
// set up the link (README.md: "Federating").
func (d *Domain) exchangeBundle(peer *Domain) {
	d.t.Helper()
	bundle, err := peer.subcommand(nil, "bundle", "show", "-format", "spiffe")
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.subcommand([]byte(bundle), "bundle", "set", "-format", "spiffe", "-id", peer.TrustDomain.IDString()); err != nil {
		d.t.Fatal(err)
	}
}

// SetBundle makes td's bundle (PEM) known to d's server, as for a trust
// domain d federates with by hand; entries may then federate with td.
func (d *Domain) SetBundle(td spiffeid.TrustDomain, pem []byte) {
	d.t.Helper()
	if _, err := d.subcommand(pem, "bundle", "set", "-format", "pem", "-id", td.IDString()); err != nil {
		d.t.Fatal(err)
	}
}

// subcommand runs "spire-server <group> <verb> -socketPath ... args".
func (d *Domain) subcommand(stdin []byte, group, verb string, args ...string) (string, error) {
	return d.run("spire-server", stdin, append([]string{group, verb, "-socketPath", d.ServerSocket}, args...)...)
}

// startAgent makes a join token, starts the agent with it and waits for its
// Workload API.
func (d *Domain) startAgent() {
	d.t.Helper()
	pem, err := d.subcommand(nil, "bundle", "show")
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "server-bundle.pem"), []byte(pem), 0o644); err != nil {
		d.t.Fatal(err)
	}
	out, err := d.subcommand(nil, "token", "generate", "-ttl", "600")
	if err != nil {
		d.t.Fatal(err)
	}
	token := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Token: "); ok {
			token = strings.TrimSpace(v)
		}
	}
	if token == "" {
		d.t.Fatalf("spiretest: no token in %q", out)
	}
	if d.AgentID, err = spiffeid.FromPath(d.TrustDomain, "/spire/agent/join_token/"+token); err != nil {
		d.t.Fatal(err)
	}
	d.start("spire-agent", d.env(nil, "agent"), "run", "-config", filepath.Join(d.conf, "agent.conf"), "-expandEnv", "-joinToken", token)
	d.waitFor("SPIRE agent of "+d.TrustDomain.Name(), func() error {
		_, err := d.run("spire-agent", nil, "healthcheck", "-socketPath", d.AgentSocket)
		return err
	})
}

// Register creates a registration entry for a workload under this domain's
// agent with deploy/spire/register.sh, as a site would.
func (d *Domain) Register(id spiffeid.ID, ttl time.Duration, selector string, federatesWith ...spiffeid.TrustDomain) {
	d.t.Helper()
	args := []string{filepath.Join(d.conf, "register.sh"),
		"--socket", d.ServerSocket, "--id", id.String(), "--parent", d.AgentID.String(),
		"--selector", selector, "--ttl", strconv.Itoa(int(ttl / time.Second))}
	for _, td := range federatesWith {
		args = append(args, "--federates-with", td.IDString())
	}
	cmd := exec.Command("bash", args...)
	cmd.Env = append(os.Environ(), "SPIRE_SERVER="+filepath.Join(d.bin, "spire-server"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("register %s: %v\n%s", id, err, out)
	}
	d.t.Logf("%s: registered %s: %s", d.TrustDomain.Name(), id, bytes.TrimSpace(out))
}

// dumpLogs puts the tail of each process's log into the test output.
func (d *Domain) dumpLogs() {
	for _, p := range d.logs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		lines = lines[max(0, len(lines)-40):]
		d.t.Logf("--- last lines of %s ---\n%s", p, strings.Join(lines, "\n"))
	}
}
