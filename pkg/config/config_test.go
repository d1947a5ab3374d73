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
		{"bad duration", "max_backoff: 1m", "max_backoff: soon", "delivery.max_backoff is not a duration"},
		{"bad spiffe id", "spiffe://imigrasi.go.id/focalpoint/node", "imigrasi.go.id/node", "node.spiffe_id"},
		{"missing agency", "agency: ID-DJI", "agency: ''", "node.agency"},
		{"lower-case agency", "agency: ID-DJI", "agency: id-dji", "node.agency"},
		{"bad address", "address: 127.0.0.1:7802", "address: localhost", "counterpart.address"},
		{"same trust domain", "spiffe://immigration.gov.kh/focalpoint/node", "spiffe://imigrasi.go.id/other", "counterpart.spiffe_id"},
		{"missing key", "  messages_key: keys/messages.key\n", "\n", "node.messages_key"},
		{"negative", "max_backoff: 1m", "max_backoff: -1s", "delivery.max_backoff"},
		{"backoff order", "max_backoff: 1m", "max_backoff: 1m\n  initial_backoff: 2m", "delivery.max_backoff"},
		{"tcp without roles", "peer:\n", "local:\n  listen: 127.0.0.1:9\npeer:\n", "local.roles"},
		{"foreign local id", "peer:\n", "local:\n  listen: 127.0.0.1:9\n  roles:\n    officer: [spiffe://immigration.gov.kh/x]\npeer:\n", "local.roles.officer[0]"},
		{"unknown role", "peer:\n", "local:\n  listen: 127.0.0.1:9\n  roles:\n    admin: [spiffe://imigrasi.go.id/x]\npeer:\n", "admin"},
		{"two roles", "peer:\n", "local:\n  listen: 127.0.0.1:9\n  roles:\n    officer: [spiffe://imigrasi.go.id/x]\n    auditor: [spiffe://imigrasi.go.id/x]\npeer:\n", "already has the role"},
		{"bad socket role", "peer:\n", "local:\n  socket_role: root\npeer:\n", "local.socket_role"},
		{"bad log level", "peer:\n", "log:\n  level: loud\npeer:\n", "log.level"},
		{"wrong type", "max_backoff: 1m", "max_backoff: 1m\n  workers: many", "workers"},
		{"batch too large", "max_backoff: 1m", "max_backoff: 1m\n  batch: 257", "delivery.batch must be at most 256"},
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

const fileIdentity = "identity:\n  svid_cert: certs/node.pem\n  svid_key: certs/node.key\n  bundle: certs/bundle.pem\n"

// withIdentity is good with its identity section replaced by section, and
// then any further (from, to) replacements.
func withIdentity(t *testing.T, section string, more ...string) string {
	t.Helper()
	if !strings.Contains(good, fileIdentity) {
		t.Fatal("the good config's identity section changed; update fileIdentity")
	}
	s := strings.Replace(good, fileIdentity, section, 1)
	for i := 0; i+1 < len(more); i += 2 {
		if !strings.Contains(s, more[i]) {
			t.Fatalf("config has no %q", more[i])
		}
		s = strings.Replace(s, more[i], more[i+1], 1)
	}
	return s
}

func TestParseIdentity(t *testing.T) {
	const sock = "unix:///run/spire/sockets/agent.sock"
	const noCounterpartBundle = "  bundle: /etc/focalpoint/kh/bundle.pem\n"
	tests := []struct {
		name  string
		in    string
		env   string
		check func(*Config) bool
	}{
		{"files", good, "", func(c *Config) bool {
			return c.SVIDCert == "/srv/certs/node.pem" && c.SVIDKey == "/srv/certs/node.key" && c.Bundle == "/srv/certs/bundle.pem" &&
				c.WorkloadAPISocket == "" && c.IdentityReloadInterval == DefaultIdentityReloadInterval
		}},
		{"files win over the environment", good, "unix:///elsewhere.sock", func(c *Config) bool {
			return c.WorkloadAPISocket == "" && c.SVIDCert != ""
		}},
		{"workload API, counterpart bundle from it", withIdentity(t, "identity:\n  workload_api_socket: "+sock+"\n", noCounterpartBundle, ""), "", func(c *Config) bool {
			return c.WorkloadAPISocket == sock && c.SVIDCert == "" && c.Bundle == "" && c.Counterpart.Bundle == ""
		}},
		{"workload API, counterpart bundle pinned to a file", withIdentity(t, "identity:\n  workload_api_socket: "+sock+"\n"), "", func(c *Config) bool {
			return c.WorkloadAPISocket == sock && c.Counterpart.Bundle == "/etc/focalpoint/kh/bundle.pem"
		}},
		{"workload API over tcp", withIdentity(t, "identity:\n  workload_api_socket: tcp://127.0.0.1:8081\n"), "", func(c *Config) bool {
			return c.WorkloadAPISocket == "tcp://127.0.0.1:8081"
		}},
		{"workload API from the environment", withIdentity(t, ""), sock, func(c *Config) bool {
			return c.WorkloadAPISocket == sock
		}},
		{"reload interval", withIdentity(t, fileIdentity+"  reload_interval: 1s\n"), "", func(c *Config) bool {
			return c.IdentityReloadInterval == time.Second
		}},
		{"bundle endpoint, https_spiffe", withIdentity(t, fileIdentity, noCounterpartBundle,
			noCounterpartBundle+"  bundle_endpoint_url: https://spire.immigration.gov.kh:8443\n  bundle_endpoint_spiffe_id: spiffe://immigration.gov.kh/spire/server\n"), "", func(c *Config) bool {
			return c.Counterpart.BundleEndpointURL == "https://spire.immigration.gov.kh:8443" &&
				c.Counterpart.BundleEndpointID.String() == "spiffe://immigration.gov.kh/spire/server" && c.Counterpart.Bundle != ""
		}},
		{"bundle endpoint, https_web, no bundle file", withIdentity(t, fileIdentity, noCounterpartBundle,
			"  bundle_endpoint_url: https://spire.immigration.gov.kh/bundle\n"), "", func(c *Config) bool {
			return c.Counterpart.BundleEndpointURL != "" && c.Counterpart.BundleEndpointID.IsZero() && c.Counterpart.Bundle == ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(WorkloadAPISocketEnv, tt.env)
			c, err := Parse([]byte(tt.in), "/srv")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected config: %+v", c)
			}
		})
	}
}

