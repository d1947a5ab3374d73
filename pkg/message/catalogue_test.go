package message

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// The workflow's kinds: alert updates and withdrawals, referrals,
// acknowledgements and statistics reports.

const testOtherAlertID = "01956f3a-1c2b-7d4e-8f90-a1b2c3d4e5f7"

func replyHeader() *messagev1.Header {
	h := testHeader()
	h.InReplyTo = testAlertID
	return h
}

func updateMessage() *messagev1.Message {
	return &messagev1.Message{Header: replyHeader(), Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_AlertUpdate{AlertUpdate: ExampleAlertUpdate(testNow)}}}
}

func withdrawalMessage() *messagev1.Message {
	return &messagev1.Message{Header: replyHeader(), Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_AlertWithdrawal{AlertWithdrawal: ExampleWithdrawal()}}}
}

func referralMessage() *messagev1.Message {
	return &messagev1.Message{Header: testHeader(), Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Referral{Referral: ExampleReferral(testNow)}}}
}

func acknowledgementMessage() *messagev1.Message {
	return &messagev1.Message{Header: replyHeader(), Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Acknowledgement{Acknowledgement: ExampleAcknowledgement()}}}
}

func statisticsMessage() *messagev1.Message {
	h := testHeader()
	h.ThreadId = ""
	return &messagev1.Message{Header: h, Payload: &messagev1.Payload{
		Kind: &messagev1.Payload_Statistics{Statistics: ExampleStatistics(testNow)}}}
}

// validMessages is a valid message of every kind, with the header its kind needs.
var validMessages = map[string]func() *messagev1.Message{
	KindAlert:           alertMessage,
	KindAlertUpdate:     updateMessage,
	KindAlertWithdrawal: withdrawalMessage,
	KindReferral:        referralMessage,
	KindOutcome:         outcomeMessage,
	KindAcknowledgement: acknowledgementMessage,
	KindStatistics:      statisticsMessage,
	KindTest:            testMessage,
}

func updateOf(m *messagev1.Message) *messagev1.AlertUpdate { return m.GetPayload().GetAlertUpdate() }
func withdrawalOf(m *messagev1.Message) *messagev1.AlertWithdrawal {
	return m.GetPayload().GetAlertWithdrawal()
}
func referralOf(m *messagev1.Message) *messagev1.CaseReferral { return m.GetPayload().GetReferral() }
func ackOf(m *messagev1.Message) *messagev1.Acknowledgement {
	return m.GetPayload().GetAcknowledgement()
}
func statsOf(m *messagev1.Message) *messagev1.StatisticsReport {
	return m.GetPayload().GetStatistics()
}

func exampleSubject() *messagev1.Subject { return ExampleAlert(testNow).GetSubject() }

// person returns a distinct fictional subject with the given role.
func person(family string, role messagev1.SubjectRole) *messagev1.Subject {
	return &messagev1.Subject{Role: role, FamilyName: family, DateOfBirth: "1988-11-02",
		Sex: messagev1.Sex_SEX_MALE, Nationality: "IDN"}
}

var (
	suspect  = messagev1.SubjectRole_SUBJECT_ROLE_SUSPECT
	victim   = messagev1.SubjectRole_SUBJECT_ROLE_POSSIBLE_VICTIM
	witness  = messagev1.SubjectRole_SUBJECT_ROLE_WITNESS
	urgent   = messagev1.Urgency_URGENCY_URGENT
	normal   = messagev1.Urgency_URGENCY_NORMAL
	notActed = messagev1.AcknowledgementStatus_ACKNOWLEDGEMENT_STATUS_NOT_ACTIONABLE
)

