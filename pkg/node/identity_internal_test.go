package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity"
	"github.com/focalpoint-gateway/focalpoint/pkg/identity/identitytest"
)

// Each way a config can name the node's identity yields a source that meets
// the contract: the node's SVID, its own and its counterpart's bundles from
// where the config says, and no third trust domain.
func TestIdentitySource(t *testing.T) {
	tdID := spiffeid.RequireTrustDomainFromString("imigrasi.go.id")
	tdKH := spiffeid.RequireTrustDomainFromString("immigration.gov.kh")
	tdOther := spiffeid.RequireTrustDomainFromString("example.org")
	now := time.Now()
	ca := func(td spiffeid.TrustDomain) *devpki.CA {
		c, err := devpki.NewCA(td, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caID, caKH, caKHPinned, caOther := ca(tdID), ca(tdKH), ca(tdKH), ca(tdOther)
	svid, err := caID.IssueSVID(devpki.NodeID(tdID), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pem := func(b *x509bundle.Bundle) []byte {
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cert, key := write("node.pem", certPEM), write("node.key", keyPEM)
	ownBundle, khBundle, pinned := write("id.pem", pem(caID.Bundle())), write("kh.pem", pem(caKH.Bundle())), write("kh-pinned.pem", pem(caKHPinned.Bundle()))

	api := identitytest.StartWorkloadAPI(t)
	api.Set(identitytest.Update{SVIDs: []*x509svid.SVID{svid}, Bundles: []*x509bundle.Bundle{caID.Bundle(), caKH.Bundle(), caOther.Bundle()}})

	base := config.Config{ID: devpki.NodeID(tdID), Counterpart: config.Counterpart{ID: devpki.NodeID(tdKH)}, IdentityReloadInterval: time.Second}
	tests := []struct {
		name   string
		edit   func(*config.Config)
		wantKH *x509bundle.Bundle
	}{
		{"files", func(c *config.Config) {
			c.SVIDCert, c.SVIDKey, c.Bundle, c.Counterpart.Bundle = cert, key, ownBundle, khBundle
		}, caKH.Bundle()},
		{"workload API, federated counterpart bundle", func(c *config.Config) { c.WorkloadAPISocket = api.Addr }, caKH.Bundle()},
		{"workload API, pinned counterpart bundle", func(c *config.Config) {
			c.WorkloadAPISocket, c.Counterpart.Bundle = api.Addr, pinned
		}, caKHPinned.Bundle()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			src, closeFn, err := identitySource(context.Background(), &cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			identitytest.CheckSource(t, src, identitytest.Want{
				ID: cfg.ID, Trusted: []spiffeid.TrustDomain{tdID, tdKH}, Untrusted: []spiffeid.TrustDomain{tdOther},
			})
			if b, _ := src.GetX509BundleForTrustDomain(tdKH); !b.Equal(tt.wantKH) {
				t.Fatal("the counterpart's bundle is not from where the config says")
			}
			if err := closeFn(); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("wrong SVID in the files", func(t *testing.T) {
		cfg := base
		cfg.ID = devpki.OfficerID(tdID)
		cfg.SVIDCert, cfg.SVIDKey, cfg.Bundle, cfg.Counterpart.Bundle = cert, key, ownBundle, khBundle
		_, _, err := identitySource(context.Background(), &cfg, nil)
		if !errors.Is(err, identity.ErrWrongID) || !strings.Contains(err.Error(), "node.spiffe_id") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no SVID for the node from the Workload API", func(t *testing.T) {
		cfg := base
		cfg.ID = devpki.OfficerID(tdID)
		cfg.WorkloadAPISocket = api.Addr
		_, _, err := identitySource(context.Background(), &cfg, nil)
		if !errors.Is(err, identity.ErrWrongID) || !strings.Contains(err.Error(), "registration entry") {
			t.Fatalf("err = %v", err)
		}
	})
}
