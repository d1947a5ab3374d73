package cli_test

// `focalpoint serve --check-config`: what an operator runs before a restart
// (and what the systemd unit runs before every start).

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
)

// TestCheckConfigPrintsEffectiveSettings checks that a good config exits 0
// and prints every key of the config file, with defaults filled in and
// absolute paths, as YAML that loads as the very same config; and that the
// check starts nothing and creates nothing.
func TestCheckConfigPrintsEffectiveSettings(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	state := filepath.Join(dir, "state")
	// Relative paths in the file: the output must make them absolute.
	text := nodeConfig("certs", "state", indonesia, cambodia, "127.0.0.1:7801", "127.0.0.1:7802")
	path := writeFile(t, filepath.Join(dir, "id.yaml"), text)

	r := mustRun(t, "serve", "--config", path, "--check-config")
	if r.stderr != "" {
		t.Errorf("stderr not empty\n%s", r)
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("--check-config created the state directory %s", state)
	}

	// Every key of the file format, whatever is added to it later.
	var got map[string]map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, r)
	}
	ft := reflect.TypeFor[config.File]()
	for i := range ft.NumField() {
		section := jsonName(ft.Field(i))
		st := ft.Field(i).Type
		for j := range st.NumField() {
			key := jsonName(st.Field(j))
			if _, ok := got[section][key]; !ok {
				t.Errorf("%s.%s is not printed", section, key)
			}
		}
	}
	for key, want := range map[string]any{
		"node.state_dir":           state,
		"node.messages_key":        filepath.Join(certs, "imigrasi.go.id", "messages.key"),
		"counterpart.messages_key": filepath.Join(certs, "immigration.gov.kh", "messages.vkey"),
		"local.socket":             filepath.Join(state, config.DefaultLocalSocketName),
		"delivery.workers":         float64(config.DefaultDeliveryWorkers),
		"delivery.batch":           float64(config.DefaultDeliveryBatch),
		"delivery.initial_backoff": "50ms", // set in the file
		"delivery.attempt_timeout": config.DefaultAttemptTimeout.String(),
		"delivery.outbox_limit":    float64(config.DefaultOutboxLimit),
		"limits.max_message_bytes": float64(config.DefaultMaxMessageBytes),
		"limits.clock_skew":        config.DefaultClockSkew.String(),
		"limits.max_message_age":   config.DefaultMaxMessageAge.String(),
		"metrics.listen":           "",
		"log.level":                "info",
		"counterpart.spiffe_id":    "spiffe://immigration.gov.kh/focalpoint/node",
		"identity.svid_cert":       filepath.Join(certs, "imigrasi.go.id", "node.pem"),
		"counterpart.address":      "127.0.0.1:7802",
		"peer.listen":              "127.0.0.1:7801",
		"local.listen":             "",
		"identity.bundle":          filepath.Join(certs, "imigrasi.go.id", "bundle.pem"),
		"counterpart.bundle":       filepath.Join(certs, "immigration.gov.kh", "bundle.pem"),
		"identity.svid_key":        filepath.Join(certs, "imigrasi.go.id", "node.key"),
		"node.spiffe_id":           "spiffe://imigrasi.go.id/focalpoint/node",
		"delivery.max_backoff":     "1s",
		"counterpart.agency":       "KH-GDI",
		"node.agency":              "ID-DJI",
		"log.format":               "",
	} {
		section, k, _ := strings.Cut(key, ".")
		if v := got[section][k]; !reflect.DeepEqual(v, want) {
			t.Errorf("%s = %#v, want %#v", key, v, want)
		}
	}
	for _, line := range []string{
		"  workers: 8  # default\n",
		"  initial_backoff: \"50ms\"\n",
		"  listen: \"\"  # default: off\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("output lacks the line %q\n%s", line, r)
		}
	}
	for _, s := range []string{"SVID spiffe://imigrasi.go.id/focalpoint/node from files ", "signs as imigrasi.go.id/focalpoint/messages+"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output does not say %q\n%s", s, r)
		}
	}

	// The output is itself a config, and the same one, from anywhere.
	orig, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	again, err := config.Load(writeFile(t, filepath.Join(elsewhere, "effective.yaml"), r.stdout))
	if err != nil {
		t.Fatalf("the effective settings do not load: %v\n%s", err, r)
	}
	orig.Path, again.Path = "", ""
	if !reflect.DeepEqual(orig, again) {
		t.Errorf("the effective settings load as another config:\n got %+v\nwant %+v", again, orig)
	}
}

// TestCheckConfigNamesTheKey checks that each kind of bad config exits 1
// with the offending key named and nothing on stdout.
func TestCheckConfigNamesTheKey(t *testing.T) {
	needBinary(t)
	dir := shortTempDir(t)
	certs := filepath.Join(dir, "certs")
	mustRun(t, "certs", "dev", "--out", certs)
	good := nodeConfig(certs, filepath.Join(dir, "state"), indonesia, cambodia, "127.0.0.1:7801", "127.0.0.1:7802")
	id := func(file string) string { return filepath.Join(certs, "imigrasi.go.id", file) }
	kh := func(file string) string { return filepath.Join(certs, "immigration.gov.kh", file) }
	notDir := writeFile(t, filepath.Join(dir, "plain-file"), "x")
	tests := []struct {
		name      string
		from, to  string
		wantNamed []string
	}{
		{"unknown key", "peer:\n", "peer:\n  lissen: 127.0.0.1:1\n", []string{"lissen"}},
		{"backoff bounds crossed", "  max_backoff: 1s\n", "  max_backoff: 1ms\n", []string{"delivery.max_backoff"}},
		{"SVID file missing", id("node.pem"), id("nope.pem"), []string{"identity.svid_cert", "nope.pem"}},
		{"SVID of another workload", id("node.pem") + "\n  svid_key: " + id("node.key"), id("officer.pem") + "\n  svid_key: " + id("officer.key"), []string{"identity.svid_cert", "node.spiffe_id"}},
		{"SVID key of another certificate", "svid_key: " + id("node.key"), "svid_key: " + id("officer.key"), []string{"identity.svid_key"}},
		{"own bundle from the other trust domain", "  bundle: " + id("bundle.pem"), "  bundle: " + kh("bundle.pem"), []string{"identity.bundle"}},
		{"signing key is a verifier key", "messages_key: " + id("messages.key"), "messages_key: " + id("messages.vkey"), []string{"node.messages_key"}},
		{"counterpart key is our own", "messages_key: " + kh("messages.vkey"), "messages_key: " + id("messages.vkey"), []string{"counterpart.messages_key", "own key"}},
		{"counterpart key is a private key", "messages_key: " + kh("messages.vkey"), "messages_key: " + kh("messages.key"), []string{"counterpart.messages_key"}},
		{"counterpart log key missing", "log_key: " + kh("log.vkey"), "log_key: " + kh("nope.vkey"), []string{"counterpart.log_key", "nope.vkey"}},
		{"log key is a verifier key", "log_key: " + id("log.key"), "log_key: " + id("log.vkey"), []string{"node.log_key"}},
		{"state directory is a file", "state_dir: " + filepath.Join(dir, "state"), "state_dir: " + notDir, []string{"node.state_dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.from) {
				t.Fatalf("the config has no %q to replace", tt.from)
			}
			path := writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), strings.Replace(good, tt.from, tt.to, 1))
			r := run(t, "serve", "--config", path, "--check-config")
			wantFailure(t, r, 1, tt.wantNamed...)
			if r.stdout != "" {
				t.Errorf("a failed check printed settings\n%s", r)
			}
		})
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}