func TestValidateAcceptsWorkflowMessages(t *testing.T) {
	tests := []struct {
		name string
		msg  func() *messagev1.Message
	}{
		{"example alert update", updateMessage},
		{"example withdrawal", withdrawalMessage},
		{"example referral", referralMessage},
		{"example acknowledgement", acknowledgementMessage},
		{"example statistics", statisticsMessage},
		{"outcome answering a referral", outcomeMessage}, // the header cannot tell; the ledger can

		// Alert update.
		{"update emptying the indicators", func() *messagev1.Message {
			m := updateMessage()
			updateOf(m).Travel = nil
			updateOf(m).Indicators = &messagev1.IndicatorList{}
			return m
		}},
		{"update of urgency to normal without reason", func() *messagev1.Message {
			m := updateMessage()
			updateOf(m).Travel, updateOf(m).Urgency = nil, normal
			return m
		}},
		{"update of urgency to urgent with reason", func() *messagev1.Message {
			m := updateMessage()
			updateOf(m).Urgency, updateOf(m).UrgencyReason = urgent, "Boarding now"
			return m
		}},
		{"update of every field", func() *messagev1.Message {
			m := updateMessage()
			a := ExampleAlert(testNow)
			u := updateOf(m)
			u.Subject, u.Document, u.Category = a.Subject, a.Document, messagev1.AlertCategory_ALERT_CATEGORY_SUSPECTED_TPPO_VICTIM
			u.Indicators = &messagev1.IndicatorList{Items: a.Indicators}
			u.RequestedAction = messagev1.RequestedAction_REQUESTED_ACTION_INTERVIEW
			u.ExpiresAt = timestamppb.New(testNow.Add(366 * 24 * time.Hour))
			return m
		}},
		{"update of the document alone, MRZ included", func() *messagev1.Message {
			m := updateMessage()
			updateOf(m).Travel, updateOf(m).Document = nil, ExampleAlert(testNow).Document
			return m
		}},

		// Withdrawal.
		{"withdrawal of a duplicate naming the alert that stays", func() *messagev1.Message {
			m := withdrawalMessage()
			withdrawalOf(m).ReasonCode = messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE
			withdrawalOf(m).DuplicateOf = testOtherAlertID
			return m
		}},
		{"withdrawal of a duplicate without naming the other", func() *messagev1.Message {
			m := withdrawalMessage()
			withdrawalOf(m).ReasonCode = messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE
			return m
		}},

		// Referral.
		{"referral following an alert", func() *messagev1.Message {
			m := referralMessage()
			m.Header.InReplyTo = testAlertID
			return m
		}},
		{"investigation request with suspect, victim and witness", func() *messagev1.Message {
			m := referralMessage()
			r := referralOf(m)
			r.Type = messagev1.ReferralType_REFERRAL_TYPE_INVESTIGATION_REQUEST
			r.Subjects = append(r.Subjects, person("PERANTARA", suspect), person("SAKSI", witness))
			return m
		}},
		{"victim repatriation with a witness", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).Subjects = append(referralOf(m).Subjects, person("SAKSI", witness))
			return m
		}},
		{"deportation notice of a possible victim", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).Type = messagev1.ReferralType_REFERRAL_TYPE_DEPORTATION_NOTICE
			return m
		}},
		{"referral of 20 people", func() *messagev1.Message {
			m := referralMessage()
			r := referralOf(m)
			for i := 1; i < 20; i++ {
				r.Subjects = append(r.Subjects, person(fmt.Sprintf("CONTOH %c", 'A'+i), victim))
			}
			return m
		}},
		{"two people of one name born on other days", func() *messagev1.Message {
			m := referralMessage()
			other := exampleSubject()
			other.DateOfBirth = "2001-01-01"
			referralOf(m).Subjects = append(referralOf(m).Subjects, other)
			return m
		}},
		{"referral without deadline, urgent with reason", func() *messagev1.Message {
			m := referralMessage()
			r := referralOf(m)
			r.ResponseDeadline, r.Urgency, r.UrgencyReason = nil, urgent, "Shelter stay ends in three days"
			return m
		}},
		{"referral deadline a year away", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).ResponseDeadline = timestamppb.New(testNow.Add(366 * 24 * time.Hour))
			return m
		}},
		{"facts of 4000 Khmer characters", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).Facts = strings.Repeat("ក", 4000)
			return m
		}},

		// Acknowledgement.
		{"not actionable with a note", func() *messagev1.Message {
			m := acknowledgementMessage()
			ackOf(m).Status, ackOf(m).AssignedUnit, ackOf(m).Note = notActed, "", "The traveller did not arrive on any flight today"
			return m
		}},
		{"accepted with a note and no unit", func() *messagev1.Message {
			m := acknowledgementMessage()
			ackOf(m).AssignedUnit, ackOf(m).Note = "", "Will report by Friday"
			return m
		}},

		// Statistics.
		{"statistics of the current month", func() *messagev1.Message {
			m := statisticsMessage()
			statsOf(m).Period = "2026-03"
			return m
		}},
		{"statistics of 2000-01, all zero", func() *messagev1.Message {
			m := statisticsMessage()
			m.Payload.Kind = &messagev1.Payload_Statistics{Statistics: &messagev1.StatisticsReport{Period: "2000-01"}}
			return m
		}},
		{"statistics at the limit", func() *messagev1.Message {
			m := statisticsMessage()
			s := statsOf(m)
			s.DeferredDepartures, s.ReferralsReceived = MaxCount, MaxCount
			s.OutcomesByType = nil
			for n := int32(1); n <= 10; n++ {
				s.OutcomesByType = append(s.OutcomesByType, &messagev1.OutcomeCount{Outcome: messagev1.Outcome(n), Count: MaxCount})
			}
			return m
		}},

		// Test message.
		{"test message answering a test message", func() *messagev1.Message {
			m := testMessage()
			m.Header.InReplyTo = testAlertID
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.msg(), testNow); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejectsWorkflowMistakes(t *testing.T) {
	const (
		up  = "payload.alert_update"
		wd  = "payload.alert_withdrawal"
		ref = "payload.referral"
		ack = "payload.acknowledgement"
		st  = "payload.statistics"
	)
	runRejects(t, []rejectCase{
		// Alert update.
		{"update without in_reply_to", updateMessage, func(m *messagev1.Message) { m.Header.InReplyTo = "" },
			[]string{"header.in_reply_to"}, "required for an alert update: the message ID of the alert it answers"},
		{"update without thread", updateMessage, func(m *messagev1.Message) { m.Header.ThreadId = "" },
			[]string{"header.thread_id"}, "required"},
		{"update without reason", updateMessage, func(m *messagev1.Message) { updateOf(m).Reason = "" },
			[]string{up + ".reason"}, "required"},
		{"update reason of 501 characters", updateMessage, func(m *messagev1.Message) { updateOf(m).Reason = strings.Repeat("é", 501) },
			[]string{up + ".reason"}, "1 to 500 characters, got 501"},
		{"update reason on two lines", updateMessage, func(m *messagev1.Message) { updateOf(m).Reason = "Rebooked\nnext day" },
			[]string{up + ".reason"}, "U+000A"},
		{"update correcting nothing", updateMessage, func(m *messagev1.Message) { updateOf(m).Travel = nil },
			[]string{up}, "corrects nothing: set at least one of subject, document"},
		{"update subject without role", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Subject.Role = 0
		}, []string{up + ".subject.role"}, "required: one of SUSPECT, POSSIBLE_VICTIM, WITNESS"},
		{"update subject with bidi override", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Subject.FamilyName = "CON\u202eTOH"
		}, []string{up + ".subject.family_name"}, "U+202E"},
		{"update subject empty", updateMessage, func(m *messagev1.Message) { updateOf(m).Subject = &messagev1.Subject{} },
			[]string{up + ".subject.role", up + ".subject.family_name", up + ".subject.date_of_birth", up + ".subject.sex", up + ".subject.nationality"}, "required"},
		{"update travel without port", updateMessage, func(m *messagev1.Message) { updateOf(m).Travel.Port = "" },
			[]string{up + ".travel.port"}, "required"},
		{"update document disagreeing with its MRZ", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Document = ExampleAlert(testNow).Document
			updateOf(m).Document.Number = "X0000002"
		}, []string{up + ".document.mrz_lines[1]"}, "document number in the MRZ is X0000001, but the document number field says X0000002"},
		{"update subject disagreeing with the update's MRZ", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Document = ExampleAlert(testNow).Document
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Subject.DateOfBirth = "1999-04-21"
		}, []string{up + ".document.mrz_lines[1]"}, "the subject's date of birth is 1999-04-21"},
		{"update presenting a recruiter's subject as a victim", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER
		}, []string{up + ".subject.role"}, "is POSSIBLE_VICTIM, but category RECRUITER_OR_TRAFFICKER requires role SUSPECT"},
		{"update with unknown category", updateMessage, func(m *messagev1.Message) { updateOf(m).Category = 42 },
			[]string{up + ".category"}, "unknown value 42"},
		{"update with unknown requested action", updateMessage, func(m *messagev1.Message) { updateOf(m).RequestedAction = 6 },
			[]string{up + ".requested_action"}, "unknown value 6"},
		{"update with unknown urgency", updateMessage, func(m *messagev1.Message) { updateOf(m).Urgency = 3 },
			[]string{up + ".urgency"}, "unknown value 3; use one of NORMAL, URGENT"},
		{"update to urgent without reason", updateMessage, func(m *messagev1.Message) { updateOf(m).Urgency = urgent },
			[]string{up + ".urgency_reason"}, "required when urgency is URGENT"},
		{"update with reason but no urgency", updateMessage, func(m *messagev1.Message) { updateOf(m).UrgencyReason = "Boarding now" },
			[]string{up + ".urgency_reason"}, "must be empty unless urgency is set"},
		{"update with 21 indicators", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Indicators = &messagev1.IndicatorList{Items: strings.Split(strings.Repeat("seen,", 20)+"seen", ",")}
		}, []string{up + ".indicators.items"}, "at most 20 indicators, got 21"},
		{"update with an empty indicator", updateMessage, func(m *messagev1.Message) {
			updateOf(m).Indicators = &messagev1.IndicatorList{Items: []string{"seen", ""}}
		}, []string{up + ".indicators.items[1]"}, "required"},
		{"update expiring before creation", updateMessage, func(m *messagev1.Message) {
			updateOf(m).ExpiresAt = timestamppb.New(testNow.Add(-time.Minute))
		}, []string{up + ".expires_at"}, "not after the message's creation time"},
		{"update expiring after a year", updateMessage, func(m *messagev1.Message) {
			updateOf(m).ExpiresAt = timestamppb.New(testNow.Add(367 * 24 * time.Hour))
		}, []string{up + ".expires_at"}, "more than one year"},
		{"update kind set to nil", updateMessage, func(m *messagev1.Message) {
			m.Payload.Kind = &messagev1.Payload_AlertUpdate{}
		}, []string{up}, "required"},

		// Withdrawal.
		{"withdrawal without in_reply_to", withdrawalMessage, func(m *messagev1.Message) { m.Header.InReplyTo = "" },
			[]string{"header.in_reply_to"}, "required for an alert withdrawal: the message ID of the alert it answers"},
		{"withdrawal without thread", withdrawalMessage, func(m *messagev1.Message) { m.Header.ThreadId = "" },
			[]string{"header.thread_id"}, "required"},
		{"withdrawal without reason code", withdrawalMessage, func(m *messagev1.Message) { withdrawalOf(m).ReasonCode = 0 },
			[]string{wd + ".reason_code"}, "required: one of ERROR, RESOLVED, DUPLICATE, OTHER"},
		{"withdrawal with unknown reason code", withdrawalMessage, func(m *messagev1.Message) { withdrawalOf(m).ReasonCode = 9 },
			[]string{wd + ".reason_code"}, "unknown value 9"},
		{"withdrawal without reason", withdrawalMessage, func(m *messagev1.Message) { withdrawalOf(m).Reason = " " },
			[]string{wd + ".reason"}, "only spaces"},
		{"withdrawal reason of 501 characters", withdrawalMessage, func(m *messagev1.Message) { withdrawalOf(m).Reason = strings.Repeat("x", 501) },
			[]string{wd + ".reason"}, "got 501"},
		{"duplicate_of with reason RESOLVED", withdrawalMessage, func(m *messagev1.Message) { withdrawalOf(m).DuplicateOf = testOtherAlertID },
			[]string{wd + ".duplicate_of"}, "must be empty for reason code RESOLVED"},
		{"duplicate_of not a UUID", withdrawalMessage, func(m *messagev1.Message) {
			withdrawalOf(m).ReasonCode = messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE
			withdrawalOf(m).DuplicateOf = "alert 16"
		}, []string{wd + ".duplicate_of"}, "not a UUID"},
		{"duplicate of itself", withdrawalMessage, func(m *messagev1.Message) {
			withdrawalOf(m).ReasonCode = messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE
			withdrawalOf(m).DuplicateOf = testAlertID
		}, []string{wd + ".duplicate_of"}, "the withdrawn alert itself"},
		{"duplicate of the withdrawal", withdrawalMessage, func(m *messagev1.Message) {
			withdrawalOf(m).ReasonCode = messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE
			withdrawalOf(m).DuplicateOf = testMessageID
		}, []string{wd + ".duplicate_of"}, "this message's own ID"},

		// Referral.
		{"referral without thread", referralMessage, func(m *messagev1.Message) { m.Header.ThreadId = "" },
			[]string{"header.thread_id"}, "required"},
		{"referral without handling", referralMessage, func(m *messagev1.Message) { m.Header.Handling = nil },
			[]string{"header.handling"}, "required: a handling code H0 to H3"},
		{"referral with unspecified handling code", referralMessage, func(m *messagev1.Message) { m.Header.Handling.Code = 0 },
			[]string{"header.handling.code"}, "required"},
		{"referral without type", referralMessage, func(m *messagev1.Message) { referralOf(m).Type = 0 },
			[]string{ref + ".type"}, "required: one of VICTIM_REPATRIATION, INVESTIGATION_REQUEST, DOCUMENT_MISUSE, DEPORTATION_NOTICE"},
		{"referral of unknown type", referralMessage, func(m *messagev1.Message) { referralOf(m).Type = 5 },
			[]string{ref + ".type"}, "unknown value 5"},
		{"referral without subjects", referralMessage, func(m *messagev1.Message) { referralOf(m).Subjects = nil },
			[]string{ref + ".subjects"}, "required: at least one person"},
		{"referral of 21 people", referralMessage, func(m *messagev1.Message) {
			for i := 1; i < 21; i++ {
				referralOf(m).Subjects = append(referralOf(m).Subjects, person(fmt.Sprintf("CONTOH %c", 'A'+i), victim))
			}
		}, []string{ref + ".subjects"}, "at most 20 subjects, got 21"},
		{"referral subject without family name", referralMessage, func(m *messagev1.Message) { referralOf(m).Subjects[0].FamilyName = "" },
			[]string{ref + ".subjects[0].family_name"}, "required"},
		{"referral subject born in the future", referralMessage, func(m *messagev1.Message) { referralOf(m).Subjects[0].DateOfBirth = "2027-01-01" },
			[]string{ref + ".subjects[0].date_of_birth"}, "in the future"},
		{"referral subject without explicit role", referralMessage, func(m *messagev1.Message) {
			referralOf(m).Subjects = append(referralOf(m).Subjects, person("SAKSI", 0))
		}, []string{ref + ".subjects[1].role"}, "required: one of SUSPECT, POSSIBLE_VICTIM, WITNESS"},
		{"referral subject with unknown role", referralMessage, func(m *messagev1.Message) { referralOf(m).Subjects[0].Role = 4 },
			[]string{ref + ".subjects[0].role"}, "unknown value 4"},
		{"referral subject nil", referralMessage, func(m *messagev1.Message) {
			referralOf(m).Subjects = append(referralOf(m).Subjects, nil)
		}, []string{ref + ".subjects[1]"}, "required"},
		{"suspect in a victim repatriation", referralMessage, func(m *messagev1.Message) {
			referralOf(m).Subjects = append(referralOf(m).Subjects, person("PERANTARA", suspect))
		}, []string{ref + ".subjects[1].role"}, "is SUSPECT, but a VICTIM_REPATRIATION referral names only possible victims"},
		{"victim repatriation of a suspect alone", referralMessage, func(m *messagev1.Message) { referralOf(m).Subjects[0].Role = suspect },
			[]string{ref + ".subjects[0].role"}, "is SUSPECT"},
		{"victim repatriation without a victim", referralMessage, func(m *messagev1.Message) { referralOf(m).Subjects[0].Role = witness },
			[]string{ref + ".subjects"}, "needs at least one subject with role POSSIBLE_VICTIM"},
		{"one person as victim and as suspect", referralMessage, func(m *messagev1.Message) {
			referralOf(m).Type = messagev1.ReferralType_REFERRAL_TYPE_INVESTIGATION_REQUEST
			same := exampleSubject()
			same.Role = suspect
			same.FamilyName, same.GivenNames = "contoh", " Siti  Rahayu"
			referralOf(m).Subjects = append(referralOf(m).Subjects, person("SAKSI", witness), same)
		}, []string{ref + ".subjects[2]"}, "is the same person as subjects[0]"},
		{"referral without facts", referralMessage, func(m *messagev1.Message) { referralOf(m).Facts = "" },
			[]string{ref + ".facts"}, "required"},
		{"facts of 4001 characters", referralMessage, func(m *messagev1.Message) { referralOf(m).Facts = strings.Repeat("ក", 4001) },
			[]string{ref + ".facts"}, "1 to 4000 characters, got 4001"},
		{"facts with escape sequence", referralMessage, func(m *messagev1.Message) { referralOf(m).Facts = "Seen.\n\x1b[2J" },
			[]string{ref + ".facts"}, "U+001B at character 7 (only line breaks and tabs are allowed)"},
		{"facts with isolate", referralMessage, func(m *messagev1.Message) { referralOf(m).Facts = "Seen \u2067here" },
			[]string{ref + ".facts"}, "U+2067"},
		{"referral without requested assistance", referralMessage, func(m *messagev1.Message) { referralOf(m).RequestedAssistance = "" },
			[]string{ref + ".requested_assistance"}, "required"},
		{"requested assistance of 1001 characters", referralMessage, func(m *messagev1.Message) {
			referralOf(m).RequestedAssistance = strings.Repeat("x", 1001)
		}, []string{ref + ".requested_assistance"}, "1 to 1000 characters, got 1001"},
		{"deadline at creation", referralMessage, func(m *messagev1.Message) { referralOf(m).ResponseDeadline = timestamppb.New(testNow) },
			[]string{ref + ".response_deadline"}, "not after the message's creation time 2026-03-10T08:00:00Z"},
		{"deadline in the past", referralMessage, func(m *messagev1.Message) {
			referralOf(m).ResponseDeadline = timestamppb.New(testNow.AddDate(0, 0, -1))
		}, []string{ref + ".response_deadline"}, "not after"},
		{"deadline after a year", referralMessage, func(m *messagev1.Message) {
			referralOf(m).ResponseDeadline = timestamppb.New(testNow.Add(366*24*time.Hour + time.Second))
		}, []string{ref + ".response_deadline"}, "more than one year"},
		{"deadline out of range", referralMessage, func(m *messagev1.Message) {
			referralOf(m).ResponseDeadline = &timestamppb.Timestamp{Seconds: -1 << 62}
		}, []string{ref + ".response_deadline"}, "not a valid time"},
		{"referral without urgency", referralMessage, func(m *messagev1.Message) { referralOf(m).Urgency = 0 },
			[]string{ref + ".urgency"}, "required: one of NORMAL, URGENT"},
		{"urgent referral without reason", referralMessage, func(m *messagev1.Message) { referralOf(m).Urgency = urgent },
			[]string{ref + ".urgency_reason"}, "required when urgency is URGENT"},
		{"referral urgency reason of 501 characters", referralMessage, func(m *messagev1.Message) {
			referralOf(m).UrgencyReason = strings.Repeat("x", 501)
		}, []string{ref + ".urgency_reason"}, "at most 500 characters, got 501"},
		{"referral kind set to nil", referralMessage, func(m *messagev1.Message) { m.Payload.Kind = &messagev1.Payload_Referral{} },
			[]string{ref}, "required"},

		// Acknowledgement.
		{"acknowledgement without in_reply_to", acknowledgementMessage, func(m *messagev1.Message) { m.Header.InReplyTo = "" },
			[]string{"header.in_reply_to"}, "required for an acknowledgement: the message ID of the alert, alert update, alert withdrawal, case referral or case outcome it answers"},
		{"acknowledgement without thread", acknowledgementMessage, func(m *messagev1.Message) { m.Header.ThreadId = "" },
			[]string{"header.thread_id"}, "required"},
		{"acknowledgement without status", acknowledgementMessage, func(m *messagev1.Message) { ackOf(m).Status = 0 },
			[]string{ack + ".status"}, "required: one of ACCEPTED_FOR_ACTION, NOT_ACTIONABLE"},
		{"acknowledgement with unknown status", acknowledgementMessage, func(m *messagev1.Message) { ackOf(m).Status = 3 },
			[]string{ack + ".status"}, "unknown value 3"},
		{"not actionable without note", acknowledgementMessage, func(m *messagev1.Message) {
			ackOf(m).Status, ackOf(m).AssignedUnit = notActed, ""
		}, []string{ack + ".note"}, "required when status is NOT_ACTIONABLE"},
		{"not actionable with a unit", acknowledgementMessage, func(m *messagev1.Message) {
			ackOf(m).Status, ackOf(m).Note = notActed, "Not our jurisdiction"
		}, []string{ack + ".assigned_unit"}, "must be empty when status is NOT_ACTIONABLE"},
		{"note of 501 characters", acknowledgementMessage, func(m *messagev1.Message) { ackOf(m).Note = strings.Repeat("x", 501) },
			[]string{ack + ".note"}, "at most 500 characters, got 501"},
		{"assigned unit of 201 characters", acknowledgementMessage, func(m *messagev1.Message) {
			ackOf(m).AssignedUnit = strings.Repeat("x", 201)
		}, []string{ack + ".assigned_unit"}, "at most 200 characters, got 201"},
		{"assigned unit on two lines", acknowledgementMessage, func(m *messagev1.Message) { ackOf(m).AssignedUnit = "Team\nAirport" },
			[]string{ack + ".assigned_unit"}, "U+000A"},

		// Statistics.
		{"statistics with thread", statisticsMessage, func(m *messagev1.Message) { m.Header.ThreadId = testThreadID },
			[]string{"header.thread_id"}, "must be empty for a statistics report, which belongs to no case"},
		{"statistics answering a message", statisticsMessage, func(m *messagev1.Message) { m.Header.InReplyTo = testAlertID },
			[]string{"header.in_reply_to"}, "must be empty for a statistics report, which answers no message"},
		{"statistics without period", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "" },
			[]string{st + ".period"}, "required: a month written YYYY-MM"},
		{"period with a day", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "2026-02-01" },
			[]string{st + ".period"}, `"2026-02-01" is not a month written YYYY-MM`},
		{"period with one-digit month", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "2026-2" },
			[]string{st + ".period"}, "not a month written YYYY-MM"},
		{"period month 13", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "2026-13" },
			[]string{st + ".period"}, "2026-13 is not a real month"},
		{"period month 00", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "2026-00" },
			[]string{st + ".period"}, "not a real month"},
		{"period next month", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "2026-04" },
			[]string{st + ".period"}, "2026-04 is in the future"},
		{"period before 2000", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Period = "1999-12" },
			[]string{st + ".period"}, "before 2000-01"},
		{"too many deferred departures", statisticsMessage, func(m *messagev1.Message) { statsOf(m).DeferredDepartures = MaxCount + 1 },
			[]string{st + ".deferred_departures"}, "1000001 is more than 1000000"},
		{"every count too large", statisticsMessage, func(m *messagev1.Message) {
			s := statsOf(m)
			s.DeferredDepartures, s.DeferredPassportIssuances, s.AlertsSent = ^uint32(0), ^uint32(0), ^uint32(0)
			s.AlertsReceived, s.ReferralsSent, s.ReferralsReceived = ^uint32(0), ^uint32(0), ^uint32(0)
		}, []string{st + ".deferred_departures", st + ".deferred_passport_issuances", st + ".alerts_sent",
			st + ".alerts_received", st + ".referrals_sent", st + ".referrals_received"}, "4294967295 is more than 1000000"},
		{"outcome count too large", statisticsMessage, func(m *messagev1.Message) { statsOf(m).OutcomesByType[1].Count = MaxCount + 1 },
			[]string{st + ".outcomes_by_type[1].count"}, "more than 1000000"},
		{"outcome count of unspecified outcome", statisticsMessage, func(m *messagev1.Message) { statsOf(m).OutcomesByType[0].Outcome = 0 },
			[]string{st + ".outcomes_by_type[0].outcome"}, "required"},
		{"outcome count of unknown outcome", statisticsMessage, func(m *messagev1.Message) { statsOf(m).OutcomesByType[0].Outcome = 11 },
			[]string{st + ".outcomes_by_type[0].outcome"}, "unknown value 11"},
		{"outcome counted twice", statisticsMessage, func(m *messagev1.Message) {
			statsOf(m).OutcomesByType = append(statsOf(m).OutcomesByType, &messagev1.OutcomeCount{Outcome: messagev1.Outcome_OUTCOME_LOCATED, Count: 1})
		}, []string{st + ".outcomes_by_type[2].outcome"}, "LOCATED is counted already in outcomes_by_type[0]"},
		{"eleven outcome counts", statisticsMessage, func(m *messagev1.Message) {
			s := statsOf(m)
			s.OutcomesByType = nil
			for n := int32(1); n <= 11; n++ {
				s.OutcomesByType = append(s.OutcomesByType, &messagev1.OutcomeCount{Outcome: messagev1.Outcome(n), Count: 1})
			}
		}, []string{st + ".outcomes_by_type", st + ".outcomes_by_type[10].outcome"}, "at most 10 entries, one per outcome, got 11"},
		{"nil outcome count", statisticsMessage, func(m *messagev1.Message) { statsOf(m).OutcomesByType[0] = nil },
			[]string{st + ".outcomes_by_type[0]"}, "required"},
		{"notes of 2001 characters", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Notes = strings.Repeat("x", 2001) },
			[]string{st + ".notes"}, "at most 2000 characters, got 2001"},
		{"notes with NUL", statisticsMessage, func(m *messagev1.Message) { statsOf(m).Notes = "Provisional\x00" },
			[]string{st + ".notes"}, "U+0000"},
		{"statistics kind set to nil", statisticsMessage, func(m *messagev1.Message) { m.Payload.Kind = &messagev1.Payload_Statistics{} },
			[]string{st}, "required"},
	})
}

