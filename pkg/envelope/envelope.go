// Package envelope signs and opens the two objects that cross the link: an
// Envelope around a serialized message and a SignedReceipt for it.
//
// The rule is "sign bytes, not structures": a message or receipt is serialized
// exactly once, by its signer, and the signature covers a domain-separation
// prefix plus those bytes. Opening checks the signature over the bytes as they
// arrived before parsing them, and the caller keeps those same bytes. Nothing is
// re-encoded to be verified, so no canonical encoding is needed anywhere.
package envelope

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// Domain-separation contexts. A signature made for one purpose can never be
// presented as a signature for another: a receipt's bytes signed as a receipt do
// not verify as a message, even if the bytes happened to parse as one.
const (
	messageContext = "focalpoint/envelope/v1"
	receiptContext = "focalpoint/receipt/v1"
)

// Errors from Open and OpenReceipt. Each says what was wrong with the bytes that
// arrived; none of them is worth retrying with the same bytes.
var (
	// ErrMalformed: the bytes do not parse, or a required part is missing.
	ErrMalformed = errors.New("envelope: malformed")
	// ErrUnknownKey: the signature names a key the verifier does not hold.
	ErrUnknownKey = errors.New("envelope: signed by an unknown key")
	// ErrBadSignature: the signature does not verify over the bytes.
	ErrBadSignature = errors.New("envelope: signature does not verify")
)

// SignedBytes is what a signature covers: context, a zero byte, then the payload.
func signedBytes(context string, payload []byte) []byte {
	b := make([]byte, 0, len(context)+1+len(payload))
	b = append(b, context...)
	b = append(b, 0)
	return append(b, payload...)
}

// Opened is a verified envelope.
type Opened struct {
	// Raw is the serialized Envelope exactly as given to Open.
	Raw []byte
	// SHA256 is the hash of Raw: the envelope's identity in both ledgers.
	SHA256 [32]byte
	// Envelope is Raw parsed.
	Envelope *envelopev1.Envelope
	// Message is the envelope's message, parsed after its signature verified.
	Message *messagev1.Message
	// SignedBy is the verifier that accepted the signature.
	SignedBy note.Verifier
}

// Seal serializes m once, signs those bytes with s and returns the serialized
// Envelope.
func Seal(m *messagev1.Message, s note.Signer) ([]byte, error) {
	msg, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("envelope: marshal message: %w", err)
	}
	sig, err := sign(s, messageContext, msg)
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(&envelopev1.Envelope{Message: msg, Signature: sig})
	if err != nil {
		return nil, fmt.Errorf("envelope: marshal envelope: %w", err)
	}
	return raw, nil
}

// Open parses a serialized Envelope, checks its signature with the key it names
// among known, and parses the message.
func Open(raw []byte, known note.Verifiers) (*Opened, error) {
	var env envelopev1.Envelope
	if err := proto.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrMalformed, err)
	}
	if len(env.GetMessage()) == 0 {
		return nil, fmt.Errorf("%w: envelope has no message", ErrMalformed)
	}
	v, err := verify(env.GetSignature(), messageContext, env.GetMessage(), known)
	if err != nil {
		return nil, err
	}
	var m messagev1.Message
	if err := proto.Unmarshal(env.GetMessage(), &m); err != nil {
		return nil, fmt.Errorf("%w: message: %w", ErrMalformed, err)
	}
	return &Opened{Raw: raw, SHA256: sha256.Sum256(raw), Envelope: &env, Message: &m, SignedBy: v}, nil
}

// SignReceipt serializes r once, signs it with s and returns the serialized
// SignedReceipt.
func SignReceipt(r *envelopev1.Receipt, s note.Signer) ([]byte, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("envelope: marshal receipt: %w", err)
	}
	sig, err := sign(s, receiptContext, body)
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(&envelopev1.SignedReceipt{Receipt: body, Signature: sig})
	if err != nil {
		return nil, fmt.Errorf("envelope: marshal signed receipt: %w", err)
	}
	return raw, nil
}

// OpenReceipt parses a serialized SignedReceipt, checks its signature with the
// key it names among known, and parses the receipt.
func OpenReceipt(raw []byte, known note.Verifiers) (*envelopev1.Receipt, note.Verifier, error) {
	var sr envelopev1.SignedReceipt
	if err := proto.Unmarshal(raw, &sr); err != nil {
		return nil, nil, fmt.Errorf("%w: signed receipt: %w", ErrMalformed, err)
	}
	if len(sr.GetReceipt()) == 0 {
		return nil, nil, fmt.Errorf("%w: signed receipt has no receipt", ErrMalformed)
	}
	v, err := verify(sr.GetSignature(), receiptContext, sr.GetReceipt(), known)
	if err != nil {
		return nil, nil, err
	}
	var r envelopev1.Receipt
	if err := proto.Unmarshal(sr.GetReceipt(), &r); err != nil {
		return nil, nil, fmt.Errorf("%w: receipt: %w", ErrMalformed, err)
	}
	return &r, v, nil
}

// ParseReceipt parses a serialized SignedReceipt without checking its
// signature. It is only for bytes that were verified with OpenReceipt before
// they were ledgered, read back from this node's own ledger; anything that
// arrives from elsewhere goes through OpenReceipt.
func ParseReceipt(raw []byte) (*envelopev1.Receipt, error) {
	var sr envelopev1.SignedReceipt
	if err := proto.Unmarshal(raw, &sr); err != nil {
		return nil, fmt.Errorf("%w: signed receipt: %w", ErrMalformed, err)
	}
	var r envelopev1.Receipt
	if err := proto.Unmarshal(sr.GetReceipt(), &r); err != nil {
		return nil, fmt.Errorf("%w: receipt: %w", ErrMalformed, err)
	}
	return &r, nil
}

func sign(s note.Signer, context string, payload []byte) (*envelopev1.Signature, error) {
	sig, err := s.Sign(signedBytes(context, payload))
	if err != nil {
		return nil, fmt.Errorf("envelope: sign: %w", err)
	}
	return &envelopev1.Signature{KeyName: s.Name(), KeyHash: s.KeyHash(), Signature: sig}, nil
}

func verify(sig *envelopev1.Signature, context string, payload []byte, known note.Verifiers) (note.Verifier, error) {
	if sig == nil || len(sig.GetSignature()) == 0 {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	v, err := known.Verifier(sig.GetKeyName(), sig.GetKeyHash())
	if err != nil {
		return nil, fmt.Errorf("%w: %q (hash %08x)", ErrUnknownKey, sig.GetKeyName(), sig.GetKeyHash())
	}
	if !v.Verify(signedBytes(context, payload), sig.GetSignature()) {
		return nil, fmt.Errorf("%w: key %q", ErrBadSignature, sig.GetKeyName())
	}
	return v, nil
}
