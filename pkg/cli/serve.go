package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"golang.org/x/term"
	"sigs.k8s.io/yaml"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

func newServeCmd() *cobra.Command {
	var cf configFlag
	var check bool
	c := &cobra.Command{
		Use:   "serve --config FILE [--check-config]",
		Short: "Run a node, or check its config and print the effective settings",
		Long: `Run a node until SIGTERM or Ctrl-C.

With --check-config, load the config and everything it names the way the node
would (SVID, trust bundles, signing keys, the counterpart's keys), print every
setting with defaults filled in and paths made absolute, as YAML, and exit: 0
if the node would start with it, non-zero with the offending key named if not.
It opens no port and does not touch the ledger, so it may run beside the node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			if check {
				checked, err := checkConfig(cmd.Context(), cfg, time.Now())
				if err != nil {
					return err
				}
				return writeEffective(cmd.OutOrStdout(), cfg, checked)
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			// A node's live heap is small and it allocates per message; the
			// garbage collector at its default setting took a tenth of its CPU.
			// GOGC and GOMEMLIMIT in the environment still rule.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(nodeGCPercent)
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(nodeMemoryLimit)
			}
			n, err := node.New(cmd.Context(), cfg, node.Options{Logger: log})
			if err != nil {
				return err
			}
			return n.Run(cmd.Context())
		},
	}
	cf.register(c)
	c.Flags().BoolVar(&check, "check-config", false, "check the config and the files it names, print the effective settings, and exit")
	return c
}

// newLogger logs JSON unless the format is set to text, or left unset and the
// output is a terminal.
func newLogger(cfg *config.Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// checked is what checkConfig found in the files a config names.
type checked struct {
	svidID       spiffeid.ID
	svidExpiry   time.Time
	identityFrom string
	peerBundle   string // where the counterpart's bundle comes from
	signerKey    string // the node's verifier keys, as `keys show` prints them
	peerKey      string
	logKey       string
	peerLogKey   string
	ledgerState  string
}

// checkWorkloadAPIWait bounds the wait for an SVID from the Workload API.
// The node itself waits longer at start (a minute); a person running the
// check should not.
const checkWorkloadAPIWait = 15 * time.Second

// checkConfig loads what node.New loads, in the same way, and says which key
// is wrong when something is: the SVID (from files or the Workload API) and
// the node's own bundle, the counterpart's bundle file if one is set, the
// signing and log keys, the counterpart's keys. It also checks what would
// show only later in a running node: that the SVID is valid now and chains to
// the node's own bundle (else the counterpart refuses every handshake). It
// fetches nothing from the counterpart's bundle endpoint.
//
// TODO(node): this belongs beside node.New (a node.Check(ctx, cfg) that New
// calls too), so the two cannot drift; pkg/node was being changed by someone
// else when this was written.
func checkConfig(ctx context.Context, cfg *config.Config, now time.Time) (*checked, error) {
	fail := func(key string, err error) error { return fmt.Errorf("%s: %s: %w", cfg.Path, key, err) }
	files := []struct{ key, path string }{
		{"node.messages_key", cfg.MessagesKey},
		{"node.log_key", cfg.LogKey},
		{"counterpart.messages_key", cfg.Counterpart.MessagesKey},
		{"counterpart.log_key", cfg.Counterpart.LogKey},
	}
	if cfg.WorkloadAPISocket == "" {
		files = append(files, []struct{ key, path string }{
			{"identity.svid_cert", cfg.SVIDCert},
			{"identity.svid_key", cfg.SVIDKey},
			{"identity.bundle", cfg.Bundle},
		}...)
	}
	if cfg.Counterpart.Bundle != "" {
		files = append(files, struct{ key, path string }{"counterpart.bundle", cfg.Counterpart.Bundle})
	}
	for _, f := range files {
		if _, err := os.ReadFile(f.path); err != nil {
			return nil, fail(f.key, err)
		}
	}
	c := checked{identityFrom: cfg.IdentitySource()}
	own, peer := cfg.ID.TrustDomain(), cfg.Counterpart.ID.TrustDomain()

	var (
		svid      *x509svid.SVID
		ownBundle *x509bundle.Bundle
		svidKey   string // the key to name when the SVID is wrong
		err       error
	)
	if cfg.WorkloadAPISocket != "" {
		svidKey = "identity.workload_api_socket"
		wctx, cancel := context.WithTimeout(ctx, checkWorkloadAPIWait)
		ws, err := identity.NewWorkloadSource(wctx, identity.WorkloadOptions{Addr: cfg.WorkloadAPISocket, ID: cfg.ID})
		cancel()
		if err != nil {
			return nil, fail(svidKey, fmt.Errorf("no SVID for %s from the Workload API at %s within %s (is the SPIRE agent running, and is there a registration entry for this process?): %w",
				cfg.ID, cfg.WorkloadAPISocket, checkWorkloadAPIWait, err))
		}
		defer ws.Close()
		if svid, err = ws.GetX509SVID(); err != nil {
			return nil, fail(svidKey, err)
		}
		if ownBundle, err = ws.GetX509BundleForTrustDomain(own); err != nil {
			return nil, fail(svidKey, fmt.Errorf("the Workload API sends no bundle of %s: %w", own, err))
		}
		c.peerBundle = "the Workload API's federated bundle"
		if cfg.Counterpart.Bundle == "" && cfg.Counterpart.BundleEndpointURL == "" {
			if _, err := ws.GetX509BundleForTrustDomain(peer); err != nil {
				return nil, fail("counterpart.bundle", fmt.Errorf("not set, and the Workload API sends no bundle of %s (does the registration entry federate with it?)", peer))
			}
		}
	} else {
		svidKey = "identity.svid_cert"
		if svid, err = x509svid.Load(cfg.SVIDCert, cfg.SVIDKey); err != nil {
			return nil, fail("identity.svid_cert, identity.svid_key", err)
		}
		if ownBundle, err = x509bundle.Load(own, cfg.Bundle); err != nil {
			return nil, fail("identity.bundle", err)
		}
	}
	if svid.ID != cfg.ID {
		return nil, fail(svidKey, fmt.Errorf("the SVID is %s, but node.spiffe_id is %s", svid.ID, cfg.ID))
	}
	if _, _, err := x509svid.Verify(svid.Certificates, ownBundle, x509svid.WithTime(now)); err != nil {
		return nil, fail(svidKey, fmt.Errorf("the SVID does not verify against this trust domain's bundle (identity.bundle) now (expired, not yet valid, or another CA): %w", err))
	}
	if cfg.WorkloadAPISocket == "" {
		// And the way node.New reads them, in case it checks more.
		bundles := map[spiffeid.TrustDomain]string{own: cfg.Bundle}
		if cfg.Counterpart.Bundle != "" {
			bundles[peer] = cfg.Counterpart.Bundle
		}
		if _, err := identity.LoadFiles(identity.Files{Cert: cfg.SVIDCert, Key: cfg.SVIDKey, Bundles: bundles}); err != nil {
			return nil, fail("identity", err)
		}
	}
	c.svidID, c.svidExpiry = svid.ID, svid.Certificates[0].NotAfter
	if cfg.Counterpart.Bundle != "" {
		if _, err := x509bundle.Load(peer, cfg.Counterpart.Bundle); err != nil {
			return nil, fail("counterpart.bundle", err)
		}
		c.peerBundle = "file " + cfg.Counterpart.Bundle
	}
	if cfg.Counterpart.BundleEndpointURL != "" {
		c.peerBundle = "bundle endpoint " + cfg.Counterpart.BundleEndpointURL + " (not fetched by this check), until then " + c.peerBundle
	}

	signer, err := keys.LoadSigner(cfg.MessagesKey)
	if err != nil {
		return nil, fail("node.messages_key", err)
	}
	peerKey, peerVKey, err := keys.LoadVerifier(cfg.Counterpart.MessagesKey)
	if err != nil {
		return nil, fail("counterpart.messages_key", err)
	}
	if signer.Name() == peerKey.Name() && signer.KeyHash() == peerKey.KeyHash() {
		return nil, fail("counterpart.messages_key", errors.New("this is the node's own key, not the counterpart's"))
	}
	c.signerKey, c.peerKey = signer.VerifierKey(), peerVKey

	logSigner, err := keys.LoadSigner(cfg.LogKey)
	if err != nil {
		return nil, fail("node.log_key", err)
	}
	peerLogKey, peerLogVKey, err := keys.LoadVerifier(cfg.Counterpart.LogKey)
	if err != nil {
		return nil, fail("counterpart.log_key", err)
	}
	if logSigner.Name() == peerLogKey.Name() && logSigner.KeyHash() == peerLogKey.KeyHash() {
		return nil, fail("counterpart.log_key", errors.New("this is the node's own key, not the counterpart's"))
	}
	c.logKey, c.peerLogKey = logSigner.VerifierKey(), peerLogVKey

	switch fi, err := os.Stat(cfg.StateDir); {
	case errors.Is(err, fs.ErrNotExist):
		c.ledgerState = "the node creates it"
	case err != nil:
		return nil, fail("node.state_dir", err)
	case !fi.IsDir():
		return nil, fail("node.state_dir", fmt.Errorf("%s is not a directory", cfg.StateDir))
	default:
		if _, err := os.Stat(cfg.LedgerPath); err == nil {
			c.ledgerState = "exists"
		} else {
			c.ledgerState = "the node creates it"
		}
	}
	return &c, nil
}

// setting is one key of the config file with its effective value.
type setting struct {
	key   string
	value any
	// unset says what a value left out of the file means, e.g. "off".
	unset string
}

// effective lists every key of the config file, in config.File's order, with
// its value in cfg. TestCheckConfigPrintsEffectiveSettings fails when a key of
// config.File is missing here: a new key must be added here too.
func effective(cfg *config.Config) []struct {
	section  string
	settings []setting
} {
	roles := map[string][]string{}
	for _, id := range cfg.LocalAllowed { // in the file's order
		roles[cfg.LocalRoles[id]] = append(roles[cfg.LocalRoles[id]], id.String())
	}
	const noFiles = "none: the SVID comes from the Workload API"
	endpointID := ""
	if !cfg.Counterpart.BundleEndpointID.IsZero() {
		endpointID = cfg.Counterpart.BundleEndpointID.String()
	}
	d := func(v time.Duration) string { return v.String() }
	format := cfg.LogFormat
	return []struct {
		section  string
		settings []setting
	}{
		{"node", []setting{
			{key: "agency", value: cfg.Agency},
			{key: "spiffe_id", value: cfg.ID.String()},
			{key: "state_dir", value: cfg.StateDir},
			{key: "messages_key", value: cfg.MessagesKey},
			{key: "log_key", value: cfg.LogKey},
		}},
		{"identity", []setting{
			{key: "svid_cert", value: cfg.SVIDCert, unset: noFiles},
			{key: "svid_key", value: cfg.SVIDKey, unset: noFiles},
			{key: "bundle", value: cfg.Bundle, unset: noFiles},
			{key: "workload_api_socket", value: cfg.WorkloadAPISocket, unset: "$" + config.WorkloadAPISocketEnv + " when no identity files are set"},
			{key: "reload_interval", value: d(cfg.IdentityReloadInterval)},
		}},
		{"counterpart", []setting{
			{key: "agency", value: cfg.Counterpart.Agency},
			{key: "spiffe_id", value: cfg.Counterpart.ID.String()},
			{key: "address", value: cfg.Counterpart.Address},
			{key: "bundle", value: cfg.Counterpart.Bundle, unset: "none: from the Workload API or the bundle endpoint"},
			{key: "messages_key", value: cfg.Counterpart.MessagesKey},
			{key: "log_key", value: cfg.Counterpart.LogKey},
			{key: "bundle_endpoint_url", value: cfg.Counterpart.BundleEndpointURL, unset: "none"},
			{key: "bundle_endpoint_spiffe_id", value: endpointID, unset: "none (https_web)"},
		}},
		{"peer", []setting{
			{key: "listen", value: cfg.PeerListen},
		}},
		{"local", []setting{
			{key: "socket", value: cfg.LocalSocket, unset: "<state_dir>/" + config.DefaultLocalSocketName},
			{key: "listen", value: cfg.LocalListen, unset: "off"},
			{key: "roles", value: roles, unset: "none"},
			{key: "socket_role", value: cfg.SocketRole},
		}},
		{"delivery", []setting{
			{key: "workers", value: cfg.Workers},
			{key: "batch", value: cfg.Batch},
			{key: "initial_backoff", value: d(cfg.InitialBackoff)},
			{key: "max_backoff", value: d(cfg.MaxBackoff)},
			{key: "attempt_timeout", value: d(cfg.AttemptTimeout)},
			{key: "outbox_limit", value: cfg.OutboxLimit},
		}},
		{"limits", []setting{
			{key: "max_message_bytes", value: cfg.MaxMessageBytes},
			{key: "clock_skew", value: d(cfg.ClockSkew)},
			{key: "max_message_age", value: d(cfg.MaxMessageAge)},
		}},
		{"deadlines", []setting{
			{key: "urgent", value: d(cfg.UrgentDeadline)},
			{key: "normal", value: d(cfg.NormalDeadline)},
		}},
		{"metrics", []setting{
			{key: "listen", value: cfg.MetricsListen, unset: "off"},
		}},
		{"health", []setting{
			{key: "listen", value: cfg.HealthListen, unset: "off"},
		}},
		{"log", []setting{
			{key: "level", value: strings.ToLower(cfg.LogLevel.String())},
			{key: "format", value: format, unset: "json, or text when stderr is a terminal"},
		}},
	}
}

// writeEffective prints the effective settings as YAML that loads as the same
// config: each value as JSON (YAML 1.2 is a superset of it, so quoting is
// never wrong), in a fixed order, with "# default" beside each value the file
// left out. What checkConfig found follows as comments.
func writeEffective(w io.Writer, cfg *config.Config, c *checked) error {
	set, err := keysSet(cfg.Path)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# focalpoint serve --check-config: %s is valid.\n", cfg.Path)
	fmt.Fprintf(&b, "# Every key with its effective value; paths are absolute; \"# default\" marks a key the file leaves out.\n")
	for _, s := range effective(cfg) {
		fmt.Fprintf(&b, "%s:\n", s.section)
		for _, kv := range s.settings {
			v, err := jsonValue(kv.value)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "  %s: %s", kv.key, v)
			if !set[s.section+"."+kv.key] {
				b.WriteString("  # default")
				if kv.unset != "" {
					b.WriteString(": " + kv.unset)
				}
			}
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "# Checked:\n")
	fmt.Fprintf(&b, "#   SVID %s from %s, valid until %s, chains to its trust domain's bundle\n", c.svidID, c.identityFrom, c.svidExpiry.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "#   the counterpart's bundle from %s\n", c.peerBundle)
	fmt.Fprintf(&b, "#   node.messages_key signs as %s\n", c.signerKey)
	fmt.Fprintf(&b, "#   counterpart.messages_key is %s\n", c.peerKey)
	fmt.Fprintf(&b, "#   node.log_key signs as %s\n", c.logKey)
	fmt.Fprintf(&b, "#   counterpart.log_key is %s\n", c.peerLogKey)
	fmt.Fprintf(&b, "#   ledger %s: %s\n", cfg.LedgerPath, c.ledgerState)
	_, err = w.Write(b.Bytes())
	return err
}

func jsonValue(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// keysSet returns the keys ("section.key") the config file at path sets. The
// file has been validated already, so it decodes.
func keysSet(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var f config.File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	set := map[string]bool{}
	fv := reflect.ValueOf(f)
	for i := range fv.NumField() {
		section := jsonName(fv.Type().Field(i))
		sv := fv.Field(i)
		for j := range sv.NumField() {
			if !sv.Field(j).IsZero() {
				set[section+"."+jsonName(sv.Type().Field(j))] = true
			}
		}
	}
	return set, nil
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// nodeGCPercent lets a node's heap grow to five times its live set before
// collecting: measured in BENCHMARKS.md, 6–14% less CPU a message for a few
// tens of MiB.
const nodeGCPercent = 400

// nodeMemoryLimit is where the collector stops letting the heap grow to five
// times its live set and collects more often instead. Under a backlog the
// live heap is 10–25 MiB, so at 400 % the heap alone would reach 100 MiB;
// with this limit it stays near 60 MiB for a few percent more CPU (measured
// in BENCHMARKS.md). It is a soft limit: a larger live heap is still served.
const nodeMemoryLimit = 64 << 20
