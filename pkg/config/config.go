// Package config loads a node's configuration: one YAML file, decoded strictly,
// validated once, and turned into typed values at the edge.
//
// Unknown keys are errors (a misspelt key silently ignored is a node running
// with a setting nobody chose), every message names the key, and relative paths
// are resolved against the config file's directory so a config works from any
// working directory.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"sigs.k8s.io/yaml"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("config: invalid")

// Defaults for keys a config may leave out.
const (
	DefaultMaxMessageBytes = 256 << 10
	DefaultClockSkew       = 10 * time.Minute
	DefaultMaxMessageAge   = 30 * 24 * time.Hour
	// The answer times follow EU practice for requests between law-enforcement
	// bodies: eight hours when urgent, seven days otherwise.
	DefaultUrgentDeadline  = 8 * time.Hour
	DefaultNormalDeadline  = 7 * 24 * time.Hour
	DefaultDeliveryWorkers = 8
	DefaultDeliveryBatch   = 64
	// MaxDeliveryBatch is the most envelopes the peer API takes in one call.
	MaxDeliveryBatch        = 256
	DefaultInitialBackoff   = 200 * time.Millisecond
	DefaultMaxBackoff       = 30 * time.Second
	DefaultAttemptTimeout   = 10 * time.Second
	DefaultOutboxLimit      = 100_000
	DefaultShutdownGrace    = 10 * time.Second
	DefaultLocalSocketName  = "focal.sock"
	DefaultLedgerFileName   = "ledger.db"
	maxUnixSocketPathLength = 104 // the smallest sun_path of the platforms we run on, less the NUL
)

// File is the YAML file as written. Field names are the keys.
type File struct {
	Node        NodeFile        `json:"node,omitempty"`
	Identity    IdentityFile    `json:"identity,omitempty"`
	Counterpart CounterpartFile `json:"counterpart,omitempty"`
	Peer        PeerFile        `json:"peer,omitempty"`
	Local       LocalFile       `json:"local,omitempty"`
	Delivery    DeliveryFile    `json:"delivery,omitempty"`
	Limits      LimitsFile      `json:"limits,omitempty"`
	Deadlines   DeadlinesFile   `json:"deadlines,omitempty"`
	Metrics     MetricsFile     `json:"metrics,omitempty"`
	Health      HealthFile      `json:"health,omitempty"`
	Log         LogFile         `json:"log,omitempty"`
}

// NodeFile is who this node is and where it keeps its state.
type NodeFile struct {
	Agency      string `json:"agency,omitempty"`
	SpiffeID    string `json:"spiffe_id,omitempty"`
	StateDir    string `json:"state_dir,omitempty"`
	MessagesKey string `json:"messages_key,omitempty"`
	LogKey      string `json:"log_key,omitempty"`
}

// IdentityFile is where the node's X.509-SVID comes from: files
// (svid_cert, svid_key, bundle) or the SPIFFE Workload API
// (workload_api_socket), never both. See identity.go for the rules.
type IdentityFile struct {
	SVIDCert          string   `json:"svid_cert,omitempty"`
	SVIDKey           string   `json:"svid_key,omitempty"`
	Bundle            string   `json:"bundle,omitempty"`
	WorkloadAPISocket string   `json:"workload_api_socket,omitempty"`
	ReloadInterval    Duration `json:"reload_interval,omitempty"`
}

// CounterpartFile is the one node this node talks to.
type CounterpartFile struct {
	Agency      string `json:"agency,omitempty"`
	SpiffeID    string `json:"spiffe_id,omitempty"`
	Address     string `json:"address,omitempty"`
	Bundle      string `json:"bundle,omitempty"`
	MessagesKey string `json:"messages_key,omitempty"`
	LogKey      string `json:"log_key,omitempty"`
	// BundleEndpointURL and BundleEndpointSpiffeID: see identity.go.
	BundleEndpointURL      string `json:"bundle_endpoint_url,omitempty"`
	BundleEndpointSpiffeID string `json:"bundle_endpoint_spiffe_id,omitempty"`
}

// PeerFile is the node-to-node listener.
type PeerFile struct {
	Listen string `json:"listen,omitempty"`
}

