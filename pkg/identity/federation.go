package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Refresh intervals of a bundle endpoint when it gives no refresh hint, and
// after a failed fetch.
const (
	DefaultBundleRefresh = 5 * time.Minute
	bundleRetry          = 10 * time.Second
)

// BundleEndpoint keeps the counterpart's bundle current from its SPIFFE
// bundle endpoint, the way a SPIRE server federates: a CA rotation on the
// other side reaches this node without anyone handing over a file.
//
// With the https_spiffe profile (EndpointID set) the endpoint is
// authenticated with the trust domain's own bundle: first the bootstrap
// bundle, then whatever was last fetched, so the chain of trust runs from the
// bundle the agencies exchanged when the link was set up. With the https_web
// profile (EndpointID zero) the system's Web PKI roots authenticate it.
type BundleEndpoint struct {
	td        spiffeid.TrustDomain
	url       string
	id        spiffeid.ID
	bootstrap x509bundle.Source
	log       *slog.Logger

	mu      sync.RWMutex
	fetched *x509bundle.Bundle
	failing bool
	fetches chan struct{} // closed and replaced at each successful update
}

var _ x509bundle.Source = (*BundleEndpoint)(nil)

// EndpointOptions describe a bundle endpoint.
type EndpointOptions struct {
	// URL is the endpoint, e.g. https://spire.immigration.gov.kh:8443.
	URL string
	// EndpointID is the SPIFFE ID the endpoint's server presents (https_spiffe
	// profile), e.g. spiffe://immigration.gov.kh/spire/server; zero means the
	// https_web profile.
	EndpointID spiffeid.ID
	// Bootstrap serves the trust domain's bundle until the first fetch
	// succeeds, and authenticates the endpoint (https_spiffe) until then. It
	// is required for https_spiffe.
	Bootstrap x509bundle.Source
	// Logger; nil discards.
	Logger *slog.Logger
}

// NewBundleEndpoint prepares to fetch td's bundle; Run fetches it.
func NewBundleEndpoint(td spiffeid.TrustDomain, opts EndpointOptions) (*BundleEndpoint, error) {
	if !opts.EndpointID.IsZero() && opts.Bootstrap == nil {
		return nil, fmt.Errorf("identity: bundle endpoint %s with SPIFFE authentication needs a bootstrap bundle of %s", opts.URL, td)
	}
	return &BundleEndpoint{
		td: td, url: opts.URL, id: opts.EndpointID, bootstrap: opts.Bootstrap,
		log: logger(opts.Logger), fetches: make(chan struct{}),
	}, nil
}

// Run fetches the bundle now and again whenever the endpoint's refresh hint
// (or DefaultBundleRefresh) says, until ctx ends. A failed fetch is logged
// and retried soon; the last good bundle stays in use.
func (e *BundleEndpoint) Run(ctx context.Context) {
	var opts []federation.FetchOption
	if !e.id.IsZero() {
		// e serves the bundle last fetched, else the bootstrap one: each
		// fetch is authenticated by the trust the previous one established.
		opts = append(opts, federation.WithSPIFFEAuth(e, e.id))
	}
	err := federation.WatchBundle(ctx, e.td, e.url, endpointWatcher{e}, opts...)
	if err != nil && !errors.Is(err, context.Canceled) {
		e.log.Error("identity: watching the bundle endpoint stopped", "url", e.url, "error", err)
	}
}

// Fetched is closed once the next successful update has been taken in; for
// tests and for callers that want to wait for the first fetch.
func (e *BundleEndpoint) Fetched() <-chan struct{} {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.fetches
}

// GetX509BundleForTrustDomain returns the last fetched bundle, or the
// bootstrap bundle before the first fetch.
func (e *BundleEndpoint) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != e.td {
		return nil, fmt.Errorf("%w: %s (the bundle endpoint %s is for %s)", ErrUntrusted, td, e.url, e.td)
	}
	e.mu.RLock()
	fetched := e.fetched
	e.mu.RUnlock()
	if fetched != nil {
		return fetched, nil
	}
	if e.bootstrap == nil {
		return nil, fmt.Errorf("identity: no bundle of %s yet: the first fetch from %s has not succeeded", td, e.url)
	}
	return e.bootstrap.GetX509BundleForTrustDomain(td)
}

// endpointWatcher is BundleEndpoint's side of federation.WatchBundle, kept
// off BundleEndpoint so those methods are not part of its API.
type endpointWatcher struct{ e *BundleEndpoint }

func (w endpointWatcher) NextRefresh(hint time.Duration) time.Duration {
	w.e.mu.RLock()
	failing := w.e.failing
	w.e.mu.RUnlock()
	switch {
	case failing:
		return bundleRetry
	case hint > 0:
		return hint
	default:
		return DefaultBundleRefresh
	}
}

func (w endpointWatcher) OnUpdate(b *spiffebundle.Bundle) {
	x := b.X509Bundle()
	if x.Empty() {
		w.OnError(fmt.Errorf("identity: the bundle from %s has no X.509 authorities", w.e.url))
		return
	}
	w.e.mu.Lock()
	w.e.fetched, w.e.failing = x, false
	close(w.e.fetches)
	w.e.fetches = make(chan struct{})
	w.e.mu.Unlock()
	seq, _ := b.SequenceNumber()
	w.e.log.Info("identity: bundle updated from the bundle endpoint", "trust_domain", w.e.td.String(),
		"url", w.e.url, "authorities", len(x.X509Authorities()), "sequence", seq)
}

func (w endpointWatcher) OnError(err error) {
	w.e.mu.Lock()
	w.e.failing = true
	w.e.mu.Unlock()
	w.e.log.Error("identity: fetching the bundle from the bundle endpoint failed; the last good bundle stays in use",
		"trust_domain", w.e.td.String(), "url", w.e.url, "error", err)
}
