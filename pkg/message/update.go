package message

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// updateFields are the fields an AlertUpdate may correct, as the officer is
// told when an update corrects nothing.
const updateFields = "subject, document, travel, category, indicators, requested_action, urgency or expires_at"

// validateAlertUpdate checks an update on its own: each field it sets obeys
// the alert's rule for that field. Rules across fields that the update does
// not both set are ValidateUpdate's, which has the alert.
func validateAlertUpdate(v *violations, path string, u *messagev1.AlertUpdate, c env) {
	v.text(path+".reason", u.GetReason(), 1, 500, false)
	if !correctsSomething(u) {
		v.add(path, "corrects nothing: set at least one of "+updateFields)
	}

	var dob string
	var dobOK bool
	if u.GetSubject() != nil {
		dob, dobOK = validateSubject(v, path+".subject", u.GetSubject(), c)
	}
	if d := u.GetDocument(); d != nil {
		validateDocument(v, path+".document", d, dob, dobOK)
		if len(d.GetMrzLines()) > 0 {
			// Without a subject in the update, the date of birth is the
			// alert's; ValidateUpdate compares it.
			checkMRZ(v, path+".document", d, dob, dobOK)
		}
	}
	if u.GetTravel() != nil {
		validateTravel(v, path+".travel", u.GetTravel())
	}
	if v.optionalEnum(path+".category", u.GetCategory()) && u.GetSubject() != nil {
		checkRole(v, path+".subject.role", u.GetSubject().GetRole(), u.GetCategory(), "category")
	}
	if u.GetIndicators() != nil {
		validateIndicators(v, path+".indicators.items", u.GetIndicators().GetItems())
	}
	v.optionalEnum(path+".requested_action", u.GetRequestedAction())

	switch urgencyOK := v.optionalEnum(path+".urgency", u.GetUrgency()); {
	case u.GetUrgency() == messagev1.Urgency_URGENCY_UNSPECIFIED:
		if u.GetUrgencyReason() != "" {
			v.add(path+".urgency_reason", "must be empty unless urgency is set: a reason goes with a corrected urgency")
		}
	default:
		validateUrgencyReason(v, path+".urgency_reason", u.GetUrgency(), urgencyOK, u.GetUrgencyReason())
	}
	validateExpiry(v, path+".expires_at", u.GetExpiresAt(), false, c)
}

func correctsSomething(u *messagev1.AlertUpdate) bool {
	return u.GetSubject() != nil || u.GetDocument() != nil || u.GetTravel() != nil ||
		u.GetCategory() != 0 || u.GetIndicators() != nil || u.GetRequestedAction() != 0 ||
		u.GetUrgency() != 0 || u.GetExpiresAt() != nil
}

// ApplyUpdate returns the alert as u corrects it: a copy of a in which every
// field u sets replaces a's field of the same name as a whole. Setting
// urgency replaces urgency_reason too, with u's (possibly empty) reason.
// Neither a nor u is changed.
func ApplyUpdate(a *messagev1.SuspectTravellerAlert, u *messagev1.AlertUpdate) *messagev1.SuspectTravellerAlert {
	out := proto.CloneOf(a)
	if out == nil {
		out = &messagev1.SuspectTravellerAlert{}
	}
	if u.GetSubject() != nil {
		out.Subject = proto.CloneOf(u.GetSubject())
	}
	if u.GetDocument() != nil {
		out.Document = proto.CloneOf(u.GetDocument())
	}
	if u.GetTravel() != nil {
		out.Travel = proto.CloneOf(u.GetTravel())
	}
	if u.GetCategory() != 0 {
		out.Category = u.GetCategory()
	}
	if u.GetIndicators() != nil {
		out.Indicators = append([]string(nil), u.GetIndicators().GetItems()...)
	}
	if u.GetRequestedAction() != 0 {
		out.RequestedAction = u.GetRequestedAction()
	}
	if u.GetUrgency() != 0 {
		out.Urgency = u.GetUrgency()
		out.UrgencyReason = u.GetUrgencyReason()
	}
	if u.GetExpiresAt() != nil {
		out.ExpiresAt = proto.CloneOf(u.GetExpiresAt())
	}
	return out
}

