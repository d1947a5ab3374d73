package message

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// testNow is the clock of every test, so that relative rules (date of birth
// in the past, outcome not in the future) give the same answer every day.
var testNow = time.Date(2026, time.March, 10, 8, 0, 0, 0, time.UTC)

const (
	testMessageID = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f" // RFC 9562 appendix A.6 UUIDv7
	testAlertID   = "01956f3a-1c2b-7d4e-8f90-a1b2c3d4e5f6"
	testThreadID  = "3b1d7f0e-2c4a-4e8b-9f6d-1a2b3c4d5e6f"
)

func testHeader() *messagev1.Header {
	return &messagev1.Header{
		MessageId:     testMessageID,
		Sender:        &messagev1.Party{Agency: "ID-DJI", SpiffeId: "spiffe://imigrasi.go.id/focalpoint/node"},
		Recipient:     &messagev1.Party{Agency: "KH-GDI", SpiffeId: "spiffe://immigration.gov.kh/focalpoint/node"},
		CreatedAt:     timestamppb.New(testNow),
		ThreadId:      testThreadID,
		Handling:      ExampleHandling(),
		SchemaVersion: SchemaVersion,
	}
}

func alertMessage() *messagev1.Message {
	return &messagev1.Message{
		Header:  testHeader(),
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: ExampleAlert(testNow)}},
	}
}

func outcomeMessage() *messagev1.Message {
	h := testHeader()
	h.InReplyTo = testAlertID
	return &messagev1.Message{
		Header:  h,
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: ExampleOutcome(testNow)}},
	}
}

func testMessage() *messagev1.Message {
	h := testHeader()
	h.ThreadId = ""
	return &messagev1.Message{
		Header:  h,
		Payload: &messagev1.Payload{Kind: &messagev1.Payload_Test{Test: &messagev1.TestMessage{Nonce: "ping-1"}}},
	}
}

func alertOf(m *messagev1.Message) *messagev1.SuspectTravellerAlert { return m.GetPayload().GetAlert() }

func outcomeOf(m *messagev1.Message) *messagev1.CaseOutcome { return m.GetPayload().GetOutcome() }

func violationsOf(t *testing.T, err error) []FieldViolation {
	t.Helper()
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if len(ve.Violations) == 0 {
		t.Fatalf("ValidationError without violations")
	}
	return ve.Violations
}

