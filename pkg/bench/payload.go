package bench

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/focalpoint-gateway/focalpoint/pkg/devpki"
	envelopev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/envelope/v1"
	focalv1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/focal/v1"
	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
	"github.com/focalpoint-gateway/focalpoint/pkg/message"
)

// The load is realistic alerts, not random bytes: message.ExampleAlert with
// more indicators, so that the envelope the node signs, ledgers and sends is
// the size asked for. Validation, serialization and hashing then cost what
// they cost for a real alert of that size.

const (
	// maxIndicators and maxIndicatorLength are the schema's limits.
	maxIndicators      = 20
	maxIndicatorLength = 200
	// placeholderID stands for the UUID the node gives a message: same length.
	placeholderID = "01900000-0000-7000-8000-000000000000"
	filler        = "Observed at check-in with other travellers holding tickets bought by the same agent, " +
		"all declaring tourism, none holding a return booking or hotel reservation, and "
)

// MinPayload is the smallest envelope an example alert makes.
func MinPayload(now time.Time) int { return envelopeSize(exampleMessage(now, nil)) }

// MaxPayload is the largest envelope an alert padded within the schema's
// limits makes.
func MaxPayload(now time.Time) int {
	var ind []string
	for range maxIndicators - len(message.ExampleAlert(now).GetIndicators()) {
		ind = append(ind, indicator(maxIndicatorLength))
	}
	return envelopeSize(exampleMessage(now, ind))
}

// Message is a complete alert message from the first dev node to the second,
// as a node composes it, whose sealed envelope is size bytes (within a few
// bytes: lengths are varints). Size must be between MinPayload and
// MaxPayload.
func Message(now time.Time, size int) (*messagev1.Message, error) {
	ind, err := indicatorsFor(now, size)
	if err != nil {
		return nil, err
	}
	return exampleMessage(now, ind), nil
}

// Draft is what a submitter hands the local API for a message like
// Message(now, size): the node fills in the header.
func Draft(now time.Time, size int) (*focalv1.Draft, error) {
	ind, err := indicatorsFor(now, size)
	if err != nil {
		return nil, err
	}
	alert := message.ExampleAlert(now)
	alert.Indicators = append(alert.Indicators, ind...)
	return &focalv1.Draft{
		Handling: message.ExampleHandling(),
		Payload:  &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: alert}},
	}, nil
}

func indicatorsFor(now time.Time, size int) ([]string, error) {
	if lo, hi := MinPayload(now), MaxPayload(now); size < lo || size > hi {
		return nil, fmt.Errorf("bench: a payload of %d bytes cannot be made of a valid alert: from %d to %d bytes", size, lo, hi)
	}
	var ind []string
	for {
		need := size - envelopeSize(exampleMessage(now, ind))
		if need <= 0 {
			return ind, nil
		}
		if len(ind) > 0 && len(ind[len(ind)-1]) < maxIndicatorLength {
			// Grow the last one: a byte more of text is a byte more of envelope,
			// but for a length varint that may grow with it.
			last := &ind[len(ind)-1]
			*last = indicator(min(maxIndicatorLength, len(*last)+need))
			if envelopeSize(exampleMessage(now, ind)) > size && len(*last) > 1 {
				*last = indicator(len(*last) - 1)
				return ind, nil
			}
			continue
		}
		if len(ind) == maxIndicators-len(message.ExampleAlert(now).GetIndicators()) {
			return ind, nil
		}
		// A new indicator costs its text plus a tag and a length.
		ind = append(ind, indicator(max(1, min(maxIndicatorLength, need-3))))
	}
}

// indicator is n characters of plausible text, not ending in a space.
func indicator(n int) string {
	s := strings.Repeat(filler, n/len(filler)+1)[:n]
	if strings.HasSuffix(s, " ") {
		s = s[:n-1] + "."
	}
	return s
}

func exampleMessage(now time.Time, extra []string) *messagev1.Message {
	nodes := devpki.Default()
	alert := message.ExampleAlert(now)
	alert.Indicators = append(alert.Indicators, extra...)
	return &messagev1.Message{
		Header: &messagev1.Header{
			MessageId:     placeholderID,
			Sender:        &messagev1.Party{Agency: nodes[0].Agency, SpiffeId: devpki.NodeID(nodes[0].TrustDomain).String()},
			Recipient:     &messagev1.Party{Agency: nodes[1].Agency, SpiffeId: devpki.NodeID(nodes[1].TrustDomain).String()},
			CreatedAt:     timestamppb.New(now),
			ThreadId:      placeholderID,
			Handling:      message.ExampleHandling(),
			SchemaVersion: message.SchemaVersion,
		},
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: alert}},
	}
}

// envelopeSize is the size of m sealed by the first dev node's messages key.
func envelopeSize(m *messagev1.Message) int {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("bench: marshal example message: %v", err))
	}
	return proto.Size(&envelopev1.Envelope{Message: body, Signature: &envelopev1.Signature{
		KeyName:   devpki.MessagesKeyName(devpki.Default()[0].TrustDomain),
		KeyHash:   1, // fixed32: any value is four bytes
		Signature: make([]byte, 64),
	}})
}
