package keys

import (
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Cosigner makes C2SP tlog-cosignature/v1 signatures ("timestamped
// Ed25519", key type 0x04) with a node's log key. It is written here rather
// than taken from transparency-dev/formats because that signer needs the
// private key's bytes, and the node's keys stay behind crypto.Signer so an HSM
// can hold them; verification is formats' own.
type Cosigner struct {
	name     string
	hash     uint32
	key      crypto.Signer
	vkey     string
	verifier note.Verifier
	now      func() time.Time
}

var _ note.Signer = (*Cosigner)(nil)

// Cosigner returns a cosigner using the same key as s: the cosignature/v1
// format binds a timestamp and its own prefix into what is signed, so these
// signatures can never be taken for s's plain ones.
func (s *Signer) Cosigner() (*Cosigner, error) {
	vkey, err := fnote.VKeyToCosignatureV1(s.vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: cosigner form of %s: %w", ErrBadKey, s.name, err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: cosigner form of %s: %w", ErrBadKey, s.name, err)
	}
	return &Cosigner{name: s.name, hash: v.KeyHash(), key: s.key, vkey: vkey, verifier: v, now: time.Now}, nil
}

// Name is the key's name.
func (c *Cosigner) Name() string { return c.name }

// KeyHash is the key hash of the cosignature/v1 (0x04) form of the key.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// VerifierKey is the cosignature/v1 (0x04) verifier key, to publish.
func (c *Cosigner) VerifierKey() string { return c.vkey }

// Verifier verifies this cosigner's signatures.
func (c *Cosigner) Verifier() note.Verifier { return c.verifier }

// Sign cosigns a checkpoint note's text: the signature is the 8-byte
// big-endian Unix time followed by an Ed25519 signature over
// "cosignature/v1\ntime <t>\n" and the text.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(c.now().Unix())
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	sig, err := c.key.Sign(rand.Reader, signed, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("keys: cosign with %s: %w", c.name, err)
	}
	return append(binary.BigEndian.AppendUint64(nil, t), sig...), nil
}

// CosignerVerifier parses a published key, in either its plain (0x01) or its
// cosignature/v1 (0x04) form, as a verifier of cosignatures.
func CosignerVerifier(vkey string) (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: cosigner key: %w", ErrBadKey, err)
	}
	return v, nil
}