func TestValidateAcceptsValidMessages(t *testing.T) {
	tests := []struct {
		name string
		msg  func() *messagev1.Message
	}{
		{"example alert", alertMessage},
		{"example outcome", outcomeMessage},
		{"test message", testMessage},
		{"test message without nonce", func() *messagev1.Message {
			m := testMessage()
			m.GetPayload().GetTest().Nonce = ""
			return m
		}},
		{"alert without MRZ", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Document.MrzLines = nil
			return m
		}},
		{"alert with normal urgency and no reason", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Urgency = messagev1.Urgency_URGENCY_NORMAL
			alertOf(m).UrgencyReason = ""
			return m
		}},
		{"alert with only required fields", func() *messagev1.Message {
			m := alertMessage()
			a := alertOf(m)
			a.Subject.GivenNames, a.Subject.Aliases, a.Subject.PlaceOfBirth = "", nil, ""
			a.Document.MrzLines = nil
			a.Travel.Carrier, a.Travel.Flight, a.Travel.ScheduledAt = "", "", nil
			a.Indicators = nil
			return m
		}},
		{"German nationality with fillers", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Subject.Nationality = "D<<"
			return m
		}},
		{"recruiter category with suspect role", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER
			alertOf(m).Subject.Role = messagev1.SubjectRole_SUBJECT_ROLE_SUSPECT
			alertOf(m).RequestedAction = messagev1.RequestedAction_REQUESTED_ACTION_DISCREET_CHECK
			return m
		}},
		{"alert expiring exactly 366 days after creation", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).ExpiresAt = timestamppb.New(testNow.Add(366 * 24 * time.Hour))
			return m
		}},
		{"date of birth today", func() *messagev1.Message {
			m := alertMessage()
			alertOf(m).Subject.DateOfBirth = testNow.Format(time.DateOnly)
			alertOf(m).Document.MrzLines = nil
			return m
		}},
		{"identity card with the ICAO TD1 specimen MRZ", func() *messagev1.Message {
			m := alertMessage()
			a := alertOf(m)
			a.Subject.DateOfBirth = "1974-08-12"
			a.Document = &messagev1.TravelDocument{
				Type: messagev1.DocumentType_DOCUMENT_TYPE_IDENTITY_CARD, Number: "D23145890",
				IssuingState: "UTO", ExpiryDate: "2012-04-15", MrzLines: specimenTD1,
			}
			return m
		}},
		{"visa with the ICAO MRV-B specimen MRZ", func() *messagev1.Message {
			m := alertMessage()
			a := alertOf(m)
			a.Subject.DateOfBirth = "1940-09-07"
			a.Document = &messagev1.TravelDocument{
				Type: messagev1.DocumentType_DOCUMENT_TYPE_VISA, Number: "L8988901C",
				IssuingState: "UTO", ExpiryDate: "1996-12-10", MrzLines: specimenMRVB,
			}
			return m
		}},
		{"H3 with restriction", func() *messagev1.Message {
			m := alertMessage()
			m.Header.Handling = &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H3, Restriction: "Not to be shared with the police before 1 April"}
			return m
		}},
		{"outcome four minutes ahead of our clock", func() *messagev1.Message {
			m := outcomeMessage()
			outcomeOf(m).OccurredAt = timestamppb.New(testNow.Add(4 * time.Minute))
			return m
		}},
		{"action not possible, not located", func() *messagev1.Message {
			m := outcomeMessage()
			outcomeOf(m).Result = messagev1.OutcomeResult_OUTCOME_RESULT_ACTION_NOT_POSSIBLE
			outcomeOf(m).Outcome = messagev1.Outcome_OUTCOME_NOT_LOCATED
			return m
		}},
		{"narrative with tabs and line breaks", func() *messagev1.Message {
			m := outcomeMessage()
			outcomeOf(m).Narrative = "Located.\n\tScreened.\n"
			return m
		}},
		{"non-Latin place name", func() *messagev1.Message {
			m := outcomeMessage()
			outcomeOf(m).Place = "ព្រលានយន្តហោះអន្តរជាតិតេជោ"
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

// TestValidateRejects checks that each mistake is reported on the field that
// holds it, and, unless the test says otherwise, only there: one typing error
// must not bury the officer in consequential errors.
func TestValidateRejects(t *testing.T) {
	tests := []rejectCase{
		// Subject.
		{"missing family name", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.FamilyName = "" },
			[]string{"payload.alert.subject.family_name"}, "required"},
		{"family name only spaces", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.FamilyName = "   " },
			[]string{"payload.alert.subject.family_name"}, "only spaces"},
		{"family name of 101 characters", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.FamilyName = strings.Repeat("É", 101) },
			[]string{"payload.alert.subject.family_name"}, "1 to 100 characters, got 101"},
		{"control character in family name", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.FamilyName = "CONTOH\x07" },
			[]string{"payload.alert.subject.family_name"}, "control character U+0007 at character 7"},
		{"line break in given names", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.GivenNames = "SITI\nRAHAYU" },
			[]string{"payload.alert.subject.given_names"}, "control character U+000A"},
		{"direction override in given names", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.GivenNames = "SITI \u202eUYAHAR" },
			[]string{"payload.alert.subject.given_names"}, "U+202E"},
		{"invalid UTF-8 in place of birth", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.PlaceOfBirth = "BANDUNG\xff" },
			[]string{"payload.alert.subject.place_of_birth"}, "UTF-8"},
		{"date of birth not YYYY-MM-DD", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "12/04/1999" },
			[]string{"payload.alert.subject.date_of_birth"}, "YYYY-MM-DD"},
		{"date of birth 30 February", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "1999-02-30" },
			[]string{"payload.alert.subject.date_of_birth"}, "not a real calendar date"},
		{"date of birth 29 February of a common year", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "1999-02-29" },
			[]string{"payload.alert.subject.date_of_birth"}, "not a real calendar date"},
		{"date of birth in the future", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "2026-03-12" },
			[]string{"payload.alert.subject.date_of_birth"}, "in the future"},
		{"date of birth 131 years ago", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "1895-03-09" },
			[]string{"payload.alert.subject.date_of_birth"}, "more than 130 years ago"},
		{"missing date of birth", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "" },
			[]string{"payload.alert.subject.date_of_birth"}, "required"},
		{"unknown role 99", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.Role = 99 },
			[]string{"payload.alert.subject.role"}, "unknown value 99; use one of SUSPECT, POSSIBLE_VICTIM, WITNESS"},
		{"unspecified role", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.Role = messagev1.SubjectRole_SUBJECT_ROLE_UNSPECIFIED },
			[]string{"payload.alert.subject.role"}, "required: one of SUSPECT, POSSIBLE_VICTIM, WITNESS"},
		{"unspecified sex", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.Sex = messagev1.Sex_SEX_UNSPECIFIED },
			[]string{"payload.alert.subject.sex"}, "FEMALE, MALE, X"},
		{"eleven aliases", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Subject.Aliases = strings.Split("A B C D E F G H I J K", " ")
		}, []string{"payload.alert.subject.aliases"}, "at most 10 aliases, got 11"},
		{"empty alias", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.Aliases = []string{"AMINAH", ""} },
			[]string{"payload.alert.subject.aliases[1]"}, "required"},
		{"two-letter nationality", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.Nationality = "ID" },
			[]string{"payload.alert.subject.nationality"}, "ICAO 9303 three-letter code"},
		{"nationality starting with filler", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.Nationality = "<<D" },
			[]string{"payload.alert.subject.nationality"}, "ICAO 9303"},
		{"missing subject", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject = nil },
			[]string{"payload.alert.subject"}, "required"},
		{"suspected TPPO victim presented as suspect", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_SUSPECTED_TPPO_VICTIM
			alertOf(m).Subject.Role = messagev1.SubjectRole_SUBJECT_ROLE_SUSPECT
		}, []string{"payload.alert.subject.role"}, "category SUSPECTED_TPPO_VICTIM requires role POSSIBLE_VICTIM"},
		{"recruiter presented as possible victim", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Category = messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER
		}, []string{"payload.alert.subject.role"}, "requires role SUSPECT"},

		// Document.
		{"document number with hyphen", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.Number = "X-000001" },
			[]string{"payload.alert.document.number"}, "1 to 9 capitals or digits"},
		{"lower-case document number", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.Number = "x0000001" },
			[]string{"payload.alert.document.number"}, `"x0000001" is not`},
		{"ten-character document number", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.Number = "X000000001" },
			[]string{"payload.alert.document.number"}, "1 to 9"},
		{"lower-case issuing state", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.IssuingState = "idn" },
			[]string{"payload.alert.document.issuing_state"}, `"idn" is not an ICAO 9303 three-letter code`},
		{"impossible expiry date", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.ExpiryDate = "2030-13-01" },
			[]string{"payload.alert.document.expiry_date"}, "not a real calendar date"},
		{"unknown document type", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.Type = 4 },
			[]string{"payload.alert.document.type"}, "unknown value 4"},
		{"missing document", alertMessage, func(m *messagev1.Message) { alertOf(m).Document = nil },
			[]string{"payload.alert.document"}, "required"},

		// Document against its MRZ.
		{"MRZ disagrees with document number", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.Number = "X0000002" },
			[]string{"payload.alert.document.mrz_lines[1]"}, "document number in the MRZ is X0000001, but the document number field says X0000002"},
		{"MRZ disagrees with date of birth", alertMessage, func(m *messagev1.Message) { alertOf(m).Subject.DateOfBirth = "1999-04-21" },
			[]string{"payload.alert.document.mrz_lines[1]"}, "date of birth in the MRZ is 990412 (YYMMDD), but the subject's date of birth is 1999-04-21"},
		{"MRZ disagrees with issuing state", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.IssuingState = "KHM" },
			[]string{"payload.alert.document.mrz_lines[0]"}, "issuing state in the MRZ is IDN, but the issuing state field says KHM"},
		{"MRZ disagrees with expiry date", alertMessage, func(m *messagev1.Message) { alertOf(m).Document.ExpiryDate = "2031-01-01" },
			[]string{"payload.alert.document.mrz_lines[1]"}, "expiry date in the MRZ is"},
		{"passport MRZ on an identity card", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Document.Type = messagev1.DocumentType_DOCUMENT_TYPE_IDENTITY_CARD
		}, []string{"payload.alert.document.mrz_lines[0]"}, "document code P< is not an identity card's"},
		{"passport MRZ on a visa", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Document.Type = messagev1.DocumentType_DOCUMENT_TYPE_VISA
		}, []string{"payload.alert.document.mrz_lines[0]"}, "document code P< is not a visa's (V)"},
		{"passport with a TD2-shaped MRZ", alertMessage, func(m *messagev1.Message) {
			a := alertOf(m)
			a.Subject.DateOfBirth = "1974-08-12"
			a.Document = &messagev1.TravelDocument{
				Type: messagev1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "D23145890", IssuingState: "UTO", ExpiryDate: "2012-04-15",
				// TD2's check digits do not cover the first line, so P< keeps them right.
				MrzLines: []string{"P<" + specimenTD2[0][2:], specimenTD2[1]},
			}
		}, []string{"payload.alert.document.mrz_lines"}, "a passport's MRZ has 2 lines of 44 characters (TD3); this one is TD2"},
		{"mistyped MRZ check digit", alertMessage, func(m *messagev1.Message) {
			l := alertOf(m).Document.MrzLines
			l[1] = replaceAt(l[1], 9, l[1][9]+1) // '4' → '5'
		}, []string{"payload.alert.document.mrz_lines[1]", "payload.alert.document.mrz_lines[1]"}, "check digit for document number is 4, MRZ says 5"},
		{"MRZ line one character short", alertMessage, func(m *messagev1.Message) {
			l := alertOf(m).Document.MrzLines
			l[1] = l[1][:43]
		}, []string{"payload.alert.document.mrz_lines[1]"}, "line has 43 characters; the other line has 44"},
		{"MRZ of one line", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Document.MrzLines = alertOf(m).Document.MrzLines[:1]
		}, []string{"payload.alert.document.mrz_lines"}, "2 or 3 lines, got 1"},
		{"lower-case MRZ", alertMessage, func(m *messagev1.Message) {
			l := alertOf(m).Document.MrzLines
			l[0] = strings.ToLower(l[0])
		}, []string{"payload.alert.document.mrz_lines[0]"}, "character 1 is 'p'"},

		// Travel.
		{"missing travel", alertMessage, func(m *messagev1.Message) { alertOf(m).Travel = nil },
			[]string{"payload.alert.travel"}, "required"},
		{"missing port", alertMessage, func(m *messagev1.Message) { alertOf(m).Travel.Port = "" },
			[]string{"payload.alert.travel.port"}, "required"},
		{"carrier name instead of code", alertMessage, func(m *messagev1.Message) { alertOf(m).Travel.Carrier = "GARUDA" },
			[]string{"payload.alert.travel.carrier"}, "2 or 3 capitals or digits"},
		{"flight of 11 characters", alertMessage, func(m *messagev1.Message) { alertOf(m).Travel.Flight = "ZZ 12345678" },
			[]string{"payload.alert.travel.flight"}, "at most 10"},
		{"lower-case flight", alertMessage, func(m *messagev1.Message) { alertOf(m).Travel.Flight = "zz 123" },
			[]string{"payload.alert.travel.flight"}, "capitals"},
		{"unspecified direction", alertMessage, func(m *messagev1.Message) { alertOf(m).Travel.Direction = 0 },
			[]string{"payload.alert.travel.direction"}, "DEPARTURE, ARRIVAL"},
		{"scheduled time out of range", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Travel.ScheduledAt = &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9}
		}, []string{"payload.alert.travel.scheduled_at"}, "not a valid time"},

		// Alert.
		{"unspecified category", alertMessage, func(m *messagev1.Message) { alertOf(m).Category = 0 },
			[]string{"payload.alert.category"}, "required"},
		{"unknown requested action", alertMessage, func(m *messagev1.Message) { alertOf(m).RequestedAction = -1 },
			[]string{"payload.alert.requested_action"}, "unknown value -1"},
		{"indicator of 201 characters", alertMessage, func(m *messagev1.Message) { alertOf(m).Indicators[1] = strings.Repeat("x", 201) },
			[]string{"payload.alert.indicators[1]"}, "1 to 200 characters, got 201"},
		{"21 indicators", alertMessage, func(m *messagev1.Message) {
			alertOf(m).Indicators = strings.Split(strings.Repeat("seen,", 20)+"seen", ",")
		}, []string{"payload.alert.indicators"}, "at most 20 indicators, got 21"},
		{"urgent without reason", alertMessage, func(m *messagev1.Message) { alertOf(m).UrgencyReason = "" },
			[]string{"payload.alert.urgency_reason"}, "required when urgency is URGENT"},
		{"urgency reason of 501 characters", alertMessage, func(m *messagev1.Message) { alertOf(m).UrgencyReason = strings.Repeat("x", 501) },
			[]string{"payload.alert.urgency_reason"}, "1 to 500 characters, got 501"},
		{"expires before creation", alertMessage, func(m *messagev1.Message) {
			alertOf(m).ExpiresAt = timestamppb.New(testNow.Add(-time.Hour))
		}, []string{"payload.alert.expires_at"}, "not after the message's creation time 2026-03-10T08:00:00Z"},
		{"expires at creation", alertMessage, func(m *messagev1.Message) { alertOf(m).ExpiresAt = timestamppb.New(testNow) },
			[]string{"payload.alert.expires_at"}, "not after"},
		{"expires after a year", alertMessage, func(m *messagev1.Message) {
			alertOf(m).ExpiresAt = timestamppb.New(testNow.Add(366*24*time.Hour + time.Second))
		}, []string{"payload.alert.expires_at"}, "more than one year"},
		{"missing expiry", alertMessage, func(m *messagev1.Message) { alertOf(m).ExpiresAt = nil },
			[]string{"payload.alert.expires_at"}, "required"},
		{"alert kind set to nil", alertMessage, func(m *messagev1.Message) {
			m.Payload.Kind = &messagev1.Payload_Alert{}
		}, []string{"payload.alert"}, "required"},

		// Outcome.
		{"outcome without in_reply_to", outcomeMessage, func(m *messagev1.Message) { m.Header.InReplyTo = "" },
			[]string{"header.in_reply_to"}, "required for a case outcome: the message ID of the alert or case referral it answers"},
		{"action not possible but rescued", outcomeMessage, func(m *messagev1.Message) {
			outcomeOf(m).Result = messagev1.OutcomeResult_OUTCOME_RESULT_ACTION_NOT_POSSIBLE
			outcomeOf(m).Outcome = messagev1.Outcome_OUTCOME_RESCUED_VICTIM_IDENTIFIED
		}, []string{"payload.outcome.outcome"}, "is RESCUED_VICTIM_IDENTIFIED, but result ACTION_NOT_POSSIBLE goes only with NOT_LOCATED or NO_FURTHER_ACTION"},
		{"hit but not located", outcomeMessage, func(m *messagev1.Message) {
			outcomeOf(m).Outcome = messagev1.Outcome_OUTCOME_NOT_LOCATED
		}, []string{"payload.outcome.outcome"}, "HIT_ACTION_TAKEN"},
		{"unknown result", outcomeMessage, func(m *messagev1.Message) { outcomeOf(m).Result = 5 },
			[]string{"payload.outcome.result"}, "unknown value 5; use one of HIT_ACTION_TAKEN, ACTION_NOT_POSSIBLE"},
		{"unspecified outcome", outcomeMessage, func(m *messagev1.Message) { outcomeOf(m).Outcome = 0 },
			[]string{"payload.outcome.outcome"}, "required"},
		{"outcome in the future", outcomeMessage, func(m *messagev1.Message) {
			outcomeOf(m).OccurredAt = timestamppb.New(testNow.Add(6 * time.Minute))
		}, []string{"payload.outcome.occurred_at"}, "in the future"},
		{"missing place", outcomeMessage, func(m *messagev1.Message) { outcomeOf(m).Place = "" },
			[]string{"payload.outcome.place"}, "required"},
		{"carriage return in narrative", outcomeMessage, func(m *messagev1.Message) { outcomeOf(m).Narrative = "Located.\r\nScreened." },
			[]string{"payload.outcome.narrative"}, "U+000D at character 9 (only line breaks and tabs are allowed)"},
		{"narrative of 4001 characters", outcomeMessage, func(m *messagev1.Message) { outcomeOf(m).Narrative = strings.Repeat("ក", 4001) },
			[]string{"payload.outcome.narrative"}, "1 to 4000 characters, got 4001"},

		// Test message.
		{"test message with thread", testMessage, func(m *messagev1.Message) { m.Header.ThreadId = testThreadID },
			[]string{"header.thread_id"}, "must be empty for a test message"},
		{"nonce of 65 characters", testMessage, func(m *messagev1.Message) { m.GetPayload().GetTest().Nonce = strings.Repeat("n", 65) },
			[]string{"payload.test.nonce"}, "at most 64 characters, got 65"},

		// Header.
		{"missing header", alertMessage, func(m *messagev1.Message) { m.Header = nil },
			[]string{"header"}, "required"},
		{"message ID a UUIDv4", alertMessage, func(m *messagev1.Message) { m.Header.MessageId = testThreadID },
			[]string{"header.message_id"}, "version 4 UUID; it must be version 7"},
		{"message ID in upper case", alertMessage, func(m *messagev1.Message) { m.Header.MessageId = strings.ToUpper(testMessageID) },
			[]string{"header.message_id"}, "lower case"},
		{"message ID with braces", alertMessage, func(m *messagev1.Message) { m.Header.MessageId = "{" + testMessageID + "}" },
			[]string{"header.message_id"}, "not a UUID in canonical form"},
		{"message ID with wrong variant", alertMessage, func(m *messagev1.Message) { m.Header.MessageId = "017f22e2-79b0-7cc3-08c4-dc0c0c07398f" },
			[]string{"header.message_id"}, "variant"},
		{"missing message ID", alertMessage, func(m *messagev1.Message) { m.Header.MessageId = "" },
			[]string{"header.message_id"}, "required"},
		{"schema version 2", alertMessage, func(m *messagev1.Message) { m.Header.SchemaVersion = 2 },
			[]string{"header.schema_version"}, "unknown schema version 2; this node understands version 1"},
		{"schema version missing", alertMessage, func(m *messagev1.Message) { m.Header.SchemaVersion = 0 },
			[]string{"header.schema_version"}, "required"},
		{"H3 without restriction", alertMessage, func(m *messagev1.Message) {
			m.Header.Handling = &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H3}
		}, []string{"header.handling.restriction"}, "required"},
		{"H0 with restriction", alertMessage, func(m *messagev1.Message) {
			m.Header.Handling = &messagev1.Handling{Code: messagev1.HandlingCode_HANDLING_CODE_H0, Restriction: "no police"}
		}, []string{"header.handling.restriction"}, "must be empty for handling code H0"},
		{"unknown handling code", alertMessage, func(m *messagev1.Message) { m.Header.Handling.Code = 9 },
			[]string{"header.handling.code"}, "unknown value 9; use one of H0, H1, H2, H3"},
		{"missing handling", alertMessage, func(m *messagev1.Message) { m.Header.Handling = nil },
			[]string{"header.handling"}, "required"},
		{"alert without thread", alertMessage, func(m *messagev1.Message) { m.Header.ThreadId = "" },
			[]string{"header.thread_id"}, "required"},
		{"nil thread", alertMessage, func(m *messagev1.Message) { m.Header.ThreadId = "00000000-0000-0000-0000-000000000000" },
			[]string{"header.thread_id"}, "nil UUID"},
		{"in_reply_to not a UUID", alertMessage, func(m *messagev1.Message) { m.Header.InReplyTo = "alert 17" },
			[]string{"header.in_reply_to"}, "not a UUID"},
		{"message answering itself", outcomeMessage, func(m *messagev1.Message) { m.Header.InReplyTo = testMessageID },
			[]string{"header.in_reply_to"}, "cannot answer itself"},
		{"lower-case agency", alertMessage, func(m *messagev1.Message) { m.Header.Sender.Agency = "id-dji" },
			[]string{"header.sender.agency"}, "ID-DJI"},
		{"SPIFFE ID without path", alertMessage, func(m *messagev1.Message) { m.Header.Sender.SpiffeId = "spiffe://imigrasi.go.id" },
			[]string{"header.sender.spiffe_id"}, "names a trust domain, not a node"},
		{"URL instead of SPIFFE ID", alertMessage, func(m *messagev1.Message) { m.Header.Recipient.SpiffeId = "https://immigration.gov.kh/node" },
			[]string{"header.recipient.spiffe_id"}, "not a SPIFFE ID"},
		{"missing recipient", alertMessage, func(m *messagev1.Message) { m.Header.Recipient = nil },
			[]string{"header.recipient"}, "required"},
		{"sent to itself", alertMessage, func(m *messagev1.Message) {
			m.Header.Recipient = proto.Clone(m.Header.Sender).(*messagev1.Party)
		}, []string{"header.recipient.agency", "header.recipient.spiffe_id"}, "sender's own agency (ID-DJI)"},
		{"missing creation time", alertMessage, func(m *messagev1.Message) { m.Header.CreatedAt = nil },
			[]string{"header.created_at"}, "required"},

		// Payload.
		{"empty payload", alertMessage, func(m *messagev1.Message) { m.Payload = &messagev1.Payload{} },
			[]string{"payload"}, "exactly one of alert, alert_update, alert_withdrawal, referral, outcome, acknowledgement, statistics or test"},
		{"missing payload", alertMessage, func(m *messagev1.Message) { m.Payload = nil },
			[]string{"payload"}, "required"},
	}
	runRejects(t, tests)
}

