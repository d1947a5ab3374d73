package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
node:
  agency: ID-DJI
  spiffe_id: spiffe://imigrasi.go.id/focalpoint/node
  state_dir: state
  messages_key: keys/messages.key
  log_key: keys/log.key
identity:
  svid_cert: certs/node.pem
  svid_key: certs/node.key
  bundle: certs/bundle.pem
counterpart:
  agency: KH-GDI
  spiffe_id: spiffe://immigration.gov.kh/focalpoint/node
  address: 127.0.0.1:7802
  bundle: /etc/focalpoint/kh/bundle.pem
  messages_key: kh/messages.vkey
  log_key: kh/log.vkey
peer:
  listen: 127.0.0.1:7801
delivery:
  max_backoff: 1m
`

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(good), "/srv/fp")
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDir != "/srv/fp/state" || c.LedgerPath != "/srv/fp/state/ledger.db" || c.LocalSocket != "/srv/fp/state/focal.sock" {
		t.Fatalf("paths not resolved against the config's directory: %+v", c)
	}
	if c.Counterpart.Bundle != "/etc/focalpoint/kh/bundle.pem" {
		t.Fatalf("absolute path changed: %s", c.Counterpart.Bundle)
	}
	if c.MaxBackoff != time.Minute || c.InitialBackoff != DefaultInitialBackoff || c.ClockSkew != DefaultClockSkew {
		t.Fatalf("durations: %v %v %v", c.MaxBackoff, c.InitialBackoff, c.ClockSkew)
	}
	if c.ID.String() != "spiffe://imigrasi.go.id/focalpoint/node" || c.LedgerName() != "imigrasi.go.id/focalpoint/ledger" {
		t.Fatalf("id %s ledger %s", c.ID, c.LedgerName())
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name, from, to, wantKey string
	}{
		{"unknown key", "peer:\n", "peer:\n  listne: x\n", "listne"},
		{"misspelt section", "delivery:", "delivry:", "delivry"},
		{"bad duration", "max_backoff: 1m", "max_backoff: soon", "not a duration"},
		{"bad spiffe id", "spiffe://imigrasi.go.id/focalpoint/node", "imigrasi.go.id/node", "node.spiffe_id"},
		{"missing agency", "agency: ID-DJI", "agency: ''", "node.agency"},
		{"lower-case agency", "agency: ID-DJI", "agency: id-dji", "node.agency"},
		{"bad address", "address: 127.0.0.1:7802", "address: localhost", "counterpart.address"},
		{"same trust domain", "spiffe://immigration.gov.kh/focalpoint/node", "spiffe://imigrasi.go.id/other", "counterpart.spiffe_id"},
		{"missing key", "  messages_key: keys/messages.key\n", "\n", "node.messages_key"},
		{"negative", "max_backoff: 1m", "max_backoff: -1s", "delivery.max_backoff"},
		{"backoff order", "max_backoff: 1m", "max_backoff: 1m\n  initial_backoff: 2m", "delivery.max_backoff"},
		{"tcp without ids", "peer:\n", "local:\n  listen: 127.0.0.1:9\npeer:\n", "local.allowed_ids"},
		{"foreign local id", "peer:\n", "local:\n  listen: 127.0.0.1:9\n  allowed_ids: [spiffe://immigration.gov.kh/x]\npeer:\n", "local.allowed_ids[0]"},
		{"bad log level", "peer:\n", "log:\n  level: loud\npeer:\n", "log.level"},
		{"wrong type", "max_backoff: 1m", "max_backoff: 1m\n  workers: many", "workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(good, tt.from, tt.to, 1)
			if in == good {
				t.Fatalf("test does not change the config")
			}
			_, err := Parse([]byte(in), "/srv")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %q does not name %q", err, tt.wantKey)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("err = %v", err)
	}
}
