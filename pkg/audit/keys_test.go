package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

func TestParseKeys(t *testing.T) {
	_, idKey := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	_, khKey := newSigner(t, "immigration.gov.kh/focalpoint/messages")
	_, idOld := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	_, logKey := newSigner(t, "imigrasi.go.id/focalpoint/ledger")
	_, khLog := newSigner(t, "immigration.gov.kh/focalpoint/ledger")
	khCosigner, _, err := CosignerKey(khLog)
	if err != nil {
		t.Fatal(err)
	}
	file := strings.Join([]string{
		"# Keys published for the ID-KH link.",
		"",
		"# Direktorat Jenderal Imigrasi",
		"messages " + idKey,
		"messages\t" + idOld + "   # retired 2025-09",
		"log " + logKey,
		"   ",
		"# General Department of Immigration",
		"messages " + khKey,
		"messages " + khKey, // the same key twice counts once
		"cosigner " + khCosigner,
		"cosigner " + khLog, // the plain form of the same key counts once
	}, "\n")
	k, err := ParseKeys(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	// The log key also trusts its own cosignature/v1 form.
	if len(k.Messages) != 3 || len(k.Log) != 1 || len(k.Cosigner) != 2 {
		t.Fatalf("got %d messages, %d log, %d cosigner keys; want 3, 1, 2", len(k.Messages), len(k.Log), len(k.Cosigner))
	}
	if k.Messages[2].Name() != "immigration.gov.kh/focalpoint/messages" || k.Log[0].Name() != "imigrasi.go.id/focalpoint/ledger" {
		t.Errorf("keys out of order or changed: %s, %s", k.Messages[2].Name(), k.Log[0].Name())
	}
	idCos, _ := keys.CosignerVerifier(logKey)
	khCos, _ := keys.CosignerVerifier(khLog)
	for i, want := range []note.Verifier{idCos, khCos} {
		if c := k.Cosigner[i]; c.Name() != want.Name() || c.KeyHash() != want.KeyHash() {
			t.Errorf("cosigner %d is %s+%08x, want %s+%08x", i, c.Name(), c.KeyHash(), want.Name(), want.KeyHash())
		}
	}

	path := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := LoadKeys(path); err != nil || len(k.Messages) != 3 {
		t.Errorf("LoadKeys: %v", err)
	}
	if _, err := LoadKeys(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadKeys of a missing file succeeded")
	}
}

func TestParseKeysRefuses(t *testing.T) {
	_, idKey := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	for _, tc := range []struct {
		name, file string
		want       []string // in the error
		wantErr    error
	}{
		{"unknown role", "# c\nmessages " + idKey + "\nmessage " + idKey + "\n", []string{"line 3", `unknown role "message"`}, nil},
		{"bad key", "\n\nmessages " + strings.Replace(idKey, "+", "-", 1) + "\n", []string{"line 3", "messages key"}, keys.ErrBadKey},
		{"key hash does not match", "messages " + idKey[:strings.Index(idKey, "+")+1] + "00000000" + idKey[strings.Index(idKey, "+")+9:] + "\n", []string{"line 1"}, keys.ErrBadKey},
		{"role only", "messages\n", []string{"line 1", "got 1 fields"}, nil},
		{"extra field", "messages " + idKey + " extra\n", []string{"line 1", "got 3 fields"}, nil},
		{"bad log key", "messages " + idKey + "\nlog nonsense\n", []string{"line 2", "log key"}, nil},
		{"bad cosigner hash", "messages " + idKey + "\ncosigner a+xyz+AAAA\n", []string{"line 2", "cosigner key"}, nil},
		{"cosigner key hash does not match", "messages " + idKey + "\ncosigner immigration.gov.kh/focalpoint/ledger+0a1b2c3d+BCoiAKOvMLWI5BXW8Smjth+AbVr7ZSL/IIqJMrMDmRcv\n",
			[]string{"line 2", "cosigner key", "does not match"}, keys.ErrBadKey},
		{"cosigner key not Ed25519", "messages " + idKey + "\ncosigner x+0a1b2c3d+BioiAKOvMLWI5BXW8Smjth+AbVr7ZSL/IIqJMrMDmRcv\n",
			[]string{"line 2", "not an Ed25519 key"}, keys.ErrBadKey},
		{"log key in cosignature form", "messages " + idKey + "\nlog immigration.gov.kh/focalpoint/ledger+3895acb4+BCoiAKOvMLWI5BXW8Smjth+AbVr7ZSL/IIqJMrMDmRcv\n",
			[]string{"line 2", "log key"}, keys.ErrBadKey},
		{"no messages key", "# nothing\nlog " + idKey + "\n", []string{"no messages key"}, nil},
		{"empty", "", []string{"no messages key"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeys(strings.NewReader(tc.file))
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, ErrBadKeys) {
				t.Errorf("%v is not ErrBadKeys", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("%v is not %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}
