package message

import (
	"slices"
	"time"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// The kind names, as Kind returns them. Each is the name of the payload's
// oneof field in the schema, so a kind name in a log line, a metric label or
// a field path means the same thing.
const (
	KindAlert           = "alert"
	KindAlertUpdate     = "alert_update"
	KindAlertWithdrawal = "alert_withdrawal"
	KindReferral        = "referral"
	KindOutcome         = "outcome"
	KindAcknowledgement = "acknowledgement"
	KindStatistics      = "statistics"
	KindTest            = "test"
)

// Kind returns the short, lower-case name of m's payload kind (KindAlert,
// KindReferral, ...), or "" when m has no payload. A payload whose kind is
// set to a nil message still has that kind; Validate refuses it.
func Kind(m *messagev1.Message) string {
	switch m.GetPayload().GetKind().(type) {
	case *messagev1.Payload_Alert:
		return KindAlert
	case *messagev1.Payload_AlertUpdate:
		return KindAlertUpdate
	case *messagev1.Payload_AlertWithdrawal:
		return KindAlertWithdrawal
	case *messagev1.Payload_Referral:
		return KindReferral
	case *messagev1.Payload_Outcome:
		return KindOutcome
	case *messagev1.Payload_Acknowledgement:
		return KindAcknowledgement
	case *messagev1.Payload_Statistics:
		return KindStatistics
	case *messagev1.Payload_Test:
		return KindTest
	}
	return ""
}

// Kinds returns every kind name, in the order of the table below.
func Kinds() []string {
	out := make([]string, len(threading))
	for i, t := range threading {
		out[i] = t.kind
	}
	return out
}

// Presence says whether a header field must, may or must not be set.
type Presence int

const (
	// Optional: the field may be set or empty.
	Optional Presence = iota
	// Required: the field must be set.
	Required
	// Forbidden: the field must be empty.
	Forbidden
)

// Author says whose message a reply may answer, seen from the reply's own
// header: its sender or its recipient.
type Author int

const (
	// EitherAuthor: the answered message may have been sent by either side.
	EitherAuthor Author = iota
	// SenderAuthor: the answered message was sent by the reply's own sender
	// (only an alert's sender updates or withdraws it). In the replying node's
	// ledger the answered message is SENT; in the receiving node's, RECEIVED.
	SenderAuthor
	// RecipientAuthor: the answered message was sent by the reply's recipient
	// (an outcome answers the counterpart's alert). In the replying node's
	// ledger the answered message is RECEIVED; in the receiving node's, SENT.
	RecipientAuthor
)

// Threading is how one kind of message sits in a case: whether it has a
// thread, whether it answers an earlier message, which kinds that message may
// be and who must have sent it.
//
// Validate checks the header's thread_id and in_reply_to for presence and
// form only; it has no ledger. A node that accepts a reply (submitted by its
// officer or delivered by its counterpart) MUST also look the answered
// message up in its ledger and refuse the reply unless that message exists,
// is of a kind in Answers, was sent by Author, and has the reply's thread_id.
type Threading struct {
	// Thread: whether header.thread_id is Required or Forbidden (never Optional).
	Thread Presence
	// InReplyTo: whether header.in_reply_to is Required, Optional or Forbidden.
	InReplyTo Presence
	// Answers lists the kinds the message named by in_reply_to may be; empty
	// when InReplyTo is Forbidden.
	Answers []string
	// Author says whose message in_reply_to may name.
	Author Author
}

// threading is the table ThreadingOf serves and Validate checks:
//
//	kind              thread    in_reply_to  answers                                           author
//	alert             required  optional     alert, referral, outcome                          either
//	alert_update      required  required     alert                                             sender
//	alert_withdrawal  required  required     alert                                             sender
//	referral          required  optional     alert, referral, outcome                          either
//	outcome           required  required     alert, referral                                   recipient
//	acknowledgement   required  required     alert, alert_update, alert_withdrawal,            recipient
//	                                         referral, outcome
//	statistics        forbidden forbidden    -                                                 -
//	test              forbidden optional     test                                              either
//
// An alert may follow an earlier alert (a new alert when one expired), a
// referral (the person referred is seen travelling) or an outcome (a person
// not located is seen again). A referral may follow any of those in the same
// case. Only an alert's sender updates or withdraws it. An outcome and an
// acknowledgement answer what the counterpart sent. Acknowledgements, tests
// and statistics are never acknowledged, and nothing answers a statistics
// report.
var threading = []struct {
	kind string
	Threading
}{
	{KindAlert, Threading{Required, Optional, []string{KindAlert, KindReferral, KindOutcome}, EitherAuthor}},
	{KindAlertUpdate, Threading{Required, Required, []string{KindAlert}, SenderAuthor}},
	{KindAlertWithdrawal, Threading{Required, Required, []string{KindAlert}, SenderAuthor}},
	{KindReferral, Threading{Required, Optional, []string{KindAlert, KindReferral, KindOutcome}, EitherAuthor}},
	{KindOutcome, Threading{Required, Required, []string{KindAlert, KindReferral}, RecipientAuthor}},
	{KindAcknowledgement, Threading{Required, Required, []string{KindAlert, KindAlertUpdate, KindAlertWithdrawal, KindReferral, KindOutcome}, RecipientAuthor}},
	{KindStatistics, Threading{Forbidden, Forbidden, nil, EitherAuthor}},
	{KindTest, Threading{Forbidden, Optional, []string{KindTest}, EitherAuthor}},
}

// ThreadingOf returns the threading rules of a kind, and false for a name
// that is not a kind.
func ThreadingOf(kind string) (Threading, bool) {
	for _, t := range threading {
		if t.kind == kind {
			th := t.Threading
			th.Answers = slices.Clone(th.Answers)
			return th, true
		}
	}
	return Threading{}, false
}

// Answers returns the kinds a message of the given kind may answer (name in
// header.in_reply_to); nil for a kind that answers nothing or is unknown.
func Answers(kind string) []string {
	t, _ := ThreadingOf(kind)
	return t.Answers
}

// MayAnswer reports whether a message of kind reply may name a message of
// kind answered in its in_reply_to. It does not check the author; see
// Threading.Author.
func MayAnswer(reply, answered string) bool {
	return slices.Contains(Answers(reply), answered)
}

// kindNoun is a kind as a sentence names it.
var kindNoun = map[string]string{
	KindAlert:           "alert",
	KindAlertUpdate:     "alert update",
	KindAlertWithdrawal: "alert withdrawal",
	KindReferral:        "case referral",
	KindOutcome:         "case outcome",
	KindAcknowledgement: "acknowledgement",
	KindStatistics:      "statistics report",
	KindTest:            "test message",
}

// withArticle puts "a" or "an" before a kind's noun.
func withArticle(kind string) string {
	n := kindNoun[kind]
	if n == "" {
		return "a message"
	}
	switch n[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + n
	}
	return "a " + n
}

// ResponseDeadline returns when an answer to an alert or a referral is due:
// header.created_at plus urgent when its urgency is URGENT, plus normal
// otherwise; for a referral, its response_deadline instead when that is
// earlier. The durations are the agencies' agreed answer times, which are
// configuration, not schema. It returns false for other kinds and for a
// message without a valid creation time.
func ResponseDeadline(m *messagev1.Message, urgent, normal time.Duration) (time.Time, bool) {
	created := m.GetHeader().GetCreatedAt()
	if created == nil || created.CheckValid() != nil {
		return time.Time{}, false
	}
	var urgency messagev1.Urgency
	var explicit time.Time
	switch k := m.GetPayload().GetKind().(type) {
	case *messagev1.Payload_Alert:
		if k.Alert == nil {
			return time.Time{}, false
		}
		urgency = k.Alert.GetUrgency()
	case *messagev1.Payload_Referral:
		if k.Referral == nil {
			return time.Time{}, false
		}
		urgency = k.Referral.GetUrgency()
		if d := k.Referral.GetResponseDeadline(); d != nil && d.CheckValid() == nil {
			explicit = d.AsTime()
		}
	default:
		return time.Time{}, false
	}
	wait := normal
	if urgency == messagev1.Urgency_URGENCY_URGENT {
		wait = urgent
	}
	due := created.AsTime().Add(wait)
	if !explicit.IsZero() && explicit.Before(due) {
		due = explicit
	}
	return due, true
}
