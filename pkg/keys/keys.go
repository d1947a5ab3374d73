// Package keys holds a node's long-lived Ed25519 signing keys.
//
// Transport identities (X.509-SVIDs) live an hour; these keys sign envelopes and
// receipts whose signatures must still verify in ten years, so they are separate,
// long-lived, and published as C2SP signed-note verifier keys
// ("name+hash+base64key") that the two agencies exchange when a link is set up.
//
// A Signer wraps any crypto.Signer holding an Ed25519 key, so a key kept in an
// HSM can stand in for the file-based key used in development.
package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ErrBadKey is returned for a key string or file that is not a valid Ed25519
// signed-note key.
var ErrBadKey = errors.New("keys: not a valid Ed25519 signed-note key")

// algEd25519 is the signed-note algorithm byte for Ed25519 keys.
const algEd25519 = 1

// Signer signs with an Ed25519 key and implements note.Signer, so the same key
// signs envelopes, receipts and signed notes.
type Signer struct {
	name string
	hash uint32
	key  crypto.Signer
	vkey string
}

var _ note.Signer = (*Signer)(nil)

// NewSigner makes a Signer named name from key, whose public half must be an
// Ed25519 key.
func NewSigner(name string, key crypto.Signer) (*Signer, error) {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: key %q is %T, want Ed25519", ErrBadKey, name, key.Public())
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return &Signer{name: name, hash: v.KeyHash(), key: key, vkey: vkey}, nil
}

// Name is the key's name, e.g. "imigrasi.go.id/focalpoint/messages".
func (s *Signer) Name() string { return s.name }

// KeyHash is the signed-note key hash that tells verifiers which key signed.
func (s *Signer) KeyHash() uint32 { return s.hash }

// Sign returns an Ed25519 signature over msg.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	// Ed25519 signs the message itself: crypto.Hash(0) says "no pre-hash".
	sig, err := s.key.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("keys: sign with %s: %w", s.name, err)
	}
	return sig, nil
}

// VerifierKey is the public half in signed-note form, to publish and exchange.
func (s *Signer) VerifierKey() string { return s.vkey }

// Verifier returns the note.Verifier for the public half.
func (s *Signer) Verifier() note.Verifier {
	v, err := note.NewVerifier(s.vkey)
	if err != nil {
		// NewSigner made vkey and checked it parses.
		panic(fmt.Sprintf("keys: own verifier key does not parse: %v", err))
	}
	return v
}

// Generate makes a new key named name and returns it in signed-note form: the
// private "PRIVATE+KEY+…" string and the public verifier key.
func Generate(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("keys: generate %q: %w", name, err)
	}
	return skey, vkey, nil
}

// ParseSigner parses a private key in signed-note form ("PRIVATE+KEY+name+hash+key").
func ParseSigner(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	// note.NewSigner checks the name, the hash and the algorithm; it keeps the key
	// private, so the seed is decoded again here to build a crypto.Signer.
	ns, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	// PRIVATE+KEY+name+hash+key: the name and hash hold no '+', the base64 key may.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, fmt.Errorf("%w: private key of %q is not an Ed25519 seed", ErrBadKey, ns.Name())
	}
	s, err := NewSigner(ns.Name(), ed25519.NewKeyFromSeed(raw[1:]))
	if err != nil {
		return nil, err
	}
	if s.hash != ns.KeyHash() {
		return nil, fmt.Errorf("%w: key hash of %q does not match its key", ErrBadKey, ns.Name())
	}
	return s, nil
}

// LoadSigner reads a private key file in signed-note form.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: read signing key: %w", err)
	}
	s, err := ParseSigner(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return s, nil
}

// ParseVerifier parses a public key in signed-note form.
func ParseVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return v, nil
}

// LoadVerifier reads a public key file in signed-note form.
func LoadVerifier(path string) (note.Verifier, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("keys: read verifier key: %w", err)
	}
	vkey := strings.TrimSpace(string(b))
	v, err := ParseVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("%w (file %s)", err, path)
	}
	return v, vkey, nil
}
