package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tlog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	fproof "github.com/transparency-dev/formats/proof"
	mproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	"github.com/focalpoint-gateway/focalpoint/pkg/audit"
	"github.com/focalpoint-gateway/focalpoint/pkg/audit/audittest"
	ledgerv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/ledger/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// cli runs the command line in this process.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestAuditProveInterop proves a message of a real node's ledger with
// `audit prove`, then checks what it wrote with the public libraries alone:
// golang.org/x/mod/sumdb/note for the node's signature on its checkpoints,
// transparency-dev/formats for the counterpart's cosignature and the file
// formats, transparency-dev/merkle for the inclusion proof. No code of this
// project is on the verification path.
func TestAuditProveInterop(t *testing.T) {
	link := audittest.Run(t, 1, 2)
	id, kh := link.Nodes[0], link.Nodes[1]
	msg := link.Sent[0][1]
	out := t.TempDir()
	code, stdout, stderr := cli(t, "audit", "prove", "--ledger", link.Ledgers[0], "--message", msg, "--out", out)
	if code != 0 {
		t.Fatalf("prove: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("prove:\n%s", stdout)
	proofBytes, err := os.ReadFile(filepath.Join(out, msg+".tlog-proof"))
	if err != nil {
		t.Fatal(err)
	}
	entry, err := os.ReadFile(filepath.Join(out, msg+".entry"))
	if err != nil {
		t.Fatal(err)
	}

	// The node's own latest checkpoint, with x/mod's note alone.
	logVerifier, err := note.NewVerifier(id.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(link.Ledgers[0], ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	own := l.Checkpoint()
	l.Close()
	if _, err := note.Open(own, note.VerifierList(logVerifier)); err != nil {
		t.Fatalf("the node's checkpoint does not open with x/mod's note: %v\n%s", err, own)
	}

	// The proof file, with formats.
	var p fproof.TLogProof
	if err := p.Unmarshal(proofBytes); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Marshal(), proofBytes) {
		t.Errorf("the proof does not round-trip through formats/proof:\n%s", proofBytes)
	}
	// Its checkpoint: the node's signature with x/mod's note alone…
	if _, err := note.Open(p.Checkpoint, note.VerifierList(logVerifier)); err != nil {
		t.Fatalf("the proof's checkpoint does not open with the log key: %v", err)
	}
	// … and the counterpart's cosignature with formats' verifier alone.
	cosigner, err := fnote.NewVerifierForCosignatureV1(kh.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(p.Checkpoint, note.VerifierList(cosigner))
	if err != nil || len(n.Sigs) != 1 || n.Sigs[0].Hash != cosigner.KeyHash() {
		t.Fatalf("no valid cosignature by %s: %v", kh.LogVKey, err)
	}
	if _, err := fnote.CoSigV1Timestamp(n.Sigs[0]); err != nil {
		t.Error(err)
	}
	cp, _, _, err := tlog.ParseCheckpoint(p.Checkpoint, logVerifier.Name(), logVerifier, cosigner)
	if err != nil {
		t.Fatal(err)
	}
	// The inclusion proof, with merkle alone.
	hashes := make([][]byte, len(p.Hashes))
	for i := range p.Hashes {
		hashes[i] = p.Hashes[i][:]
	}
	if err := mproof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, cp.Size, rfc6962.DefaultHasher.HashLeaf(entry), hashes, cp.Hash); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	// And the entry is the message's SENT entry.
	var e ledgerv1.Entry
	if err := proto.Unmarshal(entry, &e); err != nil || e.GetMessageId() != msg || e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_SENT || e.GetIndex() != p.Index {
		t.Errorf("entry %v (%v), want the SENT entry of %s at %d", &e, err, msg, p.Index)
	}

	// check-proof says the same, with keys as strings or files.
	khLogFile := filepath.Join(t.TempDir(), "kh.vkey")
	if err := os.WriteFile(khLogFile, []byte(kh.LogVKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proofFile, entryFile := filepath.Join(out, msg+".tlog-proof"), filepath.Join(out, msg+".entry")
	code, stdout, stderr = cli(t, "audit", "check-proof", "--proof", proofFile, "--entry", entryFile, "--key", id.LogVKey, "--witness-key", khLogFile)
	if code != 0 || !strings.HasSuffix(stdout, "check-proof: ok\n") || !strings.Contains(stdout, "SENT, message "+msg) ||
		!strings.Contains(stdout, "cosigned  by immigration.gov.kh/focalpoint/ledger+") {
		t.Errorf("check-proof: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("check-proof:\n%s", stdout)

	// Each failure names what failed.
	flipped := bytes.Clone(entry)
	flipped[len(flipped)/2] ^= 1
	flippedFile := filepath.Join(t.TempDir(), "flipped.entry")
	if err := os.WriteFile(flippedFile, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	// The same checkpoint, without the counterpart's cosignature.
	var kept []byte
	for _, line := range bytes.SplitAfter(p.Checkpoint, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("— "+kh.LogVKey[:strings.Index(kh.LogVKey, "+")]+" ")) {
			kept = append(kept, line...)
		}
	}
	if len(kept) == len(p.Checkpoint) {
		t.Fatal("no cosignature line to drop")
	}
	p.Checkpoint = kept
	uncosigned := filepath.Join(t.TempDir(), "uncosigned.tlog-proof")
	if err := os.WriteFile(uncosigned, p.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"entry changed", []string{"--proof", proofFile, "--entry", flippedFile, "--key", id.LogVKey}, 1, "inclusion"},
		{"the counterpart's key as the log key", []string{"--proof", proofFile, "--entry", entryFile, "--key", kh.LogVKey}, 1, "checkpoint signatures"},
		{"cosignature asked of the log key itself", []string{"--proof", proofFile, "--entry", entryFile, "--key", id.LogVKey, "--witness-key", id.LogVKey}, 1, "no cosignature by imigrasi.go.id"},
		{"no cosignature", []string{"--proof", uncosigned, "--entry", entryFile, "--key", id.LogVKey, "--witness-key", kh.LogVKey}, 1, "cosignature"},
		{"not a proof", []string{"--proof", entryFile, "--entry", entryFile, "--key", id.LogVKey}, 1, "not a tlog-proof"},
		{"key neither a key nor a file", []string{"--proof", proofFile, "--entry", entryFile, "--key", "nothing"}, 2, "--key"},
		{"no key", []string{"--proof", proofFile, "--entry", entryFile}, 2, "--key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, append([]string{"audit", "check-proof"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stdout, "check-proof: ok") {
				t.Errorf("exit %d, want %d saying %q\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
	// Without the uncosigned proof's witness requirement, it checks.
	if code, stdout, stderr := cli(t, "audit", "check-proof", "--proof", uncosigned, "--entry", entryFile, "--key", id.LogVKey); code != 0 || !strings.Contains(stdout, "not checked") {
		t.Errorf("uncosigned proof, no witness key: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestAuditProveRefuses: what cannot be proved is refused, saying why.
func TestAuditProveRefuses(t *testing.T) {
	old := filepath.Join(t.TempDir(), "id.db")
	b, err := os.ReadFile(filepath.Join("testdata", "ledger-without-conflicts", "id.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var msg string
	l, err := ledger.Open(old, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Scan(0, func(e *ledgerv1.Entry, _ []byte) error {
		if msg == "" {
			msg = e.GetMessageId()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a ledger from before checkpoints", []string{"--ledger", old, "--message", msg, "--out", out}, 1, "not yet cosigned; try again after the next exchange"},
		{"unknown message", []string{"--ledger", old, "--message", "0197299a-2e00-7000-8000-000000000000", "--out", out}, 1, "no proof"},
		{"message ID that is a path", []string{"--ledger", old, "--message", "../x", "--out", out}, 2, "--message"},
		{"no --out", []string{"--ledger", old, "--message", msg}, 2, "--out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, append([]string{"audit", "prove"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d saying %q\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refusals wrote %d files", len(entries))
	}
}

// TestKeysShowPrintsLogKeys: keys show prints each node's log, cosigner and
// messages keys; the two outputs together are the keys file with which both
// ledgers verify and reconcile.
func TestKeysShowPrintsLogKeys(t *testing.T) {
	link := audittest.Run(t, 1, 1)
	var all strings.Builder
	var own [2][]string
	for i, config := range link.Configs {
		code, stdout, stderr := cli(t, "keys", "show", "--config", config)
		if code != 0 {
			t.Fatalf("keys show: exit %d\n%s", code, stderr)
		}
		all.WriteString(stdout)
		var roles []string
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			if strings.HasPrefix(line, "#") {
				roles = append(roles, "#")
				continue
			}
			f := strings.Fields(line)
			if len(f) != 2 {
				t.Fatalf("line %q", line)
			}
			roles = append(roles, f[0])
			if len(own[i]) < 3 {
				own[i] = append(own[i], f[1])
			}
		}
		if got := strings.Join(roles, " "); got != "# log cosigner messages # log cosigner messages" {
			t.Errorf("roles %s\n%s", got, stdout)
		}
		n := link.Nodes[i]
		cos, err := fnote.VKeyToCosignatureV1(n.LogVKey)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{n.LogVKey, cos, n.MessagesVKey}; strings.Join(own[i], " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v, want %v", n.Agency, own[i], want)
		}
		if !strings.Contains(stdout, "log "+link.Nodes[1-i].LogVKey+"\n") {
			t.Errorf("%s: no counterpart log key\n%s", n.Agency, stdout)
		}
	}
	keysFile := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keysFile, []byte(all.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := audit.LoadKeys(keysFile)
	if err != nil || len(k.Log) != 2 || len(k.Cosigner) != 2 || len(k.Messages) != 2 {
		t.Fatalf("%v %+v", err, k)
	}
	for _, l := range link.Ledgers {
		code, stdout, stderr := cli(t, "audit", "verify", "--ledger", l, "--keys", keysFile)
		if code != 0 || !strings.Contains(stdout, "cosigned  by the counterpart up to") {
			t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
		}
	}
	if code, stdout, stderr := cli(t, "audit", "reconcile", "--ledger", link.Ledgers[0], "--ledger", link.Ledgers[1], "--keys", keysFile); code != 0 {
		t.Errorf("reconcile: exit %d\n%s%s", code, stdout, stderr)
	}
}
