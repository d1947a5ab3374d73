package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func TestSignerRoundTripWithNote(t *testing.T) {
	skey, vkey, err := Generate("imigrasi.go.id/focalpoint/messages")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey {
		t.Fatalf("VerifierKey = %q, want %q", s.VerifierKey(), vkey)
	}
	// A note signed by our Signer opens with the x/mod verifier alone.
	signed, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Fatalf("note.Open: %v", err)
	}
	sig, err := s.Sign([]byte("bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Verifier().Verify([]byte("bytes"), sig) {
		t.Fatal("own signature does not verify")
	}
	if s.Verifier().Verify([]byte("other"), sig) {
		t.Fatal("signature verifies over other bytes")
	}
}

func TestParseSignerRefusesBadKeys(t *testing.T) {
	skey, vkey, err := Generate("kh/messages")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(skey, '+')
	if i < 0 {
		t.Fatal("no '+' in key")
	}
	tests := map[string]string{
		"empty":          "",
		"verifier key":   vkey,
		"tampered hash":  strings.Replace(skey, "+", "+x", 3),
		"truncated":      skey[:len(skey)-4],
		"bad base64":     skey[:i+1] + "!!!",
		"other key name": strings.Replace(skey, "kh/messages", "id/messages", 1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSigner(in); !errors.Is(err, ErrBadKey) {
				t.Fatalf("ParseSigner(%q) err = %v, want ErrBadKey", in, err)
			}
		})
	}
}

// Base64 keys often contain '+', the field separator: many keys must all parse.
func TestParseSignerManyKeys(t *testing.T) {
	for range 200 {
		skey, vkey, err := Generate("id/messages")
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSigner(skey)
		if err != nil {
			t.Fatalf("ParseSigner(%q): %v", skey, err)
		}
		if s.VerifierKey() != vkey {
			t.Fatalf("verifier key %q, want %q", s.VerifierKey(), vkey)
		}
	}
}

func TestNewSignerRefusesNonEd25519(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner("x/y", k); !errors.Is(err, ErrBadKey) {
		t.Fatalf("err = %v, want ErrBadKey", err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := Generate("a.example/messages")
	if err != nil {
		t.Fatal(err)
	}
	sp, vp := filepath.Join(dir, "k"), filepath.Join(dir, "v")
	if err := os.WriteFile(sp, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vp, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(sp)
	if err != nil {
		t.Fatal(err)
	}
	v, got, err := LoadVerifier(vp)
	if err != nil {
		t.Fatal(err)
	}
	if got != vkey || v.KeyHash() != s.KeyHash() || v.Name() != s.Name() {
		t.Fatalf("loaded verifier %q (hash %x) does not match signer (hash %x)", got, v.KeyHash(), s.KeyHash())
	}
	if _, _, err := LoadVerifier(sp); !errors.Is(err, ErrBadKey) {
		t.Fatalf("LoadVerifier(private key file) err = %v, want ErrBadKey", err)
	}
}

// Our cosignatures verify with transparency-dev/formats alone, in both the
// plain and the 0x04 forms of the published key, and not as plain signatures.
func TestCosignerInterop(t *testing.T) {
	skey, vkey, err := Generate("imigrasi.go.id/focalpoint/ledger")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Cosigner()
	if err != nil {
		t.Fatal(err)
	}
	text := "immigration.gov.kh/focalpoint/ledger\n5\nq0bL4uDkgjS1Nx5X4dM+Xr0Zp8sKZFH5L0J3lw6U7Kk=\n"
	signed, err := note.Sign(&note.Note{Text: text}, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{vkey, c.VerifierKey()} {
		v, err := fnote.NewVerifierForCosignatureV1(k)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(signed, note.VerifierList(v))
		if err != nil {
			t.Fatalf("formats does not verify our cosignature with %q: %v", k, err)
		}
		if ts, err := fnote.CoSigV1Timestamp(n.Sigs[0]); err != nil || time.Since(ts) > time.Minute {
			t.Fatalf("timestamp %v, %v", ts, err)
		}
	}
	if _, err := note.Open(signed, note.VerifierList(s.Verifier())); err == nil {
		t.Fatal("a cosignature verified as a plain signature")
	}
	if c.KeyHash() == s.KeyHash() {
		t.Fatal("the 0x04 form has the key hash of the 0x01 form")
	}
}
