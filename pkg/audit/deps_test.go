package audit

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDepsNoNetwork guards the auditor's promise: it needs only files. The
// package must not import network packages itself, and nothing it links may
// be a transport (gRPC, the SPIFFE Workload API) or a part of the node that
// talks to the peer. (net/http is linked, through the ledger's Prometheus
// metrics, but nothing here calls it.)
func TestDepsNoNetwork(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-f", "{{join .Imports \"\\n\"}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "net" || strings.HasPrefix(imp, "net/") && imp != "net/url" || imp == "crypto/tls" || imp == "os/exec" {
			t.Errorf("package audit imports %s", imp)
		}
	}
	out, err = exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"google.golang.org/grpc",
		"github.com/spiffe/go-spiffe/v2/workloadapi",
		"github.com/spiffe/go-spiffe/v2/spiffetls",
		"github.com/focalpoint-gateway/focalpoint/pkg/identity",
		"github.com/focalpoint-gateway/focalpoint/pkg/exchange",
		"github.com/focalpoint-gateway/focalpoint/pkg/focal",
		"github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/peer",
		"github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("package audit links %s", dep)
			}
		}
	}
}
