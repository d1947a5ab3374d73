package audit

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/ledger"
)

// TestGoldenFormats pins the text formats a ledger hands out: its signed
// checkpoint (C2SP tlog-checkpoint), a cosigned one (C2SP
// tlog-cosignature/v1), and a proof of an entry (C2SP tlog-proof). Every key
// comes from a fixed seed and every time from the test clock, so the files
// are the same on every run; go test -update rewrites them.
func TestGoldenFormats(t *testing.T) {
	f := newLogFixture(t)
	p := f.p
	l := openRO(t, p.id.path)
	golden(t, "checkpoint.golden", l.Checkpoint())
	golden(t, "cosigned-checkpoint.golden", blobOf(t, p.id.path, 7))

	proof, err := Prove(l, f.m1.ID)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sent-message.tlog-proof.golden", proof.TLog.Marshal())
	if proof.TLog.Index != f.m1.Sent || !bytes.Equal(proof.Entry, rawOf(t, p.id.path, f.m1.Sent)) {
		t.Errorf("proof of entry %d, want %d", proof.TLog.Index, f.m1.Sent)
	}
	checked, err := CheckProof(proof.TLog.Marshal(), proof.Entry, p.id.logVKey, p.kh.logVKey)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := checked.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "check-proof.golden", b.Bytes())

	// The receiver proves the same message from its own ledger.
	kh := openRO(t, p.kh.path)
	received, err := Prove(kh, f.m1.ID)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "received-message.tlog-proof.golden", received.TLog.Marshal())
	if _, err := CheckProof(received.TLog.Marshal(), received.Entry, p.kh.logVKey, p.id.logVKey); err != nil {
		t.Error(err)
	}
}

func rawOf(t *testing.T, path string, i uint64) []byte {
	t.Helper()
	l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, raw, err := l.Entry(i)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestProveRefuses(t *testing.T) {
	f := newLogFixture(t)
	l := openRO(t, f.p.id.path)
	if _, err := Prove(l, f.m3.ID); !errors.Is(err, ErrNotCosigned) {
		t.Errorf("m3, after the last cosigned checkpoint: %v, want ErrNotCosigned", err)
	}
	if _, err := Prove(l, "no such message"); !errors.Is(err, ErrNoProof) {
		t.Errorf("unknown message: %v, want ErrNoProof", err)
	}
	old := newFixture(t)
	if _, err := Prove(openRO(t, old.p.id.path), old.m1.ID); !errors.Is(err, ErrNotCosigned) {
		t.Errorf("a ledger from before checkpoints: %v, want ErrNotCosigned", err)
	}
}

func TestCheckProofRefuses(t *testing.T) {
	f := newLogFixture(t)
	p := f.p
	proof, err := Prove(openRO(t, p.id.path), f.m1.ID)
	if err != nil {
		t.Fatal(err)
	}
	good := proof.TLog.Marshal()
	other, err := Prove(openRO(t, p.id.path), f.m2.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint of the ledger of another size, properly signed and
	// cosigned: the proof's hashes do not lead to its root.
	resized := proof.TLog
	resized.Checkpoint = blobOf(t, p.id.path, 3)
	// A proof whose index says the entry is elsewhere.
	moved := other.TLog
	forged, err := note.Sign(&note.Note{Text: "imigrasi.go.id/focalpoint/ledger\n9\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, p.id.logSigner)
	if err != nil {
		t.Fatal(err)
	}
	rooted := proof.TLog
	rooted.Checkpoint = forged
	for _, tc := range []struct {
		name         string
		proof, entry []byte
		key, witness string
		want         string
	}{
		{"another entry", good, other.Entry, p.id.logVKey, "", "inclusion"},
		{"proof of another entry", moved.Marshal(), proof.Entry, p.id.logVKey, "", "inclusion"},
		{"checkpoint of another size", resized.Marshal(), proof.Entry, p.id.logVKey, "", "inclusion"},
		{"checkpoint with another root", rooted.Marshal(), proof.Entry, p.id.logVKey, "", "inclusion"},
		{"the counterpart's log key", good, proof.Entry, p.kh.logVKey, "", "checkpoint signatures"},
		{"cosigned by someone else", good, proof.Entry, p.id.logVKey, p.id.logVKey, "no cosignature by imigrasi.go.id"},
		{"no cosignature", rooted.Marshal(), proof.Entry, p.id.logVKey, p.kh.logVKey, "no cosignature"},
		{"log key of another name", good, proof.Entry, p.id.vkey, "", "checkpoint signatures"},
		{"not a proof", proof.Entry, proof.Entry, p.id.logVKey, "", "not a tlog-proof"},
		{"not a key", good, proof.Entry, "key", "", "log key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckProof(tc.proof, tc.entry, tc.key, tc.witness)
			if !errors.Is(err, ErrProof) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("got %v, want ErrProof saying %q", err, tc.want)
			}
		})
	}
	if _, err := CheckProof(good, proof.Entry, p.id.logVKey, p.kh.logVKey); err != nil {
		t.Errorf("the good proof: %v", err)
	}
}
