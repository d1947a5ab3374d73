package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/bench"
	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// quick is a run small enough for a test that still goes through every phase.
func quick() bench.Options {
	return bench.Options{
		Concurrency:   4,
		Duration:      time.Second,
		FloorDuration: 100 * time.Millisecond,
		Backlog:       50,
		DrainRate:     20,
	}
}

// TestRunInProcess runs both nodes in the test's process: every message
// accepted must be receipted (Run fails otherwise), and the JSON must carry
// what the issue asks for.
func TestRunInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes for a few seconds")
	}
	o := quick()
	o.InProcess = true
	res, err := bench.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res)
}

// TestRunSubprocess runs the nodes as `focalpoint serve` processes of a
// freshly built binary, profiled, as `focalpoint bench --cpuprofile` does.
func TestRunSubprocess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two nodes for a few seconds")
	}
	bin := filepath.Join(t.TempDir(), "focalpoint")
	build := exec.Command("go", "build", "-o", bin, "github.com/focalpoint-gateway/focalpoint/cmd/focalpoint")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := quick()
	o.Backlog = 0
	o.CPUProfileDir = t.TempDir()
	o.Command = func(ctx context.Context, path, cpuprofile string) *exec.Cmd {
		if cpuprofile != "" {
			return exec.CommandContext(ctx, bin, "bench", "node", "--config", path, "--cpuprofile", cpuprofile)
		}
		return exec.CommandContext(ctx, bin, "serve", "--config", path)
	}
	res, err := bench.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res)
	pids := map[uint64]bool{}
	for agency, rss := range res.PeakRSSBytes {
		if rss == 0 {
			t.Errorf("%s: no peak RSS", agency)
		}
		pids[rss] = true
	}
	for _, n := range res.Nodes {
		if n.CPUS <= 0 {
			t.Errorf("%s: no CPU time measured", n.Agency)
		}
	}
	if len(res.Profiles) != 3 {
		t.Fatalf("profiles %v, want the bench's and each node's", res.Profiles)
	}
	for _, p := range res.Profiles {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v (empty: %v)", p, err, err == nil && fi.Size() == 0)
		}
	}
}

func checkResult(t *testing.T, res *bench.Result) {
	t.Helper()
	if res.Receipted == 0 || res.Receipted != res.Accepted || res.Failed != 0 {
		t.Errorf("accepted %d, receipted %d, failed %d (%s)", res.Accepted, res.Receipted, res.Failed, res.FirstError)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	positive := func(m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if v, ok := m[k].(float64); !ok || v <= 0 {
				t.Errorf("%s = %v, want a positive number", k, m[k])
			}
		}
	}
	positive(got, "ceiling_per_s", "achieved_per_s", "ratio", "p50_ms", "p99_ms", "p999_ms", "accept_p50_ms")
	if _, ok := got["awaited_separately"].(float64); !ok {
		t.Errorf("awaited_separately = %v, want a count", got["awaited_separately"])
	}
	// The answer to a submission that waits comes with the receipt;
	// acceptance is the earlier time the SENT entry records.
	if res.AcceptP50Ms >= res.P50Ms {
		t.Errorf("submit to accepted p50 %.2f ms, not below submit to receipt p50 %.2f ms", res.AcceptP50Ms, res.P50Ms)
	}
	floors, _ := got["floors"].(map[string]any)
	positive(floors, "echo_per_s", "sign_per_s", "verify_per_s", "ledger_append_per_s")
	rss, _ := got["peak_rss_bytes"].(map[string]any)
	positive(rss, "ID-DJI", "KH-GDI")
	m, _ := got["machine"].(map[string]any)
	if _, ok := m["load_average"].([]any); !ok {
		t.Errorf("machine.load_average missing: %v", m)
	}
	if res.Backlog != nil {
		bl := res.Backlog
		if bl.DrainPerS <= 0 || bl.DrainAccepted == 0 || bl.DrainFailed != 0 {
			t.Errorf("backlog: %+v", *bl)
		}
	}
}

func TestCeiling(t *testing.T) {
	// The FACTS.md figures: E 27,800, S 26,000, V 12,700, two cores.
	got := bench.Ceiling(bench.Floors{EchoPerS: 27800, SignPerS: 26000, VerifyPerS: 12700}, 2)
	want := 1 / (2/27800.0 + 2/52000.0 + 2/25400.0)
	if got != want || got < 5000 || got > 5500 {
		t.Errorf("Ceiling = %f, want %f", got, want)
	}
	if bench.Ceiling(bench.Floors{}, 2) != 0 {
		t.Error("Ceiling without floors should be 0")
	}
}

// TestPayloadSize seals the messages the bench sends and checks their size
// and validity.
func TestPayloadSize(t *testing.T) {
	now := time.Now()
	skey, _, err := keys.Generate("imigrasi.go.id/focalpoint/messages")
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{bench.MinPayload(now), 1024, 2048, bench.MaxPayload(now)} {
		m, err := bench.Message(now, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := message.Validate(m, now); err != nil {
			t.Errorf("size %d: %v", size, err)
		}
		raw, err := envelope.Seal(m, s)
		if err != nil {
			t.Fatal(err)
		}
		if d := len(raw) - size; d < -3 || d > 0 {
			t.Errorf("asked for %d bytes, sealed %d", size, len(raw))
		}
		if _, err := envelope.Open(raw, note.VerifierList(s.Verifier())); err != nil {
			t.Fatal(err)
		}
		d, err := bench.Draft(now, size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal([]byte(d.GetPayload().String()), []byte(m.GetPayload().String())) {
			t.Errorf("size %d: the draft's payload is not the message's", size)
		}
	}
	if _, err := bench.Message(now, bench.MaxPayload(now)+1); err == nil {
		t.Error("a payload beyond what an alert holds was made")
	}
}