func TestParseIdentityBad(t *testing.T) {
	const sock = "unix:///run/spire/sockets/agent.sock"
	const cpBundle = "  bundle: /etc/focalpoint/kh/bundle.pem\n"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"socket and files", withIdentity(t, fileIdentity+"  workload_api_socket: "+sock+"\n"),
			[]string{"identity.workload_api_socket and identity.svid_cert, identity.svid_key, identity.bundle are mutually exclusive"}},
		{"socket and one file key", withIdentity(t, "identity:\n  bundle: b.pem\n  workload_api_socket: "+sock+"\n"),
			[]string{"identity.workload_api_socket and identity.bundle are mutually exclusive"}},
		{"files half set", withIdentity(t, "identity:\n  svid_cert: c.pem\n"),
			[]string{"identity.svid_key, identity.bundle must be set along with identity.svid_cert"}},
		{"nothing, no environment", withIdentity(t, ""),
			[]string{"identity.svid_cert", "identity.workload_api_socket", WorkloadAPISocketEnv}},
		{"relative socket", withIdentity(t, "identity:\n  workload_api_socket: unix://run/agent.sock\n"), []string{"identity.workload_api_socket", "absolute"}},
		{"socket without scheme", withIdentity(t, "identity:\n  workload_api_socket: /run/agent.sock\n"), []string{"identity.workload_api_socket", "unix:///"}},
		{"tcp by name", withIdentity(t, "identity:\n  workload_api_socket: tcp://localhost:8081\n"), []string{"identity.workload_api_socket", "IP address"}},
		{"socket path too long", withIdentity(t, "identity:\n  workload_api_socket: unix:///"+strings.Repeat("x", 120)+"\n"), []string{"identity.workload_api_socket", "longer"}},
		{"negative reload", withIdentity(t, fileIdentity+"  reload_interval: -1s\n"), []string{"identity.reload_interval"}},
		{"files without the counterpart's bundle", withIdentity(t, fileIdentity, cpBundle, ""), []string{"counterpart.bundle must be set"}},
		{"endpoint ID without URL", withIdentity(t, fileIdentity, cpBundle, cpBundle+"  bundle_endpoint_spiffe_id: spiffe://immigration.gov.kh/spire/server\n"),
			[]string{"counterpart.bundle_endpoint_url is not"}},
		{"endpoint ID of the wrong trust domain", withIdentity(t, fileIdentity, cpBundle, cpBundle+"  bundle_endpoint_url: https://x:8443\n  bundle_endpoint_spiffe_id: spiffe://imigrasi.go.id/spire/server\n"),
			[]string{"counterpart.bundle_endpoint_spiffe_id", "not in the counterpart's trust domain"}},
		{"endpoint not https", withIdentity(t, fileIdentity, cpBundle, cpBundle+"  bundle_endpoint_url: http://x:8443\n"),
			[]string{"counterpart.bundle_endpoint_url", "https://"}},
		{"https_spiffe with files and no first bundle", withIdentity(t, fileIdentity, cpBundle, "  bundle_endpoint_url: https://x:8443\n  bundle_endpoint_spiffe_id: spiffe://immigration.gov.kh/spire/server\n"),
			[]string{"counterpart.bundle must be set with counterpart.bundle_endpoint_spiffe_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(WorkloadAPISocketEnv, "")
			_, err := Parse([]byte(tt.in), "/srv")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
