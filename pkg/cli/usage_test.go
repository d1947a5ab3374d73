package cli_test

// How the binary answers mistakes in its use, and files written by earlier
// versions.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageMistakesExitTwo checks that every mistake in how a command is
// called exits 2, so scripts can tell a typo from a refusal (1) or success.
// A misspelt subcommand of a group must not print help and exit 0.
func TestUsageMistakesExitTwo(t *testing.T) {
	needBinary(t)
	config := filepath.Join(t.TempDir(), "none.yaml") // never read: the mistake is found first
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"inbox", "--config", config, "--bogus"}},
		{"unknown output format", []string{"inbox", "--config", config, "-o", "yaml"}},
		{"zero count", []string{"ping", "--config", config, "--count", "0"}},
		{"--config left out", []string{"inbox"}},
		{"--file left out", []string{"alert", "send", "--config", config}},
		{"--in-reply-to left out", []string{"outcome", "send", "--config", config, "--file", "outcome.yaml"}},
		{"--ledger left out", []string{"audit", "verify"}},
		{"message ID left out", []string{"show", "--config", config}},
		{"argument too many", []string{"inbox", "--config", config, "extra"}},
		{"unknown command", []string{"frobnicate"}},
		{"unknown subcommand", []string{"alert", "sned"}},
		{"group without a subcommand", []string{"audit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != 2 {
				t.Errorf("want exit 2 (usage)\n%s", r)
			}
			if !strings.HasPrefix(r.stderr, "focalpoint: ") && !strings.Contains(r.stderr, "Usage:") {
				t.Errorf("stderr does not say what was wrong\n%s", r)
			}
		})
	}
}

// TestExampleDraftHeader checks the comment that `alert example` and
// `outcome example` print above the draft.
func TestExampleDraftHeader(t *testing.T) {
	needBinary(t)
	for _, kind := range []string{"alert", "outcome"} {
		r := mustRun(t, kind, "example")
		if want := "# An " + kind + " draft: "; !strings.HasPrefix(r.stdout, want) {
			t.Errorf("%s example: first line %q, want it to start %q", kind, r.lines()[0], want)
		}
	}
}

// TestAuditReadsEarlierLedgers audits the two ledgers in
// testdata/ledger-without-conflicts, written before ledger files had a
// conflicts bucket. An auditor must be able to check a ledger copy for as
// long as its signatures matter.
func TestAuditReadsEarlierLedgers(t *testing.T) {
	needBinary(t)
	// A copy, so nothing the binary does can touch the fixture.
	dir := t.TempDir()
	for _, name := range []string{"id.db", "kh.db", "keys.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "ledger-without-conflicts", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	idDB, khDB, keys := filepath.Join(dir, "id.db"), filepath.Join(dir, "kh.db"), filepath.Join(dir, "keys.txt")
	for _, db := range []string{idDB, khDB} {
		r := run(t, "audit", "verify", "--ledger", db, "--keys", keys)
		if r.code != 0 || !strings.HasSuffix(r.stdout, "verify: ok\n") || !strings.Contains(r.stdout, "entries   7:") {
			t.Errorf("want exit 0, 7 entries and 'verify: ok'\n%s", r)
		}
	}
	r := run(t, "audit", "reconcile", "--ledger", idDB, "--ledger", khDB, "--keys", keys)
	if r.code != 0 || !strings.Contains(r.stdout, "reconcile: ok") {
		t.Errorf("want exit 0 and 'reconcile: ok'\n%s", r)
	}
}