// rejectCase is one mistake: base is a valid message, mutate makes the
// mistake, want lists every violation's field in order, and desc is part of
// the first violation's description.
type rejectCase struct {
	name   string
	base   func() *messagev1.Message
	mutate func(m *messagev1.Message)
	want   []string
	desc   string
}

func runRejects(t *testing.T, tests []rejectCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.base()
			if err := Validate(m, testNow); err != nil {
				t.Fatalf("base message invalid: %v", err)
			}
			tt.mutate(m)
			got := violationsOf(t, Validate(m, testNow))
			var fields []string
			for _, v := range got {
				fields = append(fields, v.Field)
			}
			if strings.Join(fields, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("violations on %q, want %q\n%v", fields, tt.want, got)
			}
			if !strings.Contains(got[0].Description, tt.desc) {
				t.Errorf("description %q does not contain %q", got[0].Description, tt.desc)
			}
		})
	}
}

func TestValidateReportsEveryViolation(t *testing.T) {
	m := alertMessage()
	m.Header.SchemaVersion = 2
	alertOf(m).Subject.FamilyName = ""
	alertOf(m).Subject.Aliases = []string{"OK", "\x1b[31m"}
	outcome := outcomeMessage()
	outcome.Header = nil

	tests := []struct {
		name string
		msg  *messagev1.Message
		want []string
	}{
		{"nil message", nil, []string{"header", "payload"}},
		{"empty message", &messagev1.Message{}, []string{"header", "payload"}},
		{"three mistakes", m, []string{"header.schema_version", "payload.alert.subject.family_name", "payload.alert.subject.aliases[1]"}},
		{"outcome without header", outcome, []string{"header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violationsOf(t, Validate(tt.msg, testNow))
			var fields []string
			for _, v := range got {
				fields = append(fields, v.Field)
			}
			if strings.Join(fields, " ") != strings.Join(tt.want, " ") {
				t.Errorf("violations on %q, want %q\n%v", fields, tt.want, got)
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	err := error(&ValidationError{Violations: []FieldViolation{
		{Field: "payload.alert.subject.family_name", Description: "required"},
		{Field: "header.schema_version", Description: "unknown schema version 2; this node understands version 1"},
	}})
	want := "message: invalid: payload.alert.subject.family_name: required; header.schema_version: unknown schema version 2; this node understands version 1"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) = false")
	}
}

// TestExamplesStayValid moves the clock over leap days and year ends: the
// examples derive dates from now, and an officer may ask for one any day.
func TestExamplesStayValid(t *testing.T) {
	for _, now := range []time.Time{
		testNow,
		time.Date(2028, time.February, 29, 23, 59, 59, 999, time.UTC),
		time.Date(2027, time.December, 31, 23, 30, 0, 0, time.FixedZone("WIT", 9*3600)),
		time.Date(2099, time.January, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(now.Format(time.RFC3339), func(t *testing.T) {
			h := testHeader()
			h.CreatedAt = timestamppb.New(now)
			alert := &messagev1.Message{Header: h, Payload: &messagev1.Payload{Kind: &messagev1.Payload_Alert{Alert: ExampleAlert(now)}}}
			if err := Validate(alert, now); err != nil {
				t.Errorf("alert: %v", err)
			}
			h = proto.Clone(h).(*messagev1.Header)
			h.InReplyTo = testAlertID
			outcome := &messagev1.Message{Header: h, Payload: &messagev1.Payload{Kind: &messagev1.Payload_Outcome{Outcome: ExampleOutcome(now)}}}
			if err := Validate(outcome, now); err != nil {
				t.Errorf("outcome: %v", err)
			}
		})
	}
}

func TestExampleAlertMRZAgreesWithFields(t *testing.T) {
	a := ExampleAlert(testNow)
	m, err := ParseMRZ(a.GetDocument().GetMrzLines())
	if err != nil {
		t.Fatalf("ParseMRZ: %v", err)
	}
	d := a.GetDocument()
	got := []string{m.Format.String(), m.DocumentNumber, m.IssuingState, m.Nationality, m.DateOfBirth, m.ExpiryDate, string(m.Sex), m.PrimaryIdentifier, m.SecondaryIdentifier}
	want := []string{"TD3", d.GetNumber(), d.GetIssuingState(), a.GetSubject().GetNationality(),
		mrzDate(a.GetSubject().GetDateOfBirth()), mrzDate(d.GetExpiryDate()), "F", a.GetSubject().GetFamilyName(), a.GetSubject().GetGivenNames()}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("MRZ read as %q, want %q", got, want)
	}
}

func replaceAt(s string, i int, c byte) string {
	b := []byte(s)
	b[i] = c
	return string(b)
}

// A hostile input with thousands of bad elements gets a bounded refusal.
func TestViolationsAreCapped(t *testing.T) {
	m := alertMessage()
	m.GetPayload().GetAlert().GetSubject().Aliases = make([]string, 10000)
	err := Validate(m, testNow)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if len(ve.Violations) != MaxViolations+1 {
		t.Fatalf("%d violations, want %d listed and one summary", len(ve.Violations), MaxViolations)
	}
	last := ve.Violations[MaxViolations]
	if !strings.Contains(last.Description, "more violations") || last.Field == "" {
		t.Fatalf("summary violation %+v", last)
	}
	if len(err.Error()) > 8<<10 {
		t.Fatalf("error text is %d bytes", len(err.Error()))
	}
}