// ValidateUpdate checks an alert update against the alert it corrects: that
// it names that alert in the same thread and comes from the alert's sender,
// and that the corrected alert still obeys the rules between fields (the
// subject's role and the category, the MRZ and the date of birth, an expiry
// after the update). Both messages must have passed Validate; the node that
// holds the alert in its ledger calls ValidateUpdate before it accepts the
// update, whether its officer submits it or the counterpart delivers it.
//
// Violations are reported on the update's fields ("header.in_reply_to",
// "payload.alert_update.subject.role", ...), even when the other half of a
// contradiction is in the alert: the update is what can still be changed.
// It returns nil or a *ValidationError.
func ValidateUpdate(alert, update *messagev1.Message) error {
	var v violations
	const path = "payload.alert_update"
	a, u := alert.GetPayload().GetAlert(), update.GetPayload().GetAlertUpdate()
	switch {
	case u == nil:
		v.add("payload", "is not an alert update")
	case a == nil:
		v.add("header.in_reply_to", "names "+withArticle(Kind(alert))+", not an alert; only an alert can be updated")
	}
	if v.err() != nil {
		return v.err()
	}
	ah, uh := alert.GetHeader(), update.GetHeader()
	if uh.GetInReplyTo() != ah.GetMessageId() {
		v.add("header.in_reply_to", fmt.Sprintf("is %s, not the alert's message ID %s", quote(uh.GetInReplyTo()), ah.GetMessageId()))
	}
	if uh.GetThreadId() != ah.GetThreadId() {
		v.add("header.thread_id", fmt.Sprintf("is %s, not the thread of the alert it updates (%s)", quote(uh.GetThreadId()), ah.GetThreadId()))
	}
	if uh.GetSender().GetAgency() != ah.GetSender().GetAgency() {
		v.add("header.sender.agency", fmt.Sprintf("is %s, but the alert was sent by %s; only an alert's sender updates it", quote(uh.GetSender().GetAgency()), ah.GetSender().GetAgency()))
	}

	merged := ApplyUpdate(a, u)

	// The subject's role against the category, when one of them comes from
	// the alert (an update that sets both was checked by Validate).
	switch role, category := merged.GetSubject().GetRole(), merged.GetCategory(); {
	case u.GetSubject() != nil && u.GetCategory() == 0:
		checkRole(&v, path+".subject.role", role, category, "the alert's category")
	case u.GetSubject() == nil && u.GetCategory() != 0:
		if want := roleFor(category); knownEnum(role) && want != 0 && role != want {
			v.add(path+".category", fmt.Sprintf("is %s, which requires role %s, but the alert's subject has role %s; correct the subject too",
				enumName(category), enumName(want), enumName(role)))
		}
	}

	// The MRZ against the date of birth, when one of them comes from the
	// alert (an update that sets both was compared by Validate).
	if (u.GetSubject() != nil) != (u.GetDocument() != nil) && len(merged.GetDocument().GetMrzLines()) > 0 {
		var e MRZError
		dob := merged.GetSubject().GetDateOfBirth()
		if m := parseMRZ(merged.GetDocument().GetMrzLines(), &e); m != nil && isDate(dob) && isMRZDate(m.DateOfBirth, true) && !mrzDateMatches(m.DateOfBirth, dob) {
			if u.GetDocument() != nil {
				v.add(fmt.Sprintf("%s.document.mrz_lines[1]", path), fmt.Sprintf("date of birth in the MRZ is %s (YYMMDD), but the alert's subject's date of birth is %s; correct the subject too", m.DateOfBirth, dob))
			} else {
				v.add(path+".subject.date_of_birth", fmt.Sprintf("is %s, but the MRZ of the alert's document says %s (YYMMDD); correct the document too", dob, m.DateOfBirth))
			}
		}
	}

	// An update that leaves the expiry must not find the alert expired.
	if u.GetExpiresAt() == nil {
		created := uh.GetCreatedAt()
		exp := a.GetExpiresAt()
		if created.IsValid() && exp.IsValid() && !exp.AsTime().After(created.AsTime()) {
			v.add(path+".expires_at", fmt.Sprintf("required: the alert expired at %s, before this update was made at %s; set a new expiry or send a new alert",
				formatTime(exp.AsTime()), formatTime(created.AsTime())))
		}
	}
	return v.err()
}

// validateWithdrawal checks a withdrawal.
func validateWithdrawal(v *violations, path string, w *messagev1.AlertWithdrawal, c env) {
	codeOK := v.enum(path+".reason_code", w.GetReasonCode())
	v.text(path+".reason", w.GetReason(), 1, 500, false)
	dup := w.GetDuplicateOf()
	switch {
	case dup == "":
	case codeOK && w.GetReasonCode() != messagev1.WithdrawalReason_WITHDRAWAL_REASON_DUPLICATE:
		v.add(path+".duplicate_of", fmt.Sprintf("must be empty for reason code %s; only DUPLICATE names the alert that stays", enumName(w.GetReasonCode())))
	case v.uuid(path+".duplicate_of", dup, false, 0):
		switch dup {
		case c.inReplyTo:
			v.add(path+".duplicate_of", "is the withdrawn alert itself (header.in_reply_to); name the alert that stays in force")
		case c.messageID:
			v.add(path+".duplicate_of", "is this message's own ID; name the alert that stays in force")
		}
	}
}
