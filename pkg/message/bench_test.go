package message_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/bench"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// Validate runs twice per message on the path: before the sender signs and
// after the receiver verifies.

func BenchmarkValidateExampleAlert(b *testing.B) {
	now := time.Now()
	m := &messagev1.Message{
		Header: &messagev1.Header{
			MessageId:     "01900000-0000-7000-8000-000000000001",
			Sender:        &messagev1.Party{Agency: "ID-DJI", SpiffeId: "spiffe://imigrasi.go.id/focalpoint/node"},
			Recipient:     &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/node"},
			CreatedAt:     timestamppb.New(now),
			ThreadId:      "01900000-0000-7000-8000-000000000001",
			Handling:      message.ExampleHandling(),
			SchemaVersion: message.SchemaVersion,
		},
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: message.ExampleAlert(now)}},
	}
	validate(b, m, now)
}

// BenchmarkValidateAlert1KiB validates the alert `focalpoint bench` sends.
func BenchmarkValidateAlert1KiB(b *testing.B) {
	now := time.Now()
	m, err := bench.Message(now, 1024)
	if err != nil {
		b.Fatal(err)
	}
	validate(b, m, now)
}

func validate(b *testing.B, m *messagev1.Message, now time.Time) {
	b.ReportAllocs()
	for b.Loop() {
		if err := message.Validate(m, now); err != nil {
			b.Fatal(err)
		}
	}
}
