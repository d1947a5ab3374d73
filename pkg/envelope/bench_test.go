package envelope_test

import (
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/bench"
	"github.com/focalpoint-gateway/focalpoint/pkg/envelope"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/keys"
)

// The envelope is where a message's signing and verifying costs are paid: once
// each per message on the path, and once each per receipt.

func benchSigner(b *testing.B) *keys.Signer {
	b.Helper()
	skey, _, err := keys.Generate("imigrasi.go.id/focalpoint/messages")
	if err != nil {
		b.Fatal(err)
	}
	s, err := keys.ParseSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// message1K is the alert `focalpoint bench` sends: 1 KiB sealed.
func message1K(b *testing.B) *messagev1.Message {
	b.Helper()
	m, err := bench.Message(time.Now(), 1024)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkSeal1KiB(b *testing.B) {
	s, m := benchSigner(b), message1K(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := envelope.Seal(m, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen1KiB(b *testing.B) {
	s, m := benchSigner(b), message1K(b)
	raw, err := envelope.Seal(m, s)
	if err != nil {
		b.Fatal(err)
	}
	known := note.VerifierList(s.Verifier())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := envelope.Open(raw, known); err != nil {
			b.Fatal(err)
		}
	}
}

func receipt() *envelopev1.Receipt {
	return &envelopev1.Receipt{
		MessageId:      "01900000-0000-7000-8000-000000000001",
		EnvelopeSha256: make([]byte, 32),
		LedgerIndex:    1 << 20,
		ReceivedAt:     timestamppb.Now(),
		Receiver:       &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/node"},
	}
}

func BenchmarkSignReceipt(b *testing.B) {
	s, r := benchSigner(b), receipt()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := envelope.SignReceipt(r, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenReceipt(b *testing.B) {
	s := benchSigner(b)
	raw, err := envelope.SignReceipt(receipt(), s)
	if err != nil {
		b.Fatal(err)
	}
	known := note.VerifierList(s.Verifier())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := envelope.OpenReceipt(raw, known); err != nil {
			b.Fatal(err)
		}
	}
}
