package envelope

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

func newSigner(t testing.TB, name string) *keys.Signer {
	t.Helper()
	skey, _, err := keys.Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testMessage() *messagev1.Message {
	return &messagev1.Message{
		Header: &messagev1.Header{
			MessageId:     "01900000-0000-7000-8000-000000000001",
			Sender:        &messagev1.Party{Agency: "ID-DJI", SpiffeId: "spiffe://imigrasi.go.id/focalpoint/node"},
			Recipient:     &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/node"},
			CreatedAt:     timestamppb.New(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)),
			Handling:      &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0},
			SchemaVersion: 1,
		},
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: "n"}}},
	}
}

func TestSealOpen(t *testing.T) {
	s := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	raw, err := Seal(testMessage(), s)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(raw, note.VerifierList(s.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(o.Message, testMessage()) {
		t.Fatalf("opened message differs: %v", o.Message)
	}
	if o.SHA256 != sha256.Sum256(raw) || string(o.Raw) != string(raw) {
		t.Fatal("Opened does not carry the exact bytes and their hash")
	}
	if o.SignedBy.Name() != s.Name() {
		t.Fatalf("SignedBy = %s", o.SignedBy.Name())
	}
}

// Every single-bit change anywhere in a sealed envelope must be refused: the
// signature, the key reference and the message are all covered.
func TestOpenRefusesEveryBitFlip(t *testing.T) {
	s := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	raw, err := Seal(testMessage(), s)
	if err != nil {
		t.Fatal(err)
	}
	known := note.VerifierList(s.Verifier())
	for i := range raw {
		for bit := range 8 {
			bad := append([]byte(nil), raw...)
			bad[i] ^= 1 << bit
			if _, err := Open(bad, known); err == nil {
				t.Fatalf("byte %d bit %d flipped: envelope still opens", i, bit)
			}
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	s := newSigner(t, "imigrasi.go.id/focalpoint/messages")
	other := newSigner(t, "imigrasi.go.id/focalpoint/messages") // same name, other key
	known := note.VerifierList(s.Verifier())
	good, err := Seal(testMessage(), s)
	if err != nil {
		t.Fatal(err)
	}
	var env envelopev1.Envelope
	if err := proto.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	marshal := func(e *envelopev1.Envelope) []byte {
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wrongKey, err := Seal(testMessage(), other)
	if err != nil {
		t.Fatal(err)
	}
	otherMsg := testMessage()
	otherMsg.Header.MessageId = "01900000-0000-7000-8000-000000000002"
	otherRaw, err := proto.Marshal(otherMsg)
	if err != nil {
		t.Fatal(err)
	}
	// The signature from good over the bytes of another message.
	sigOverOther := marshal(&envelopev1.Envelope{Message: otherRaw, Signature: env.GetSignature()})
	// A valid receipt signature presented as a message signature.
	receipt, err := SignReceipt(&envelopev1.Receipt{MessageId: "x"}, s)
	if err != nil {
		t.Fatal(err)
	}
	var sr envelopev1.SignedReceipt
	if err := proto.Unmarshal(receipt, &sr); err != nil {
		t.Fatal(err)
	}
	crossDomain := marshal(&envelopev1.Envelope{Message: sr.GetReceipt(), Signature: sr.GetSignature()})

	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"not protobuf", []byte("\xff\xff\xff garbage"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"no signature", marshal(&envelopev1.Envelope{Message: env.GetMessage()}), ErrMalformed},
		{"no message", marshal(&envelopev1.Envelope{Signature: env.GetSignature()}), ErrMalformed},
		{"wrong key with the same name", wrongKey, ErrUnknownKey},
		{"signature over other bytes", sigOverOther, ErrBadSignature},
		{"receipt signature used for a message", crossDomain, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.raw, known)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReceiptRoundTripAndRefusals(t *testing.T) {
	s := newSigner(t, "immigration.gov.kh/focalpoint/messages")
	other := newSigner(t, "immigration.gov.kh/focalpoint/messages")
	r := &envelopev1.Receipt{MessageId: "m", EnvelopeSha256: make([]byte, 32), LedgerIndex: 7, ReceivedAt: timestamppb.Now()}
	raw, err := SignReceipt(r, s)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := OpenReceipt(raw, note.VerifierList(s.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, r) {
		t.Fatalf("receipt differs: %v", got)
	}
	if _, _, err := OpenReceipt(raw, note.VerifierList(other.Verifier())); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("wrong key: err = %v", err)
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x40
		if _, _, err := OpenReceipt(bad, note.VerifierList(s.Verifier())); err == nil {
			t.Fatalf("byte %d changed: receipt still opens", i)
		}
	}
	// A message envelope must not pass as a receipt.
	env, err := Seal(testMessage(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenReceipt(env, note.VerifierList(s.Verifier())); err == nil {
		t.Fatal("an envelope opened as a receipt")
	}
}

func BenchmarkSeal(b *testing.B) {
	s := newSigner(b, "imigrasi.go.id/focalpoint/messages")
	m := testMessage()
	m.Payload = &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: string(make([]byte, 64))}}}
	for b.Loop() {
		if _, err := Seal(m, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newSigner(b, "imigrasi.go.id/focalpoint/messages")
	raw, err := Seal(testMessage(), s)
	if err != nil {
		b.Fatal(err)
	}
	known := note.VerifierList(s.Verifier())
	for b.Loop() {
		if _, err := Open(raw, known); err != nil {
			b.Fatal(err)
		}
	}
}
