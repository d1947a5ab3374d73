package message

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// The examples are what `focalpoint alert example` and `focalpoint outcome
// example` print for an officer to edit. Every person, number and flight in
// them is made up: "Contoh" is Indonesian for "example", and ZZ is not an
// airline. Each example passes Validate as of the time it was made for, so an
// officer who changes one field sees errors about that field only.

// exampleDateOfBirth is fixed, not derived from now, so the example's person
// is the same person every day.
const exampleDateOfBirth = "1999-04-12"

// ExampleAlert returns a filled-in, valid alert as of now: an Indonesian
// passport holder bound for Phnom Penh, possibly recruited for a scam
// operation. Its MRZ (TD3) is built from the other fields with every check
// digit computed, so it stays consistent when the dates move with now.
func ExampleAlert(now time.Time) *messagev1.SuspectTravellerAlert {
	now = now.UTC()
	const (
		family      = "CONTOH"
		given       = "SITI RAHAYU"
		number      = "X0000001"
		state       = "IDN"
		nationality = "IDN"
	)
	expiry := now.AddDate(4, 0, 0).Format(time.DateOnly)
	mrz := td3Lines("P", state, family, given, number, nationality, exampleDateOfBirth, 'F', expiry, "")
	return &messagev1.SuspectTravellerAlert{
		Subject: &messagev1.Subject{
			Role:         messagev1.SubjectRole_SUBJECT_ROLE_POSSIBLE_VICTIM,
			FamilyName:   family,
			GivenNames:   given,
			Aliases:      []string{"AMINAH"},
			DateOfBirth:  exampleDateOfBirth,
			PlaceOfBirth: "CONTOH, JAWA BARAT",
			Sex:          messagev1.Sex_SEX_FEMALE,
			Nationality:  nationality,
		},
		Document: &messagev1.TravelDocument{
			Type:         messagev1.DocumentType_DOCUMENT_TYPE_PASSPORT,
			Number:       number,
			IssuingState: state,
			ExpiryDate:   expiry,
			MrzLines:     mrz[:],
		},
		Travel: &messagev1.Travel{
			Direction:   messagev1.TravelDirection_TRAVEL_DIRECTION_DEPARTURE,
			Port:        "CGK Soekarno-Hatta",
			Carrier:     "ZZ",
			Flight:      "ZZ 123",
			ScheduledAt: timestamppb.New(now.Truncate(time.Hour).Add(6 * time.Hour)),
			Destination: "Phnom Penh, KHM",
		},
		Category: messagev1.AlertCategory_ALERT_CATEGORY_SCAM_OPERATION_WORKER,
		Indicators: []string{
			"Job offer for 'customer service' work in Cambodia received through social media, pay far above the market",
			"Ticket bought by a third party the day before departure",
			"Travels as a tourist but says she will start work on arrival",
		},
		RequestedAction: messagev1.RequestedAction_REQUESTED_ACTION_VICTIM_SCREENING,
		Urgency:         messagev1.Urgency_URGENCY_URGENT,
		UrgencyReason:   "Flight lands in Phnom Penh within 12 hours",
		ExpiresAt:       timestamppb.New(now.Truncate(time.Second).AddDate(0, 0, 30)),
	}
}

// ExampleOutcome returns a filled-in, valid outcome as of now, answering an
// alert like ExampleAlert's. The header that carries it must name the alert in
// in_reply_to.
func ExampleOutcome(now time.Time) *messagev1.CaseOutcome {
	now = now.UTC()
	return &messagev1.CaseOutcome{
		Result:     messagev1.OutcomeResult_OUTCOME_RESULT_HIT_ACTION_TAKEN,
		Outcome:    messagev1.Outcome_OUTCOME_LOCATED,
		OccurredAt: timestamppb.New(now.Truncate(time.Minute).Add(-2 * time.Hour)),
		Place:      "Techo International Airport, Phnom Penh",
		Narrative: "Subject located at the arrival hall and screened as a possible victim.\n" +
			"She confirmed the job offer and that her passport was to be held by the employer.\n" +
			"Referred to the victim-support unit; no onward travel to the worksite.",
	}
}

// ExampleHandling returns the handling most exchanges under the Letter of
// Intent use: H2, no onward sharing without the originator's consent.
func ExampleHandling() *messagev1.Handling {
	return &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H2}
}
