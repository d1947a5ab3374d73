package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// WorkloadOptions say how to reach the SPIFFE Workload API and which of the
// SVIDs it offers is the node's.
type WorkloadOptions struct {
	// Addr is the Workload API's address, e.g.
	// unix:///run/spire/sockets/agent.sock. Empty means the
	// SPIFFE_ENDPOINT_SOCKET environment variable.
	Addr string
	// ID is the node's SPIFFE ID. A workload may be registered under several
	// entries and get several SVIDs; the one with this ID is used, and an
	// update without it keeps the SVID the source had (and logs an error).
	ID spiffeid.ID
	// Logger receives rotations and the Workload API client's own errors; nil
	// discards.
	Logger *slog.Logger
}

// WorkloadSource serves the SVID and bundles that the SPIFFE Workload API
// (a SPIRE agent) streams to this workload, kept current as the agent rotates
// them. It serves every bundle the agent sends, federated ones included:
// wrap it in a Trust (as Combined does) to accept only the node's two trust
// domains.
type WorkloadSource struct {
	x   *workloadapi.X509Source
	log *slog.Logger

	mu      sync.Mutex
	current *x509svid.SVID
	offered []string // the IDs of the last update, for error messages
}

var _ Source = (*WorkloadSource)(nil)

// NewWorkloadSource connects to the Workload API and waits (until ctx ends)
// for the first SVID with opts.ID. Close it when done.
func NewWorkloadSource(ctx context.Context, opts WorkloadOptions) (*WorkloadSource, error) {
	w := &WorkloadSource{log: logger(opts.Logger)}
	clientOpts := []workloadapi.ClientOption{workloadapi.WithLogger(spiffeLogger{w.log})}
	addr := opts.Addr
	if addr == "" {
		addr, _ = workloadapi.GetDefaultAddress()
	}
	if addr == "" {
		return nil, fmt.Errorf("identity: no Workload API address: set one or %s", workloadapi.SocketEnv)
	}
	clientOpts = append(clientOpts, workloadapi.WithAddr(addr))
	x, err := workloadapi.NewX509Source(ctx,
		workloadapi.WithClientOptions(clientOpts...),
		workloadapi.WithDefaultX509SVIDPicker(func(svids []*x509svid.SVID) *x509svid.SVID { return w.pick(opts.ID, svids) }),
	)
	if err != nil {
		return nil, fmt.Errorf("identity: Workload API at %s: %w", addr, err)
	}
	w.x = x
	if _, err := x.GetX509SVID(); err != nil {
		w.mu.Lock()
		offered := strings.Join(w.offered, ", ")
		w.mu.Unlock()
		return nil, errors.Join(
			fmt.Errorf("%w: the Workload API at %s offers no SVID for %s (it offers [%s]); check the registration entry",
				ErrWrongID, addr, opts.ID, offered),
			x.Close())
	}
	return w, nil
}

// pick chooses the node's SVID from an update, and logs a rotation. go-spiffe
// calls it from its one watch goroutine, once per update.
func (w *WorkloadSource) pick(id spiffeid.ID, svids []*x509svid.SVID) *x509svid.SVID {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.offered = w.offered[:0]
	var found *x509svid.SVID
	for _, s := range svids {
		w.offered = append(w.offered, s.ID.String())
		if found == nil && (id.IsZero() || s.ID == id) {
			found = s
		}
	}
	switch {
	case found == nil:
		// Keep what we have (nil at the start, which NewWorkloadSource
		// reports): a wrong SVID would only make every handshake fail.
		w.log.Error("identity: the Workload API update has no SVID for this node; the previous one stays in use",
			"want", id.String(), "offered", strings.Join(w.offered, ", "), "current_serial", serial(w.current))
		return w.current
	case w.current == nil:
		w.log.Info("identity: SVID from the Workload API", "spiffe_id", found.ID.String(),
			"serial", serial(found), "not_after", found.Certificates[0].NotAfter)
	case serial(found) != serial(w.current):
		w.log.Info("identity: SVID rotated by the Workload API", "spiffe_id", found.ID.String(),
			"serial", serial(found), "not_after", found.Certificates[0].NotAfter, "previous_serial", serial(w.current))
	}
	w.current = found
	return found
}

// GetX509SVID returns the current SVID.
func (w *WorkloadSource) GetX509SVID() (*x509svid.SVID, error) {
	svid, err := w.x.GetX509SVID()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return svid, nil
}

// GetX509BundleForTrustDomain returns any bundle the Workload API sent,
// including federated ones.
func (w *WorkloadSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	b, err := w.x.GetX509BundleForTrustDomain(td)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return b, nil
}

// Close drops the connection to the Workload API.
func (w *WorkloadSource) Close() error {
	if err := w.x.Close(); err != nil {
		return fmt.Errorf("identity: close Workload API source: %w", err)
	}
	return nil
}

// spiffeLogger passes go-spiffe's log lines (such as a lost agent
// connection, which it retries) to slog.
type spiffeLogger struct{ log *slog.Logger }

func (l spiffeLogger) Debugf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "workloadapi")
}

func (l spiffeLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...), "component", "workloadapi")
}

func (l spiffeLogger) Warnf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "component", "workloadapi")
}

func (l spiffeLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "workloadapi")
}
