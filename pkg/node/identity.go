package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
)

// workloadAPIWait bounds how long a starting node waits for its first SVID
// from the Workload API. Past it the node fails to start with an error that
// says what to check, and systemd or Kubernetes starts it again, rather than
// hanging silently while its agent is down or its entry missing.
const workloadAPIWait = time.Minute

// identitySource builds the node's transport identity from cfg and keeps it
// current until close is called:
//
//   - the SVID from files (reloaded when they change) or from the Workload API
//     (rotated by the agent);
//   - the node's own bundle from the same place;
//   - the counterpart's bundle from counterpart.bundle (a file, reloaded),
//     else from the Workload API's federated bundles, and in either case from
//     counterpart.bundle_endpoint_url once it has been fetched;
//   - no other trust domain, whatever the Workload API federates with.
//
// The SVID must carry node.spiffe_id. ctx bounds only the start (the first
// SVID); the watchers run until close, so a short-lived ctx cannot take the
// identity away from a running node.
func identitySource(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ identity.Source, _ func() error, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	own, peer := cfg.ID.TrustDomain(), cfg.Counterpart.ID.TrustDomain()
	watchCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var (
		wg      sync.WaitGroup
		closers []func() error
	)
	closeAll := func() error {
		stop()
		wg.Wait()
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()

	var (
		svids      x509svid.Source
		ownBundle  x509bundle.Source
		peerBundle x509bundle.Source // nil until a source is known
	)
	if cfg.WorkloadAPISocket != "" {
		startCtx, cancel := context.WithTimeout(ctx, workloadAPIWait)
		defer cancel()
		ws, err := identity.NewWorkloadSource(startCtx, identity.WorkloadOptions{Addr: cfg.WorkloadAPISocket, ID: cfg.ID, Logger: log})
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("node: no SVID from the Workload API at %s (identity.workload_api_socket) within %s: is the SPIRE agent running, and is there a registration entry for %s that matches this process? %w",
				cfg.WorkloadAPISocket, workloadAPIWait, cfg.ID, err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("node: node.spiffe_id %s from the Workload API: %w", cfg.ID, err)
		}
		closers = append(closers, ws.Close)
		svids, ownBundle = ws, ws
		if cfg.Counterpart.Bundle != "" {
			bf, err := identity.LoadBundleFile(peer, cfg.Counterpart.Bundle)
			if err != nil {
				return nil, nil, fmt.Errorf("node: counterpart.bundle: %w", err)
			}
			wg.Go(func() { bf.Watch(watchCtx, cfg.IdentityReloadInterval, log) })
			peerBundle = bf
		} else {
			// From the federated bundles. If SPIRE sends none yet the node
			// starts anyway, and handshakes fail until it does.
			if _, err := ws.GetX509BundleForTrustDomain(peer); err != nil && cfg.Counterpart.BundleEndpointURL == "" {
				log.Warn("node: the Workload API sends no bundle of the counterpart's trust domain; does the registration entry federate with it?",
					"trust_domain", peer.String(), "error", err)
			}
			peerBundle = ws
		}
	} else {
		files := identity.Files{Cert: cfg.SVIDCert, Key: cfg.SVIDKey, ID: cfg.ID,
			Bundles: map[spiffeid.TrustDomain]string{own: cfg.Bundle}}
		if cfg.Counterpart.Bundle != "" {
			files.Bundles[peer] = cfg.Counterpart.Bundle
		}
		fs, err := identity.LoadFiles(files)
		if errors.Is(err, identity.ErrWrongID) {
			return nil, nil, fmt.Errorf("node: identity.svid_cert does not hold node.spiffe_id: %w", err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("node: identity files: %w", err)
		}
		wg.Go(func() { fs.Watch(watchCtx, cfg.IdentityReloadInterval, log) })
		svids, ownBundle = fs, fs
		if cfg.Counterpart.Bundle != "" {
			peerBundle = fs
		}
	}

	if cfg.Counterpart.BundleEndpointURL != "" {
		ep, err := identity.NewBundleEndpoint(peer, identity.EndpointOptions{
			URL: cfg.Counterpart.BundleEndpointURL, EndpointID: cfg.Counterpart.BundleEndpointID,
			Bootstrap: peerBundle, Logger: log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("node: counterpart.bundle_endpoint_url: %w", err)
		}
		wg.Go(func() { ep.Run(watchCtx) })
		peerBundle = ep
	}

	src := identity.Combined{SVIDs: svids, Trust: identity.Trust{own: ownBundle, peer: peerBundle}}
	svid, err := src.GetX509SVID()
	if err != nil {
		return nil, nil, fmt.Errorf("node: %w", err)
	}
	log.Info("node: transport identity", "spiffe_id", svid.ID.String(), "from", cfg.IdentitySource(),
		"serial", svid.Certificates[0].SerialNumber.Text(16), "not_after", svid.Certificates[0].NotAfter,
		"counterpart_bundle", counterpartBundleFrom(cfg))
	return src, closeAll, nil
}

// counterpartBundleFrom says where the counterpart's bundle comes from, for
// the start-up log.
func counterpartBundleFrom(cfg *config.Config) string {
	from := "workload API (federated)"
	if cfg.Counterpart.Bundle != "" {
		from = "file " + cfg.Counterpart.Bundle
	}
	if cfg.Counterpart.BundleEndpointURL != "" {
		from = "bundle endpoint " + cfg.Counterpart.BundleEndpointURL + ", until then " + from
	}
	return from
}