// LocalFile is the local API listener.
type LocalFile struct {
	Socket string `json:"socket,omitempty"`
	Listen string `json:"listen,omitempty"`
	// Roles gives SPIFFE IDs of this trust domain their role on local.listen:
	// officer, supervisor or auditor. Other IDs are admitted by TLS and may do
	// nothing.
	Roles map[string][]string `json:"roles,omitempty"`
	// SocketRole is the role of callers on the unix socket; supervisor by default.
	SocketRole string `json:"socket_role,omitempty"`
}

// DeliveryFile tunes the delivery loop.
type DeliveryFile struct {
	Workers        int      `json:"workers,omitempty"`
	Batch          int      `json:"batch,omitempty"`
	InitialBackoff Duration `json:"initial_backoff,omitempty"`
	MaxBackoff     Duration `json:"max_backoff,omitempty"`
	AttemptTimeout Duration `json:"attempt_timeout,omitempty"`
	OutboxLimit    int      `json:"outbox_limit,omitempty"`
}

// LimitsFile bounds what the node accepts.
type LimitsFile struct {
	MaxMessageBytes int      `json:"max_message_bytes,omitempty"`
	ClockSkew       Duration `json:"clock_skew,omitempty"`
	MaxMessageAge   Duration `json:"max_message_age,omitempty"`
}

// DeadlinesFile sets the link's agreed answer times for alerts and referrals.
type DeadlinesFile struct {
	Urgent Duration `json:"urgent,omitempty"`
	Normal Duration `json:"normal,omitempty"`
}

// MetricsFile is the Prometheus listener.
type MetricsFile struct {
	Listen string `json:"listen,omitempty"`
}

// HealthFile is a plaintext listener serving only the gRPC health service,
// for probes (a kubelet's gRPC probe speaks no mutual TLS).
type HealthFile struct {
	Listen string `json:"listen,omitempty"`
}

// LogFile sets up logging.
type LogFile struct {
	Level  string `json:"level,omitempty"`
	Format string `json:"format,omitempty"`
}

// Roles are the roles a local API caller may have.
var Roles = []string{"officer", "supervisor", "auditor"}

// Duration is a time.Duration written as "30s" or "5m".
type Duration time.Duration

// badDuration marks a value that did not parse, so that validation can name
// the key: the JSON decoder does not say which key a custom type failed in.
const badDuration = Duration(math.MinInt64)

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := time.ParseDuration(strings.Trim(string(b), `"`))
	if err != nil {
		*d = badDuration
		return nil
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// Config is a validated configuration with typed values and absolute paths.
type Config struct {
	// Path is the file it came from.
	Path string

	Agency      string
	ID          spiffeid.ID
	StateDir    string
	LedgerPath  string
	MessagesKey string
	LogKey      string

	// SVIDCert, SVIDKey and Bundle are set for an identity from files;
	// WorkloadAPISocket instead for one from the SPIFFE Workload API.
	SVIDCert, SVIDKey, Bundle string
	WorkloadAPISocket         string
	// IdentityReloadInterval is how often identity files (the SVID's and
	// every bundle file) are checked for changes.
	IdentityReloadInterval time.Duration

	Counterpart Counterpart

	PeerListen string

	LocalSocket string
	LocalListen string
	// LocalAllowed lists every SPIFFE ID given a role, for display.
	LocalAllowed []spiffeid.ID
	// LocalRoles is each SPIFFE ID's role on local.listen.
	LocalRoles map[spiffeid.ID]string
	// SocketRole is the role of callers on the unix socket.
	SocketRole string

	MetricsListen string
	HealthListen  string

	Workers        int
	Batch          int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	AttemptTimeout time.Duration
	OutboxLimit    int

	MaxMessageBytes int
	ClockSkew       time.Duration
	MaxMessageAge   time.Duration

	UrgentDeadline, NormalDeadline time.Duration

	LogLevel  slog.Level
	LogFormat string
}

// Counterpart is the other node.
type Counterpart struct {
	Agency  string
	ID      spiffeid.ID
	Address string
	// Bundle is the counterpart's bundle file; empty when the bundle comes
	// only from the Workload API or the bundle endpoint.
	Bundle      string
	MessagesKey string
	LogKey      string
	// BundleEndpointURL, if set, is the counterpart's SPIFFE bundle endpoint,
	// and BundleEndpointID the SPIFFE ID it presents (https_spiffe; zero for
	// https_web).
	BundleEndpointURL string
	BundleEndpointID  spiffeid.ID
}

// LedgerName is the ledger's name in checkpoints and CONFIG entries, e.g.
// "imigrasi.go.id/focalpoint/ledger".
func (c *Config) LedgerName() string {
	return c.ID.TrustDomain().Name() + "/focalpoint/ledger"
}

// CounterpartLedgerName is the counterpart's ledger name, the origin of its
// checkpoints.
func (c *Config) CounterpartLedgerName() string {
	return c.Counterpart.ID.TrustDomain().Name() + "/focalpoint/ledger"
}

// Load reads, decodes and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Path = abs
	return cfg, nil
}

