package node_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

func TestMetricsHealthAndReflection(t *testing.T) {
	f := newFixture(t)
	addr := freeAddr(t)
	cfg, n := f.start(t, func(c *config.File) { c.Metrics.Listen = addr })
	if n.MetricsAddr() == nil {
		t.Fatal("no metrics listener")
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"focalpoint_ledger_entries 1",
		"focalpoint_exchange_outbox_messages 0",
		"focalpoint_exchange_outbox_oldest_age_seconds 0",
		"focalpoint_exchange_peer_up 1",
		"focalpoint_identity_svid_expiry_timestamp_seconds",
		`focalpoint_identity_handshake_failures_total{api="peer"} 0`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Deliver"`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), name) {
			t.Errorf("scrape lacks %q", name)
		}
	}

	conn, err := node.DialLocal(cfg.LocalSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, svc := range []string{"", "focalpoint.focal.v1.FocalService", "focalpoint.peer.v1.PeerService", node.CounterpartHealthService} {
		h, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: svc})
		if err != nil || h.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v %v", svc, h, err)
		}
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "focalpoint.focal.v1.FocalService") {
		t.Fatalf("reflection lists %v", names)
	}
}
