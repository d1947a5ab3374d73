// Package identitytest holds what tests of identity sources share: a fake
// SPIFFE Workload API, which streams whatever SVIDs and bundles a test sets
// over a real gRPC unix socket to go-spiffe's real client, and CheckSource,
// the contract every identity.Source a node uses must meet.
//
// The fake is for fast tests; pkg/identity/spiretest runs the real SPIRE.
package identitytest

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Update is what the fake Workload API streams to its clients.
type Update struct {
	// SVIDs for the workload; each is sent with the bundle of its own trust
	// domain, which must be among Bundles.
	SVIDs []*x509svid.SVID
	// Bundles are the bundles of the SVIDs' trust domains and the federated
	// ones (every bundle of a trust domain no SVID is in counts as federated).
	Bundles []*x509bundle.Bundle
}

// WorkloadAPI is a fake SPIFFE Workload API (X.509 part only).
type WorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer

	// Addr is the address to give a Workload API client, unix://<socket>.
	Addr string

	t       testing.TB
	mu      sync.Mutex
	current *workload.X509SVIDResponse
	denied  bool
	changed chan struct{}
}

// StartWorkloadAPI serves a fake Workload API on a unix socket until the test
// ends. Clients get nothing (they wait) until the first Set.
func StartWorkloadAPI(t testing.TB) *WorkloadAPI {
	t.Helper()
	// Unix socket paths are short; t.TempDir's can be too long for them.
	dir, err := os.MkdirTemp("", "fpwl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	w := &WorkloadAPI{Addr: "unix://" + sock, t: t, changed: make(chan struct{})}
	s := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(s, w)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return w
}

// Set replaces what the fake serves and pushes it to every client.
func (w *WorkloadAPI) Set(u Update) {
	w.t.Helper()
	resp := &workload.X509SVIDResponse{FederatedBundles: map[string][]byte{}}
	own := map[string]bool{}
	for _, svid := range u.SVIDs {
		certs, key, err := svid.MarshalRaw()
		if err != nil {
			w.t.Fatal(err)
		}
		td := svid.ID.TrustDomain()
		var bundle []byte
		for _, b := range u.Bundles {
			if b.TrustDomain() == td {
				for _, c := range b.X509Authorities() {
					bundle = append(bundle, c.Raw...)
				}
			}
		}
		own[td.IDString()] = true
		resp.Svids = append(resp.Svids, &workload.X509SVID{
			SpiffeId: svid.ID.String(), X509Svid: certs, X509SvidKey: key, Bundle: bundle,
		})
	}
	for _, b := range u.Bundles {
		if own[b.TrustDomain().IDString()] {
			continue
		}
		var der []byte
		for _, c := range b.X509Authorities() {
			der = append(der, c.Raw...)
		}
		resp.FederatedBundles[b.TrustDomain().IDString()] = der
	}
	w.mu.Lock()
	w.current, w.denied = resp, false
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Deny makes the fake answer as SPIRE does for a workload no entry matches:
// PermissionDenied, which clients retry.
func (w *WorkloadAPI) Deny() {
	w.mu.Lock()
	w.current, w.denied = nil, true
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// FetchX509SVID streams the current update, and each new one.
func (w *WorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	if md, _ := metadata.FromIncomingContext(stream.Context()); len(md.Get("workload.spiffe.io")) != 1 || md.Get("workload.spiffe.io")[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	for {
		w.mu.Lock()
		resp, denied, changed := w.current, w.denied, w.changed
		w.mu.Unlock()
		if denied {
			return status.Error(codes.PermissionDenied, "no identity issued")
		}
		if resp != nil {
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}