// Write writes f as a YAML config file, e.g. for a generated dev setup. It
// validates first, so what is written loads.
func Write(path string, f *File) error {
	if _, err := f.validate(filepath.Dir(path)); err != nil {
		return err
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Parse decodes and validates YAML; relative paths are taken from dir.
func Parse(data []byte, dir string) (*Config, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, cleanDecodeError(err))
	}
	return f.validate(dir)
}

// cleanDecodeError drops the decoder's layers of "error unmarshaling JSON"
// so the message leads with the key.
func cleanDecodeError(err error) string {
	s := err.Error()
	for _, p := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (f *File) validate(dir string) (*Config, error) {
	var p problems
	path := func(key, v string) string {
		if v == "" {
			p.addf("%s must be set", key)
			return ""
		}
		if filepath.IsAbs(v) {
			return filepath.Clean(v)
		}
		return filepath.Join(dir, v)
	}
	id := func(key, v string) spiffeid.ID {
		if v == "" {
			p.addf("%s must be set", key)
			return spiffeid.ID{}
		}
		x, err := spiffeid.FromString(v)
		if err != nil {
			p.addf("%s: %q is not a SPIFFE ID: %v", key, v, err)
		}
		return x
	}
	address := func(key, v string, required bool) string {
		if v == "" {
			if required {
				p.addf("%s must be set (host:port)", key)
			}
			return ""
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			p.addf("%s: %q is not host:port: %v", key, v, err)
		}
		return v
	}
	agency := func(key, v string) string {
		if !validAgency(v) {
			p.addf("%s: %q is not an agency code like ID-DJI", key, v)
		}
		return v
	}
	positive := func(key string, v, def int) int {
		switch {
		case v < 0:
			p.addf("%s must not be negative", key)
		case v == 0:
			return def
		}
		return v
	}
	duration := func(key string, v Duration, def time.Duration) time.Duration {
		switch {
		case v == badDuration:
			p.addf("%s is not a duration (e.g. 30s, 5m, 8h)", key)
		case v < 0:
			p.addf("%s must not be negative", key)
		case v == 0:
			return def
		}
		return time.Duration(v)
	}

	c := &Config{
		Agency:      agency("node.agency", f.Node.Agency),
		ID:          id("node.spiffe_id", f.Node.SpiffeID),
		StateDir:    path("node.state_dir", f.Node.StateDir),
		MessagesKey: path("node.messages_key", f.Node.MessagesKey),
		LogKey:      path("node.log_key", f.Node.LogKey),
		Counterpart: Counterpart{
			Agency:      agency("counterpart.agency", f.Counterpart.Agency),
			ID:          id("counterpart.spiffe_id", f.Counterpart.SpiffeID),
			Address:     address("counterpart.address", f.Counterpart.Address, true),
			MessagesKey: path("counterpart.messages_key", f.Counterpart.MessagesKey),
			LogKey:      path("counterpart.log_key", f.Counterpart.LogKey),
		},
		PeerListen:      address("peer.listen", f.Peer.Listen, true),
		LocalListen:     address("local.listen", f.Local.Listen, false),
		MetricsListen:   address("metrics.listen", f.Metrics.Listen, false),
		HealthListen:    address("health.listen", f.Health.Listen, false),
		Workers:         positive("delivery.workers", f.Delivery.Workers, DefaultDeliveryWorkers),
		Batch:           positive("delivery.batch", f.Delivery.Batch, DefaultDeliveryBatch),
		InitialBackoff:  duration("delivery.initial_backoff", f.Delivery.InitialBackoff, DefaultInitialBackoff),
		MaxBackoff:      duration("delivery.max_backoff", f.Delivery.MaxBackoff, DefaultMaxBackoff),
		AttemptTimeout:  duration("delivery.attempt_timeout", f.Delivery.AttemptTimeout, DefaultAttemptTimeout),
		OutboxLimit:     positive("delivery.outbox_limit", f.Delivery.OutboxLimit, DefaultOutboxLimit),
		MaxMessageBytes: positive("limits.max_message_bytes", f.Limits.MaxMessageBytes, DefaultMaxMessageBytes),
		ClockSkew:       duration("limits.clock_skew", f.Limits.ClockSkew, DefaultClockSkew),
		MaxMessageAge:   duration("limits.max_message_age", f.Limits.MaxMessageAge, DefaultMaxMessageAge),
		UrgentDeadline:  duration("deadlines.urgent", f.Deadlines.Urgent, DefaultUrgentDeadline),
		NormalDeadline:  duration("deadlines.normal", f.Deadlines.Normal, DefaultNormalDeadline),
		LogFormat:       f.Log.Format,
	}
	f.validateIdentity(c, &p, path)
	if c.StateDir != "" {
		c.LedgerPath = filepath.Join(c.StateDir, DefaultLedgerFileName)
		c.LocalSocket = filepath.Join(c.StateDir, DefaultLocalSocketName)
	}
	if f.Local.Socket != "" {
		c.LocalSocket = path("local.socket", f.Local.Socket)
	}
	if len(c.LocalSocket) > maxUnixSocketPathLength {
		p.addf("local.socket: path %q is longer than %d bytes, the limit for unix sockets", c.LocalSocket, maxUnixSocketPathLength)
	}
	if c.MaxBackoff < c.InitialBackoff {
		p.addf("delivery.max_backoff (%s) must not be less than delivery.initial_backoff (%s)", c.MaxBackoff, c.InitialBackoff)
	}
	if c.Batch > MaxDeliveryBatch {
		p.addf("delivery.batch must be at most %d, the most the counterpart takes in one call", MaxDeliveryBatch)
	}
	if c.MaxMessageBytes > 4<<20 {
		p.addf("limits.max_message_bytes must be at most 4 MiB")
	}
	if !c.ID.IsZero() && !c.Counterpart.ID.IsZero() {
		if c.ID.TrustDomain() == c.Counterpart.ID.TrustDomain() {
			p.addf("counterpart.spiffe_id must be in another trust domain than node.spiffe_id")
		}
	}
	if c.Agency != "" && c.Agency == c.Counterpart.Agency {
		p.addf("counterpart.agency must differ from node.agency")
	}
	c.LocalRoles = map[spiffeid.ID]string{}
	for _, role := range slices.Sorted(maps.Keys(f.Local.Roles)) {
		if !slices.Contains(Roles, role) {
			p.addf("local.roles: %q is not a role (%s)", role, strings.Join(Roles, ", "))
			continue
		}
		for i, s := range f.Local.Roles[role] {
			key := fmt.Sprintf("local.roles.%s[%d]", role, i)
			x := id(key, s)
			if x.IsZero() {
				continue
			}
			if !c.ID.IsZero() && x.TrustDomain() != c.ID.TrustDomain() {
				p.addf("%s: %s is not in this node's trust domain %s", key, x, c.ID.TrustDomain())
			}
			if prev, dup := c.LocalRoles[x]; dup {
				p.addf("%s: %s already has the role %s", key, x, prev)
			}
			c.LocalRoles[x] = role
			c.LocalAllowed = append(c.LocalAllowed, x)
		}
	}
	if c.LocalListen != "" && len(c.LocalRoles) == 0 {
		p.addf("local.roles must give at least one SPIFFE ID a role when local.listen is set")
	}
	c.SocketRole = f.Local.SocketRole
	switch {
	case c.SocketRole == "":
		c.SocketRole = "supervisor"
	case !slices.Contains(Roles, c.SocketRole):
		p.addf("local.socket_role: %q is not a role (%s)", c.SocketRole, strings.Join(Roles, ", "))
	}
	switch strings.ToLower(f.Log.Level) {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		p.addf("log.level: %q is not one of debug, info, warn, error", f.Log.Level)
	}
	switch f.Log.Format {
	case "", "json", "text":
	default:
		p.addf("log.format: %q is not json or text", f.Log.Format)
	}
	if len(p) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(p, "; "))
	}
	return c, nil
}

func validAgency(s string) bool {
	i := strings.IndexByte(s, '-')
	if i != 2 || len(s) < 5 || len(s) > 13 {
		return false
	}
	for j, r := range s {
		switch {
		case j == 2:
		case j < 2 && r >= 'A' && r <= 'Z':
		case j > 2 && (r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}