// A month is in the future only when it has not begun anywhere: at 10:00
// UTC on 31 March it is already 1 April in Kiribati (UTC+14), not before.
func TestStatisticsPeriodBoundary(t *testing.T) {
	for _, tt := range []struct {
		now  time.Time
		ok   bool
		name string
	}{
		{time.Date(2026, time.March, 31, 10, 0, 0, 0, time.UTC), true, "April begun in UTC+14"},
		{time.Date(2026, time.March, 31, 9, 59, 59, 0, time.UTC), false, "April not begun anywhere"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := statisticsMessage()
			m.Header.CreatedAt = timestamppb.New(tt.now)
			statsOf(m).Period = "2026-04"
			err := Validate(m, tt.now)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestHeaderFollowsThreading checks Validate's header rules against the
// table every kind's threading is documented in, for every kind.
func TestHeaderFollowsThreading(t *testing.T) {
	for _, kind := range Kinds() {
		th, _ := ThreadingOf(kind)
		for _, thread := range []bool{false, true} {
			for _, reply := range []bool{false, true} {
				name := fmt.Sprintf("%s thread=%v in_reply_to=%v", kind, thread, reply)
				t.Run(name, func(t *testing.T) {
					m := validMessages[kind]()
					m.Header.ThreadId, m.Header.InReplyTo = "", ""
					if thread {
						m.Header.ThreadId = testThreadID
					}
					if reply {
						m.Header.InReplyTo = testAlertID
					}
					var got []string
					for _, v := range violationsOf(t, Validate(m, testNow)) {
						got = append(got, v.Field)
					}
					var want []string
					if thread != (th.Thread == Required) {
						want = append(want, "header.thread_id")
					}
					if (reply && th.InReplyTo == Forbidden) || (!reply && th.InReplyTo == Required) {
						want = append(want, "header.in_reply_to")
					}
					if !slices.Equal(got, want) {
						t.Errorf("violations on %q, want %q", got, want)
					}
				})
			}
		}
	}
}

func TestKind(t *testing.T) {
	for kind, msg := range validMessages {
		if got := Kind(msg()); got != kind {
			t.Errorf("Kind(%s message) = %q", kind, got)
		}
	}
	for _, m := range []*messagev1.Message{nil, {}, {Payload: &messagev1.Payload{}}} {
		if got := Kind(m); got != "" {
			t.Errorf("Kind(%v) = %q, want \"\"", m, got)
		}
	}
	if got := Kind(&messagev1.Message{Payload: &messagev1.Payload{Kind: &messagev1.Payload_Referral{}}}); got != KindReferral {
		t.Errorf("Kind of a nil referral = %q, want %q", got, KindReferral)
	}
}

// The kind names are the payload's oneof field names: a kind added to the
// schema without a row in the threading table fails here.
func TestKindsAreThePayloadOneof(t *testing.T) {
	fields := (&messagev1.Payload{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	var names []string
	for i := range fields.Len() {
		names = append(names, string(fields.Get(i).Name()))
	}
	slices.Sort(names)
	kinds := Kinds()
	slices.Sort(kinds)
	if !slices.Equal(names, kinds) {
		t.Fatalf("payload oneof fields %q, kinds %q", names, kinds)
	}
	if len(validMessages) != len(kinds) {
		t.Fatalf("validMessages has %d kinds, want %d", len(validMessages), len(kinds))
	}
}

func TestThreadingTable(t *testing.T) {
	for _, kind := range Kinds() {
		th, ok := ThreadingOf(kind)
		if !ok {
			t.Fatalf("ThreadingOf(%q) not found", kind)
		}
		if th.Thread == Optional {
			t.Errorf("%s: thread is optional; a kind has a case or has none", kind)
		}
		if (th.InReplyTo == Forbidden) != (len(th.Answers) == 0) {
			t.Errorf("%s: in_reply_to %v with answers %q", kind, th.InReplyTo, th.Answers)
		}
		for _, a := range th.Answers {
			ath, ok := ThreadingOf(a)
			if !ok {
				t.Errorf("%s answers unknown kind %q", kind, a)
				continue
			}
			// A reply joins the thread of what it answers, so both have one
			// or neither has.
			if ath.Thread != th.Thread {
				t.Errorf("%s (thread %v) answers %s (thread %v)", kind, th.Thread, a, ath.Thread)
			}
		}
	}
	if _, ok := ThreadingOf("alerts"); ok {
		t.Error(`ThreadingOf("alerts") found`)
	}
	th, _ := ThreadingOf(KindOutcome)
	th.Answers[0] = "mutated"
	if !MayAnswer(KindOutcome, KindAlert) {
		t.Error("ThreadingOf handed out the table's own slice")
	}
	for _, tt := range []struct {
		reply, answered string
		want            bool
	}{
		{KindOutcome, KindAlert, true},
		{KindOutcome, KindReferral, true},
		{KindOutcome, KindOutcome, false},
		{KindAlertUpdate, KindAlert, true},
		{KindAlertUpdate, KindReferral, false},
		{KindAlertWithdrawal, KindAlertUpdate, false},
		{KindAcknowledgement, KindAlertUpdate, true},
		{KindAcknowledgement, KindAcknowledgement, false},
		{KindReferral, KindAlert, true},
		{KindStatistics, KindAlert, false},
		{"", KindAlert, false},
	} {
		if got := MayAnswer(tt.reply, tt.answered); got != tt.want {
			t.Errorf("MayAnswer(%q, %q) = %v, want %v", tt.reply, tt.answered, got, tt.want)
		}
	}
	if a := Answers(KindStatistics); a != nil {
		t.Errorf("Answers(statistics) = %q", a)
	}
}

func TestResponseDeadline(t *testing.T) {
	const urgentWait, normalWait = 6 * time.Hour, 7 * 24 * time.Hour
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	tests := []struct {
		name   string
		msg    func() *messagev1.Message
		want   time.Time
		wantOK bool
	}{
		{"urgent alert", alertMessage, at(urgentWait), true},
		{"normal alert", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Urgency = normal
			return m
		}, at(normalWait), true},
		{"alert of unknown urgency waits as normal", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Urgency = 9
			return m
		}, at(normalWait), true},
		{"referral whose deadline is later than normal", referralMessage, at(normalWait), true},
		{"referral whose deadline is earlier than normal", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).ResponseDeadline = timestamppb.New(at(48 * time.Hour))
			return m
		}, at(48 * time.Hour), true},
		{"urgent referral without deadline", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).ResponseDeadline, referralOf(m).Urgency = nil, urgent
			return m
		}, at(urgentWait), true},
		{"urgent referral with an earlier deadline", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).ResponseDeadline, referralOf(m).Urgency = timestamppb.New(at(time.Hour)), urgent
			return m
		}, at(time.Hour), true},
		{"referral with invalid deadline", func() *messagev1.Message {
			m := referralMessage()
			referralOf(m).ResponseDeadline = &timestamppb.Timestamp{Nanos: -1}
			return m
		}, at(normalWait), true},
		{"outcome", outcomeMessage, time.Time{}, false},
		{"acknowledgement", acknowledgementMessage, time.Time{}, false},
		{"statistics", statisticsMessage, time.Time{}, false},
		{"alert without creation time", func() *messagev1.Message {
			m := alertMessage()
			m.Header.CreatedAt = nil
			return m
		}, time.Time{}, false},
		{"alert with invalid creation time", func() *messagev1.Message {
			m := alertMessage()
			m.Header.CreatedAt = &timestamppb.Timestamp{Seconds: 1 << 62}
			return m
		}, time.Time{}, false},
		{"nil alert", func() *messagev1.Message {
			m := alertMessage()
			m.Payload.Kind = &messagev1.Payload_Alert{}
			return m
		}, time.Time{}, false},
		{"nil message", func() *messagev1.Message { return nil }, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ResponseDeadline(tt.msg(), urgentWait, normalWait)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("ResponseDeadline = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestApplyUpdate(t *testing.T) {
	alert := ExampleAlert(testNow)
	before := proto.Clone(alert)
	u := ExampleAlertUpdate(testNow)
	u.Urgency = normal
	u.Indicators = &messagev1.IndicatorList{}
	got := ApplyUpdate(alert, u)

	if !proto.Equal(alert, before) {
		t.Error("ApplyUpdate changed the alert")
	}
	want := proto.Clone(alert).(*messagev1.SuspectTravellerAlert)
	want.Travel = u.Travel
	want.Urgency, want.UrgencyReason = normal, ""
	want.Indicators = nil
	if !proto.Equal(got, want) {
		t.Errorf("ApplyUpdate =\n%v\nwant\n%v", got, want)
	}
	got.Travel.Port = "changed"
	if u.Travel.Port == "changed" {
		t.Error("ApplyUpdate shares the update's travel")
	}
	if got := ApplyUpdate(nil, &messagev1.AlertUpdate{Category: messagev1.AlertCategory_ALERT_CATEGORY_DOCUMENT_FRAUD}); got.GetCategory() != messagev1.AlertCategory_ALERT_CATEGORY_DOCUMENT_FRAUD {
		t.Errorf("ApplyUpdate(nil, …) = %v", got)
	}
}

func TestValidateUpdate(t *testing.T) {
	alertMsg := func() *messagev1.Message {
		m := alertMessage()
		m.Header.MessageId = testAlertID
		return m
	}
	victimAlert := func() *messagev1.Message {
		m := alertMsg()
		alertOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_SUSPECTED_TPPO_VICTIM
		return m
	}
	later := testNow.Add(time.Hour)
	updateMsg := func() *messagev1.Message {
		m := updateMessage()
		m.Header.MessageId = testMessageID
		m.Header.CreatedAt = timestamppb.New(later)
		return m
	}
	tests := []struct {
		name   string
		alert  func() *messagev1.Message
		update func(m *messagev1.Message)
		want   []string
		desc   string
	}{
		{"example update of the example alert", alertMsg, func(*messagev1.Message) {}, nil, ""},
		{"names another alert", alertMsg, func(m *messagev1.Message) { m.Header.InReplyTo = testOtherAlertID },
			[]string{"header.in_reply_to"}, "not the alert's message ID " + testAlertID},
		{"in another thread", alertMsg, func(m *messagev1.Message) { m.Header.ThreadId = testOtherAlertID },
			[]string{"header.thread_id"}, "not the thread of the alert it updates"},
		{"from the other agency", alertMsg, func(m *messagev1.Message) {
			m.Header.Sender, m.Header.Recipient = m.Header.Recipient, m.Header.Sender
		}, []string{"header.sender.agency"}, `is "KH-GDI", but the alert was sent by ID-DJI`},
		{"answers an outcome", func() *messagev1.Message {
			m := outcomeMessage()
			m.Header.MessageId = testAlertID
			return m
		}, func(*messagev1.Message) {}, []string{"header.in_reply_to"}, "names a case outcome, not an alert"},
		{"is no update", alertMsg, func(m *messagev1.Message) { m.Payload = outcomeMessage().Payload },
			[]string{"payload"}, "is not an alert update"},
		{"category contradicting the alert's subject", alertMsg, func(m *messagev1.Message) {
			updateOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER
		}, []string{"payload.alert_update.category"}, "is RECRUITER_OR_TRAFFICKER, which requires role SUSPECT, but the alert's subject has role POSSIBLE_VICTIM"},
		{"subject contradicting the alert's category", victimAlert, func(m *messagev1.Message) {
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Subject.Role = suspect
		}, []string{"payload.alert_update.subject.role"}, "is SUSPECT, but the alert's category SUSPECTED_TPPO_VICTIM requires role POSSIBLE_VICTIM"},
		{"subject and category corrected together", victimAlert, func(m *messagev1.Message) {
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Subject.Role = suspect
			updateOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER
		}, nil, ""},
		{"date of birth contradicting the alert's MRZ", alertMsg, func(m *messagev1.Message) {
			updateOf(m).Subject = exampleSubject()
			updateOf(m).Subject.DateOfBirth = "1999-04-21"
		}, []string{"payload.alert_update.subject.date_of_birth"}, "is 1999-04-21, but the MRZ of the alert's document says 990412"},
		{"MRZ contradicting the alert's date of birth", alertMsg, func(m *messagev1.Message) {
			d := ExampleAlert(testNow).GetDocument()
			mrz := td3Lines("P", "IDN", "CONTOH", "SITI RAHAYU", "X0000001", "IDN", "1999-04-21", 'F', d.GetExpiryDate(), "")
			d.MrzLines = mrz[:]
			updateOf(m).Document = d
		}, []string{"payload.alert_update.document.mrz_lines[1]"}, "date of birth in the MRZ is 990421 (YYMMDD), but the alert's subject's date of birth is 1999-04-12"},
		{"update after the alert expired", func() *messagev1.Message {
			m := alertMsg()
			alertOf(m).ExpiresAt = timestamppb.New(testNow.Add(30 * time.Minute))
			return m
		}, func(*messagev1.Message) {}, []string{"payload.alert_update.expires_at"}, "required: the alert expired at 2026-03-10T08:30:00Z, before this update was made at 2026-03-10T09:00:00Z"},
		{"update renewing an expired alert", func() *messagev1.Message {
			m := alertMsg()
			alertOf(m).ExpiresAt = timestamppb.New(testNow.Add(30 * time.Minute))
			return m
		}, func(m *messagev1.Message) { updateOf(m).ExpiresAt = timestamppb.New(later.AddDate(0, 0, 7)) }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alert, update := tt.alert(), updateMsg()
			tt.update(update)
			for _, m := range []*messagev1.Message{alert, update} {
				if err := Validate(m, later); err != nil && Kind(m) != KindOutcome {
					t.Fatalf("%s: Validate: %v", Kind(m), err)
				}
			}
			got := violationsOf(t, ValidateUpdate(alert, update))
			var fields []string
			for _, v := range got {
				fields = append(fields, v.Field)
			}
			if !slices.Equal(fields, tt.want) {
				t.Fatalf("violations on %q, want %q\n%v", fields, tt.want, got)
			}
			if len(got) > 0 && !strings.Contains(got[0].Description, tt.desc) {
				t.Errorf("description %q does not contain %q", got[0].Description, tt.desc)
			}
		})
	}
	var ve *ValidationError
	if err := ValidateUpdate(nil, nil); !errors.As(err, &ve) {
		t.Errorf("ValidateUpdate(nil, nil) = %v", err)
	}
}

