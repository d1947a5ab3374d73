package message

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// FuzzValidate feeds Validate whatever proto.Unmarshal makes of arbitrary
// bytes, as a peer or a broken client could send. Validate must not panic,
// and when it refuses a message it must say why. The helpers the nodes call
// on received messages (Kind, ResponseDeadline, ValidateUpdate) must not
// panic either.
func FuzzValidate(f *testing.F) {
	seeds := []*messagev1.Message{{}}
	for _, kind := range Kinds() {
		seeds = append(seeds, validMessages[kind]())
	}
	bad := alertMessage()
	alertOf(bad).Document.MrzLines = specimenTD1
	alertOf(bad).Subject.Role = 99
	badUpdate := updateMessage()
	updateOf(badUpdate).Subject = exampleSubject()
	updateOf(badUpdate).Document = ExampleAlert(testNow).GetDocument()
	updateOf(badUpdate).Category = messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER
	badReferral := referralMessage()
	referralOf(badReferral).Subjects = append(referralOf(badReferral).Subjects, exampleSubject(), person("PERANTARA", suspect))
	badStats := statisticsMessage()
	statsOf(badStats).OutcomesByType = append(statsOf(badStats).OutcomesByType, &messagev1.OutcomeCount{Outcome: 2, Count: MaxCount + 1})
	seeds = append(seeds, bad, badUpdate, badReferral, badStats)
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	alert := alertMessage()
	alert.Header.MessageId = testAlertID

	f.Fuzz(func(t *testing.T, b []byte) {
		var m messagev1.Message
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		Kind(&m)
		ResponseDeadline(&m, time.Hour, 24*time.Hour)
		checkRefusal(t, "ValidateUpdate", ValidateUpdate(alert, &m))
		checkRefusal(t, "Validate", Validate(&m, testNow))
	})
}

// checkRefusal fails unless err is nil or a complete *ValidationError.
func checkRefusal(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%s returned %T %v, want a *ValidationError", what, err, err)
	}
	if len(ve.Violations) == 0 {
		t.Fatalf("%s: ValidationError without violations", what)
	}
	for _, v := range ve.Violations {
		if v.Field == "" || v.Description == "" {
			t.Fatalf("%s: incomplete violation %+v", what, v)
		}
	}
}
