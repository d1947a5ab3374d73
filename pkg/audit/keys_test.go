package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

func TestParseKeys(t *testing.T) {
	_, idKey := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	_, khKey := newSigner(t, "immigration.gov.kh/focalpoint/messages")
	_, idOld := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	_, logKey := newSigner(t, "imigrasi.go.id/focalpoint/log")
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
		"cosigner immigration.gov.kh/focalpoint/cosigner+0a1b2c3d+BCoiAKOvMLWI5BXW8Smjth+AbVr7ZSL/IIqJMrMDmRcv",
	}, "\n")
	k, err := ParseKeys(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Messages) != 3 || len(k.Log) != 1 || len(k.Cosigner) != 1 {
		t.Fatalf("got %d messages, %d log, %d cosigner keys; want 3, 1, 1", len(k.Messages), len(k.Log), len(k.Cosigner))
	}
	if k.Messages[2].Name() != "immigration.gov.kh/focalpoint/messages" || k.Log[0] != logKey {
		t.Errorf("keys out of order or changed: %s, %s", k.Messages[2].Name(), k.Log[0])
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
