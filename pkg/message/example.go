package message

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// The examples are what `focalpoint alert example`, `focalpoint outcome
// example` and the like print for an officer to edit. Every person, number
// and flight in them is made up: "Contoh" is Indonesian for "example",
// and ZZ is not an airline. They tell one story: ExampleAlert's traveller is
// met on arrival (ExampleAcknowledgement, ExampleOutcome), her rebooked
// flight corrected (ExampleAlertUpdate), and, found later in a scam compound,
// referred for repatriation (ExampleReferral). Each example passes Validate
// inside a message created at the time it was made for, with the header its
// kind needs (see Threading), so an officer who changes one field sees errors
// about that field only.

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
// alert like ExampleAlert's (an outcome may answer a referral as well). The
// header that carries it must name the alert in in_reply_to.
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

// ExampleAlertUpdate returns a filled-in, valid update as of now, correcting
// ExampleAlert's journey: the traveller was rebooked on a later flight. The
// header that carries it must name the alert in in_reply_to.
func ExampleAlertUpdate(now time.Time) *messagev1.AlertUpdate {
	now = now.UTC()
	travel := ExampleAlert(now).GetTravel()
	travel.Flight = "ZZ 125"
	travel.ScheduledAt = timestamppb.New(now.Truncate(time.Hour).Add(30 * time.Hour))
	return &messagev1.AlertUpdate{
		Reason: "Traveller missed flight ZZ 123 and was rebooked on ZZ 125 the next day",
		Travel: travel,
	}
}

// ExampleWithdrawal returns a filled-in, valid withdrawal of an alert like
// ExampleAlert's. The header that carries it must name the alert in
// in_reply_to.
func ExampleWithdrawal() *messagev1.AlertWithdrawal {
	return &messagev1.AlertWithdrawal{
		ReasonCode: messagev1.WithdrawalReason_WITHDRAWAL_REASON_RESOLVED,
		Reason:     "Traveller cancelled her journey after counselling at the airport and went home with her family",
	}
}

// ExampleAcknowledgement returns a filled-in, valid acknowledgement: the
// message is read and accepted for action by a named unit. The header that
// carries it must name the acknowledged message in in_reply_to.
func ExampleAcknowledgement() *messagev1.Acknowledgement {
	return &messagev1.Acknowledgement{
		Status:       messagev1.AcknowledgementStatus_ACKNOWLEDGEMENT_STATUS_ACCEPTED_FOR_ACTION,
		AssignedUnit: "Victim screening team, Techo International Airport",
	}
}

// ExampleReferral returns a filled-in, valid referral as of now: ExampleAlert's
// traveller, found in a scam compound, referred by the Cambodian side for
// repatriation to Indonesia. It may open a case of its own or, with
// in_reply_to naming the alert, continue the alert's.
func ExampleReferral(now time.Time) *messagev1.CaseReferral {
	now = now.UTC()
	return &messagev1.CaseReferral{
		Type:     messagev1.ReferralType_REFERRAL_TYPE_VICTIM_REPATRIATION,
		Subjects: []*messagev1.Subject{ExampleAlert(now).GetSubject()},
		Facts: "The subject, an Indonesian citizen, was among 14 people removed by the police from a compound in Contoh district where online investment scams were run.\n" +
			"Screened at the shelter as a possible victim of trafficking: recruited through social media for 'customer service' work, her passport was taken by the employer on arrival and she was made to work under threat.\n" +
			"Her passport X0000001 was not recovered. She wishes to return to Indonesia.",
		RequestedAssistance: "1. Confirm her Indonesian nationality.\n" +
			"2. Issue an emergency travel document (SPLP) through the embassy in Phnom Penh.\n" +
			"3. Name the unit that will receive her on arrival at Soekarno-Hatta.",
		ResponseDeadline: timestamppb.New(now.Truncate(time.Hour).AddDate(0, 0, 14)),
		Urgency:          messagev1.Urgency_URGENCY_NORMAL,
	}
}

// ExampleStatistics returns a filled-in, valid statistics report for the
// calendar month (UTC) before now's. Its figures are invented, of the order
// the Indonesian side reported in 2025.
func ExampleStatistics(now time.Time) *messagev1.StatisticsReport {
	now = now.UTC()
	lastMonth := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	return &messagev1.StatisticsReport{
		Period:                    lastMonth.Format("2006-01"),
		DeferredDepartures:        1250,
		DeferredPassportIssuances: 310,
		AlertsSent:                42,
		AlertsReceived:            3,
		ReferralsSent:             5,
		ReferralsReceived:         11,
		OutcomesByType: []*messagev1.OutcomeCount{
			{Outcome: messagev1.Outcome_OUTCOME_LOCATED, Count: 2},
			{Outcome: messagev1.Outcome_OUTCOME_REPATRIATED, Count: 9},
		},
		Notes: "Deferred departures are counted at the airports and seaports of departure.\nFigures are provisional until the annual report.",
	}
}
