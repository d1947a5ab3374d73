package message

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// FuzzValidate feeds Validate whatever proto.Unmarshal makes of arbitrary
// bytes, as a peer or a broken client could send. Validate must not panic,
// and when it refuses a message it must say why.
func FuzzValidate(f *testing.F) {
	for _, m := range []*messagev1.Message{alertMessage(), outcomeMessage(), testMessage(), {}} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bad := alertMessage()
	alertOf(bad).Document.MrzLines = specimenTD1
	alertOf(bad).Subject.Role = 99
	b, err := proto.Marshal(bad)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)

	f.Fuzz(func(t *testing.T, b []byte) {
		var m messagev1.Message
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		err := Validate(&m, testNow)
		if err == nil {
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate returned %T %v, want a *ValidationError", err, err)
		}
		if len(ve.Violations) == 0 {
			t.Fatal("ValidationError without violations")
		}
		for _, v := range ve.Violations {
			if v.Field == "" || v.Description == "" {
				t.Fatalf("incomplete violation %+v", v)
			}
		}
	})
}
