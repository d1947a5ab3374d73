package devpki_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
)

func TestIDs(t *testing.T) {
	for _, tc := range []struct {
		got  spiffeid.ID
		want string
	}{
		{devpki.NodeID(tdID), "spiffe://imigrasi.go.id/focalpoint/node"},
		{devpki.OfficerID(tdID), "spiffe://imigrasi.go.id/focalpoint/officer"},
		{devpki.AuditorID(tdKH), "spiffe://immigration.gov.kh/focalpoint/auditor"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	if id := devpki.NodeID(spiffeid.TrustDomain{}); !id.IsZero() {
		t.Errorf("NodeID(zero) = %s, want the zero ID", id)
	}
	if got, want := devpki.MessagesKeyName(tdKH), "immigration.gov.kh/focalpoint/messages"; got != want {
		t.Errorf("MessagesKeyName = %q, want %q", got, want)
	}
}

func TestDefault(t *testing.T) {
	want := []devpki.Node{{TrustDomain: tdID, Agency: "ID-DJI"}, {TrustDomain: tdKH, Agency: "KH-GDI"}}
	got := devpki.Default()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Default() = %v, want %v", got, want)
	}
}

// write writes the default layout into a fresh directory.
func write(t *testing.T, now time.Time) *devpki.Layout {
	t.Helper()
	l, err := devpki.Write(filepath.Join(t.TempDir(), "dev"), devpki.Default(), now)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return l
}

func TestWriteLoadsWithGoSPIFFE(t *testing.T) {
	now := time.Now()
	l := write(t, now)
	if len(l.Nodes) != 2 {
		t.Fatalf("layout has %d nodes, want 2", len(l.Nodes))
	}
	for _, n := range l.Nodes {
		t.Run(n.TrustDomain.Name(), func(t *testing.T) {
			if want := filepath.Join(l.Dir, n.TrustDomain.Name()); n.Dir != want {
				t.Errorf("Dir = %s, want %s", n.Dir, want)
			}
			bundle, err := x509bundle.Load(n.TrustDomain, n.Bundle)
			if err != nil {
				t.Fatalf("x509bundle.Load: %v", err)
			}
			if len(bundle.X509Authorities()) != 1 || !bundle.X509Authorities()[0].IsCA {
				t.Fatalf("bundle holds %v, want one CA certificate", bundle.X509Authorities())
			}
			for _, s := range []struct {
				cert, key string
				id, want  spiffeid.ID
			}{
				{n.NodeCert, n.NodeKey, n.NodeID, devpki.NodeID(n.TrustDomain)},
				{n.OfficerCert, n.OfficerKey, n.OfficerID, devpki.OfficerID(n.TrustDomain)},
				{n.AuditorCert, n.AuditorKey, n.AuditorID, devpki.AuditorID(n.TrustDomain)},
			} {
				if s.id != s.want {
					t.Errorf("layout ID = %s, want %s", s.id, s.want)
				}
				svid, err := x509svid.Load(s.cert, s.key)
				if err != nil {
					t.Fatalf("x509svid.Load(%s): %v", s.cert, err)
				}
				if svid.ID != s.want {
					t.Errorf("%s holds %s, want %s", s.cert, svid.ID, s.want)
				}
				id, _, err := x509svid.Verify(svid.Certificates, bundle)
				if err != nil {
					t.Errorf("x509svid.Verify(%s): %v", s.cert, err)
				} else if id != s.want {
					t.Errorf("x509svid.Verify(%s) = %s, want %s", s.cert, id, s.want)
				}
				leaf := svid.Certificates[0]
				if want := now.Add(30 * 24 * time.Hour).Truncate(time.Second); !leaf.NotAfter.Equal(want) {
					t.Errorf("%s NotAfter = %s, want now+30d = %s", s.cert, leaf.NotAfter, want)
				}
				checkMode(t, s.key, 0o600)
				checkPEMType(t, s.key, "PRIVATE KEY")
			}
		})
	}
}

func TestWriteMessagesKey(t *testing.T) {
	l := write(t, time.Now())
	for _, n := range l.Nodes {
		t.Run(n.TrustDomain.Name(), func(t *testing.T) {
			skey := readLine(t, n.MessagesKey)
			vkey := readLine(t, n.MessagesVerifierKey)
			checkMode(t, n.MessagesKey, 0o600)
			if !strings.HasPrefix(skey, "PRIVATE+KEY+") {
				t.Errorf("messages.key does not hold a signed-note private key")
			}
			if vkey != n.MessagesVKey {
				t.Errorf("messages.vkey = %q, layout says %q", vkey, n.MessagesVKey)
			}
			signer, err := note.NewSigner(skey)
			if err != nil {
				t.Fatalf("note.NewSigner: %v", err)
			}
			verifier, err := note.NewVerifier(vkey)
			if err != nil {
				t.Fatalf("note.NewVerifier: %v", err)
			}
			if want := devpki.MessagesKeyName(n.TrustDomain); verifier.Name() != want || signer.Name() != want {
				t.Errorf("key names: signer %q, verifier %q, want %q", signer.Name(), verifier.Name(), want)
			}
			msg, err := note.Sign(&note.Note{Text: "focalpoint test\n"}, signer)
			if err != nil {
				t.Fatalf("note.Sign: %v", err)
			}
			opened, err := note.Open(msg, note.VerifierList(verifier))
			if err != nil {
				t.Fatalf("note.Open: %v", err)
			}
			if len(opened.Sigs) != 1 {
				t.Errorf("note has %d verified signatures, want 1", len(opened.Sigs))
			}
		})
	}
	// Each node has its own key: one node's verifier rejects the other's notes.
	signer, err := note.NewSigner(readLine(t, l.Nodes[0].MessagesKey))
	if err != nil {
		t.Fatal(err)
	}
	other, err := note.NewVerifier(l.Nodes[1].MessagesVKey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "focalpoint test\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(other)); err == nil {
		t.Error("a note signed by one node opened with the other node's verifier")
	}
}

func TestWriteAcrossTrustDomains(t *testing.T) {
	l := write(t, time.Now())
	a, b := l.Nodes[0], l.Nodes[1]
	svid, err := x509svid.Load(b.NodeCert, b.NodeKey)
	if err != nil {
		t.Fatal(err)
	}
	bundleA, err := x509bundle.Load(a.TrustDomain, a.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundleA); err == nil {
		t.Errorf("%s's node SVID verified against %s's bundle", b.TrustDomain, a.TrustDomain)
	}
	// A's CA relabelled as B's does not sign B's SVIDs either.
	forged := x509bundle.FromX509Authorities(b.TrustDomain, bundleA.X509Authorities())
	if _, _, err := x509svid.Verify(svid.Certificates, forged); err == nil {
		t.Errorf("%s's node SVID verified against %s's CA", b.TrustDomain, a.TrustDomain)
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	first, err := devpki.Write(dir, devpki.Default(), time.Now())
	if err != nil {
		t.Fatalf("first Write: %v", err)
	}
	n := first.Nodes[0]
	key := readFile(t, n.NodeKey)

	_, err = devpki.Write(dir, devpki.Default(), time.Now())
	if !errors.Is(err, devpki.ErrExists) {
		t.Fatalf("second Write: err = %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), n.Dir) {
		t.Errorf("error %q does not name %s", err, n.Dir)
	}
	if !bytes.Equal(readFile(t, n.NodeKey), key) {
		t.Fatal("refused Write changed node.key")
	}

	second, err := devpki.WriteWithOptions(dir, devpki.Default(), time.Now(), devpki.WriteOptions{Force: true})
	if err != nil {
		t.Fatalf("Write with Force: %v", err)
	}
	if bytes.Equal(readFile(t, second.Nodes[0].NodeKey), key) {
		t.Error("Write with Force left node.key as it was")
	}
	if _, err := x509svid.Load(second.Nodes[0].NodeCert, second.Nodes[0].NodeKey); err != nil {
		t.Errorf("after Force: x509svid.Load: %v", err)
	}
}

func TestWriteRefusesBeforeWritingAnything(t *testing.T) {
	dir := t.TempDir()
	// The second node's directory is taken; the first's is free.
	taken := filepath.Join(dir, tdKH.Name())
	if err := os.MkdirAll(taken, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(taken, "node.key"), []byte("someone's key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devpki.Write(dir, devpki.Default(), time.Now()); !errors.Is(err, devpki.ErrExists) {
		t.Fatalf("Write: err = %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(dir, tdID.Name())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused Write created %s (stat err %v)", tdID.Name(), err)
	}
}

func TestWriteIntoEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, n := range devpki.Default() {
		if err := os.Mkdir(filepath.Join(dir, n.TrustDomain.Name()), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := devpki.Write(dir, devpki.Default(), time.Now()); err != nil {
		t.Fatalf("Write into empty directories: %v", err)
	}
}

func TestWriteRefusesBadNodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []devpki.Node
	}{
		{"none", nil},
		{"zero trust domain", []devpki.Node{{Agency: "ID-DJI"}}},
		{"no agency", []devpki.Node{{TrustDomain: tdID}}},
		{"duplicate", []devpki.Node{{TrustDomain: tdID, Agency: "A"}, {TrustDomain: tdID, Agency: "B"}}},
		{"dot-dot", []devpki.Node{{TrustDomain: spiffeid.RequireTrustDomainFromString(".."), Agency: "A"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := devpki.Write(dir, tc.nodes, time.Now()); err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("refused Write left %d entries in the directory", len(entries))
			}
		})
	}
}

func TestLayoutLookup(t *testing.T) {
	l := write(t, time.Now())
	n, ok := l.Lookup(tdKH)
	if !ok || n.TrustDomain != tdKH || n.Agency != "KH-GDI" {
		t.Errorf("Lookup(%s) = %v, %v", tdKH, n.TrustDomain, ok)
	}
	if _, ok := l.Lookup(spiffeid.RequireTrustDomainFromString("example.org")); ok {
		t.Error("Lookup found a trust domain that was not written")
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", filepath.Base(path), got, want)
	}
}

func checkPEMType(t *testing.T, path, want string) {
	t.Helper()
	block, rest := pem.Decode(readFile(t, path))
	if block == nil || block.Type != want || len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("%s: want exactly one %q PEM block", filepath.Base(path), want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readLine reads a file that must hold one line ending in a newline.
func readLine(t *testing.T, path string) string {
	t.Helper()
	s := string(readFile(t, path))
	line, ok := strings.CutSuffix(s, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("%s = %q, want one line ending in a newline", filepath.Base(path), s)
	}
	return line
}
