package node_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/demo"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity/identitytest"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

// startIdentityNode writes file as a config, starts a node on lis and stops
// it when the test ends.
func startIdentityNode(t *testing.T, dir string, file *config.File, lis net.Listener) *config.Config {
	t.Helper()
	path := filepath.Join(dir, file.Node.Agency+".yaml")
	if err := config.Write(path, file); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.New(ctx, cfg, node.Options{PeerListener: lis})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node stopped with %v", err)
		}
	})
	return cfg
}

// sendAndAwait submits a test message on a node's local socket and waits for
// its receipt.
func sendAndAwait(t *testing.T, socket, nonce string) {
	t.Helper()
	conn, err := node.DialLocal(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := focalv1.NewFocalServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := c.SubmitMessage(ctx, &focalv1.SubmitMessageRequest{Draft: &focalv1.Draft{
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: nonce}}},
	}})
	if err != nil {
		t.Fatalf("submit %s: %v", nonce, err)
	}
	if _, err := c.AwaitReceipt(ctx, &focalv1.AwaitReceiptRequest{MessageId: r.GetMessageId()}); err != nil {
		t.Fatalf("receipt of %s: %v", nonce, err)
	}
}

// peerSerial handshakes with a node's peer API as the counterpart would and
// returns the serial number of the SVID the node presented.
func peerSerial(t *testing.T, addr string, client *x509svid.SVID, trust x509bundle.Source, want spiffeid.ID) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, tlsconfig.MTLSClientConfig(client, trust, tlsconfig.AuthorizeID(want)))
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// The Indonesian node takes its SVID, its bundle and the counterpart's bundle
// from a Workload API (the fake one: pkg/identity/spiretest runs the real
// SPIRE); the agent rotates the SVID, and new connections present the new
// one while messages keep being receipted both ways.
func TestNodeOnWorkloadAPI(t *testing.T) {
	f := newFixture(t)
	id, kh := f.layout.Nodes[0], f.layout.Nodes[1]
	now := time.Now()
	// devpki keeps no CA key, so Indonesia's "SPIRE" has its own CA.
	caID, err := devpki.NewCA(id.TrustDomain, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caOther, err := devpki.NewCA(spiffeid.RequireTrustDomainFromString("example.org"), now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	khBundle, err := x509bundle.Load(kh.TrustDomain, kh.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	api := identitytest.StartWorkloadAPI(t)
	issue := func() *x509svid.SVID {
		svid, err := caID.IssueSVID(id.NodeID, now.Add(-time.Minute), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// The agent federates with a third trust domain the node must ignore.
		api.Set(identitytest.Update{SVIDs: []*x509svid.SVID{svid}, Bundles: []*x509bundle.Bundle{caID.Bundle(), khBundle, caOther.Bundle()}})
		return svid
	}
	a := issue()
	idBundle := filepath.Join(f.dir, "id-spire-bundle.pem")
	pem, err := caID.Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idBundle, pem, 0o644); err != nil {
		t.Fatal(err)
	}

	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	idLis, khLis := listen(), listen()
	idFile := demo.DevConfig(f.dir, id, kh, idLis.Addr().String(), khLis.Addr().String())
	idFile.Identity = config.IdentityFile{WorkloadAPISocket: api.Addr}
	idFile.Counterpart.Bundle = "" // from the Workload API's federated bundles
	khFile := demo.DevConfig(f.dir, kh, id, khLis.Addr().String(), idLis.Addr().String())
	khFile.Counterpart.Bundle = idBundle
	idCfg := startIdentityNode(t, f.dir, idFile, idLis)
	khCfg := startIdentityNode(t, f.dir, khFile, khLis)

	khSVID, err := x509svid.Load(kh.NodeCert, kh.NodeKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := peerSerial(t, idLis.Addr().String(), khSVID, caID.Bundle(), id.NodeID); got != a.Certificates[0].SerialNumber.Text(16) {
		t.Fatalf("node presents serial %s, want A's", got)
	}
	sendAndAwait(t, idCfg.LocalSocket, "before rotation, ID to KH")
	sendAndAwait(t, khCfg.LocalSocket, "before rotation, KH to ID")

	b := issue()
	deadline := time.Now().Add(10 * time.Second)
	for peerSerial(t, idLis.Addr().String(), khSVID, caID.Bundle(), id.NodeID) != b.Certificates[0].SerialNumber.Text(16) {
		if time.Now().After(deadline) {
			t.Fatal("the rotated SVID is not presented to new connections")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 3 {
		sendAndAwait(t, idCfg.LocalSocket, fmt.Sprintf("after rotation %d, ID to KH", i))
		sendAndAwait(t, khCfg.LocalSocket, fmt.Sprintf("after rotation %d, KH to ID", i))
	}

	// A peer from the third, federated trust domain is refused by the node's
	// trust, before any authorizer looks at its ID.
	stranger, err := caOther.IssueSVID(devpki.NodeID(caOther.TrustDomain()), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", idLis.Addr().String(), tlsconfig.MTLSClientConfig(stranger, caID.Bundle(), tlsconfig.AuthorizeID(id.NodeID)))
	if err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a peer of a federated third trust domain was admitted")
	}
}
