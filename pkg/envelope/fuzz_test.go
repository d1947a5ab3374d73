package envelope

import (
	"bytes"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

// fuzzKey is fixed so that the committed corpus (testdata/fuzz) holds
// envelopes that really verify, and the fuzzer starts from inside the
// signature check rather than outside it.
const fuzzKey = "PRIVATE+KEY+fuzz.example/focalpoint/messages+184a8a85+AQbo5FafRip/+pOQHKe1BsX/OZh/+cS2T8yRU+zK4hId"

func fuzzSigner(t testing.TB) *keys.Signer {
	s, err := keys.ParseSigner(fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzOpen: whatever the bytes, Open never panics, and whatever it accepts
// carries a message signed by the key, byte for byte: no input forges one.
func FuzzOpen(f *testing.F) {
	s := fuzzSigner(f)
	good, err := Seal(testMessage(), s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	var env envelopev1.Envelope
	if err := proto.Unmarshal(good, &env); err != nil {
		f.Fatal(err)
	}
	signed := env.GetMessage()
	known := note.VerifierList(s.Verifier())
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := Open(raw, known)
		if err != nil {
			return
		}
		if !bytes.Equal(o.Envelope.GetMessage(), signed) {
			t.Fatalf("Open accepted a message that was never signed: %x", o.Envelope.GetMessage())
		}
		if !bytes.Equal(o.Raw, raw) {
			t.Fatal("Opened.Raw is not the input")
		}
	})
}

// FuzzOpenReceipt is FuzzOpen for receipts.
func FuzzOpenReceipt(f *testing.F) {
	s := fuzzSigner(f)
	good, err := SignReceipt(&envelopev1.Receipt{MessageId: testMessage().GetHeader().GetMessageId(), LedgerIndex: 7}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	var sr envelopev1.SignedReceipt
	if err := proto.Unmarshal(good, &sr); err != nil {
		f.Fatal(err)
	}
	known := note.VerifierList(s.Verifier())
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, _, err := OpenReceipt(raw, known)
		if err != nil {
			return
		}
		if r.GetLedgerIndex() != 7 {
			t.Fatalf("OpenReceipt accepted a receipt that was never signed: %v", r)
		}
	})
}