// TestWorkflowExamplesStayValid moves the clock as TestExamplesStayValid does.
func TestWorkflowExamplesStayValid(t *testing.T) {
	for _, now := range []time.Time{
		testNow,
		time.Date(2028, time.February, 29, 23, 59, 59, 999, time.UTC),
		time.Date(2027, time.December, 31, 23, 30, 0, 0, time.FixedZone("WIT", 9*3600)),
		time.Date(2026, time.January, 1, 0, 0, 0, 0, time.FixedZone("WIB", 7*3600)),
		time.Date(2099, time.January, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(now.Format(time.RFC3339), func(t *testing.T) {
			for kind, msg := range validMessages {
				m := msg()
				m.Header.CreatedAt = timestamppb.New(now)
				switch p := m.Payload.Kind.(type) {
				case *messagev1.Payload_Alert:
					p.Alert = ExampleAlert(now)
				case *messagev1.Payload_AlertUpdate:
					p.AlertUpdate = ExampleAlertUpdate(now)
				case *messagev1.Payload_Referral:
					p.Referral = ExampleReferral(now)
				case *messagev1.Payload_Outcome:
					p.Outcome = ExampleOutcome(now)
				case *messagev1.Payload_Statistics:
					p.Statistics = ExampleStatistics(now)
				}
				if err := Validate(m, now); err != nil {
					t.Errorf("%s: %v", kind, err)
				}
			}
		})
	}
	if got := ExampleStatistics(time.Date(2026, time.January, 1, 0, 0, 0, 0, time.FixedZone("WIB", 7*3600))).GetPeriod(); got != "2025-11" {
		t.Errorf("statistics example made at 07:00 WIB on 1 January counts %s, want 2025-11 (still December in UTC)", got)
	}
	if got := ExampleStatistics(testNow).GetPeriod(); got != "2026-02" {
		t.Errorf("statistics example made on %s counts %s, want 2026-02", testNow, got)
	}
}

// The referral example is about the alert example's person, as a possible victim.
func TestExampleReferralIsTheAlertsPerson(t *testing.T) {
	r, a := ExampleReferral(testNow), ExampleAlert(testNow)
	if len(r.GetSubjects()) != 1 || !proto.Equal(r.GetSubjects()[0], a.GetSubject()) {
		t.Fatalf("referral subjects %v, want the alert's subject %v", r.GetSubjects(), a.GetSubject())
	}
	if r.GetSubjects()[0].GetRole() != victim || r.GetType() != messagev1.ReferralType_REFERRAL_TYPE_VICTIM_REPATRIATION {
		t.Errorf("referral is %v of a %v", r.GetType(), r.GetSubjects()[0].GetRole())
	}
}
