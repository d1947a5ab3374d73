// Package message validates focalpoint messages against the rules the schema
// states in its field comments (proto/focalpoint/message/v1), including the
// check digits of a travel document's machine-readable zone, and makes
// example payloads an officer can edit and send.
//
// A message is validated before it is signed: once signed, its bytes are kept
// in two ledgers for good and can only be superseded, never corrected. So
// every rule is checked here, in one place, and every broken rule is reported
// at once with the field it concerns, in words an officer can act on.
package message

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// SchemaVersion is the only header.schema_version this package understands.
// A receiver refuses other versions rather than guess what they mean.
const SchemaVersion = 1

const (
	// maxOutcomeLead tolerates clocks a little ahead of ours: an outcome
	// cannot have happened in the future, but the sender's clock may run fast.
	maxOutcomeLead = 5 * time.Minute
	// maxAlertLife is "at most one year" from the schema, leap years included.
	maxAlertLife = 366 * 24 * time.Hour
	// maxAge bounds a date of birth: nobody travelling is older, so an older
	// date is a typing error (often the wrong century).
	maxAge = 130
	// earliestTimeZone is how far ahead of UTC a calendar day can start
	// (UTC+14, Kiribati). A date of birth is in the future only if that day
	// has not yet begun anywhere.
	earliestTimeZone = 14 * time.Hour
)

var (
	agencyRE    = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]{2,10}$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	uuidAnyRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	dateRE      = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	docNumberRE = regexp.MustCompile(`^[A-Z0-9]{1,9}$`)
	carrierRE   = regexp.MustCompile(`^[A-Z0-9]{2,3}$`)
	flightRE    = regexp.MustCompile(`^[A-Z0-9][A-Z0-9 ]{0,9}$`)
	// ICAO 9303 codes are three capitals, except the few that use fillers,
	// such as D<< for Germany; the first character is always a letter.
	icaoCodeRE = regexp.MustCompile(`^[A-Z][A-Z<]{2}$`)
)

// Validate checks m against every rule of the schema as of now, the current
// time, which bounds dates of birth, outcome times and statistics periods. It
// returns nil or a *ValidationError listing every violation found.
//
// Validate sees one message. Rules that need another message (that an
// in_reply_to names a message of the right kind, author and thread, or that
// an alert update leaves a consistent alert) are the ledger holder's: see
// Threading and ValidateUpdate.
func Validate(m *messagev1.Message, now time.Time) error {
	var v violations
	if m == nil {
		v.add("header", "required")
		v.add("payload", payloadRequired)
		return v.err()
	}
	created, createdOK := validateHeader(&v, m.GetHeader(), Kind(m))
	c := env{now: now, created: created, createdOK: createdOK,
		messageID: m.GetHeader().GetMessageId(), inReplyTo: m.GetHeader().GetInReplyTo()}
	validatePayload(&v, m.GetPayload(), c)
	return v.err()
}

const payloadRequired = "required: exactly one of alert, alert_update, alert_withdrawal, referral, outcome, acknowledgement, statistics or test"

// env carries what payload rules need from outside the payload.
type env struct {
	now       time.Time
	created   time.Time // header.created_at, if createdOK
	createdOK bool
	messageID string // header.message_id, as given
	inReplyTo string // header.in_reply_to, as given
}

// validateHeader checks the header and returns its creation time, which
// alert expiry is measured from.
func validateHeader(v *violations, h *messagev1.Header, kind string) (time.Time, bool) {
	if h == nil {
		v.add("header", "required")
		return time.Time{}, false
	}
	v.uuid("header.message_id", h.GetMessageId(), true, 7)

	sender, recipient := h.GetSender(), h.GetRecipient()
	sAgency, sAgencyOK, sID, sIDOK := v.party("header.sender", sender)
	rAgency, rAgencyOK, rID, rIDOK := v.party("header.recipient", recipient)
	if sAgencyOK && rAgencyOK && sAgency == rAgency {
		v.add("header.recipient.agency", fmt.Sprintf("is the sender's own agency (%s); a message goes to the counterpart agency", sAgency))
	}
	if sIDOK && rIDOK && sID == rID {
		v.add("header.recipient.spiffe_id", fmt.Sprintf("is the sender's own node (%s); a message goes to the counterpart's node", sID))
	}

	created, createdOK := v.timestamp("header.created_at", h.GetCreatedAt(), true)

	// Without a payload kind there is no rule to apply but the common one:
	// a thread, and an optional reply reference.
	th, known := ThreadingOf(kind)
	if !known {
		th = Threading{Thread: Required, InReplyTo: Optional}
	}
	switch {
	case th.Thread == Forbidden && h.GetThreadId() != "":
		v.add("header.thread_id", fmt.Sprintf("must be empty for %s, which belongs to no case", withArticle(kind)))
	case th.Thread != Forbidden:
		v.uuid("header.thread_id", h.GetThreadId(), true, 0)
	}

	switch {
	case h.GetInReplyTo() == "" && th.InReplyTo == Required:
		v.add("header.in_reply_to", fmt.Sprintf("required for %s: the message ID of the %s it answers",
			withArticle(kind), nouns(th.Answers)))
	case h.GetInReplyTo() != "" && th.InReplyTo == Forbidden:
		v.add("header.in_reply_to", fmt.Sprintf("must be empty for %s, which answers no message", withArticle(kind)))
	case h.GetInReplyTo() != "":
		if v.uuid("header.in_reply_to", h.GetInReplyTo(), false, 0) && h.GetInReplyTo() == h.GetMessageId() {
			v.add("header.in_reply_to", "is this message's own ID; a message cannot answer itself")
		}
	}

	switch sv := h.GetSchemaVersion(); {
	case sv == 0:
		v.add("header.schema_version", fmt.Sprintf("required: %d", SchemaVersion))
	case sv != SchemaVersion:
		v.add("header.schema_version", fmt.Sprintf("unknown schema version %d; this node understands version %d", sv, SchemaVersion))
	}

	validateHandling(v, "header.handling", h.GetHandling())
	return created, createdOK
}

func validateHandling(v *violations, path string, hd *messagev1.Handling) {
	if hd == nil {
		v.add(path, "required: a handling code H0 to H3")
		return
	}
	codeOK := v.enum(path+".code", hd.GetCode())
	switch {
	case hd.GetCode() == messagev1.HandlingCode_HANDLING_CODE_H3:
		v.text(path+".restriction", hd.GetRestriction(), 1, 500, false)
	case hd.GetRestriction() != "" && codeOK:
		v.add(path+".restriction", fmt.Sprintf("must be empty for handling code %s; only H3 states a restriction in words", enumName(hd.GetCode())))
	}
}

// party checks one end of the link and returns its agency and SPIFFE ID with
// whether each is valid, so that sender and recipient can be compared.
func (v *violations) party(path string, p *messagev1.Party) (agency string, agencyOK bool, id spiffeid.ID, idOK bool) {
	if p == nil {
		v.add(path, "required: agency code and SPIFFE ID")
		return "", false, spiffeid.ID{}, false
	}
	agencyOK = v.pattern(path+".agency", p.GetAgency(), agencyRE, "an agency code: country code, hyphen, 2 to 10 capitals or digits, e.g. ID-DJI or KH-GDI")
	id, idOK = v.spiffeID(path+".spiffe_id", p.GetSpiffeId())
	return p.GetAgency(), agencyOK, id, idOK
}

// nouns joins kinds as a sentence names them: "alert or case referral".
func nouns(kinds []string) string {
	var b strings.Builder
	for i, k := range kinds {
		switch {
		case i == 0:
		case i == len(kinds)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(kindNoun[k])
	}
	return b.String()
}

func validatePayload(v *violations, p *messagev1.Payload, c env) {
	// A kind set to a nil message arrives as an empty field on the wire and
	// is required like any other missing part.
	switch k := p.GetKind().(type) {
	case *messagev1.Payload_Alert:
		if notNil(v, "payload.alert", k.Alert) {
			validateAlert(v, "payload.alert", k.Alert, c)
		}
	case *messagev1.Payload_AlertUpdate:
		if notNil(v, "payload.alert_update", k.AlertUpdate) {
			validateAlertUpdate(v, "payload.alert_update", k.AlertUpdate, c)
		}
	case *messagev1.Payload_AlertWithdrawal:
		if notNil(v, "payload.alert_withdrawal", k.AlertWithdrawal) {
			validateWithdrawal(v, "payload.alert_withdrawal", k.AlertWithdrawal, c)
		}
	case *messagev1.Payload_Referral:
		if notNil(v, "payload.referral", k.Referral) {
			validateReferral(v, "payload.referral", k.Referral, c)
		}
	case *messagev1.Payload_Outcome:
		if notNil(v, "payload.outcome", k.Outcome) {
			validateOutcome(v, "payload.outcome", k.Outcome, c)
		}
	case *messagev1.Payload_Acknowledgement:
		if notNil(v, "payload.acknowledgement", k.Acknowledgement) {
			validateAcknowledgement(v, "payload.acknowledgement", k.Acknowledgement)
		}
	case *messagev1.Payload_Statistics:
		if notNil(v, "payload.statistics", k.Statistics) {
			validateStatistics(v, "payload.statistics", k.Statistics, c)
		}
	case *messagev1.Payload_Test:
		if notNil(v, "payload.test", k.Test) {
			v.text("payload.test.nonce", k.Test.GetNonce(), 0, 64, false)
		}
	default:
		v.add("payload", payloadRequired)
	}
}

// notNil reports a missing sub-message; it takes a typed pointer so that a
// nil *T is seen as nil.
func notNil[T any](v *violations, path string, p *T) bool {
	if p == nil {
		v.add(path, "required")
		return false
	}
	return true
}

func validateAlert(v *violations, path string, a *messagev1.SuspectTravellerAlert, c env) {
	dob, dobOK := validateSubject(v, path+".subject", a.GetSubject(), c)
	validateDocument(v, path+".document", a.GetDocument(), dob, dobOK)
	validateTravel(v, path+".travel", a.GetTravel())

	if v.enum(path+".category", a.GetCategory()) {
		checkRole(v, path+".subject.role", a.GetSubject().GetRole(), a.GetCategory(), "category")
	}
	validateIndicators(v, path+".indicators", a.GetIndicators())
	v.enum(path+".requested_action", a.GetRequestedAction())
	urgencyOK := v.enum(path+".urgency", a.GetUrgency())
	validateUrgencyReason(v, path+".urgency_reason", a.GetUrgency(), urgencyOK, a.GetUrgencyReason())
	validateExpiry(v, path+".expires_at", a.GetExpiresAt(), true, c)

	if lines := a.GetDocument().GetMrzLines(); len(lines) > 0 {
		checkMRZ(v, path+".document", a.GetDocument(), dob, dobOK)
	}
}

// roleFor is the subject role an alert category requires, or 0 when the
// category allows any role.
func roleFor(category messagev1.AlertCategory) messagev1.SubjectRole {
	switch category {
	case messagev1.AlertCategory_ALERT_CATEGORY_SUSPECTED_TPPO_VICTIM:
		return messagev1.SubjectRole_SUBJECT_ROLE_POSSIBLE_VICTIM
	case messagev1.AlertCategory_ALERT_CATEGORY_RECRUITER_OR_TRAFFICKER:
		return messagev1.SubjectRole_SUBJECT_ROLE_SUSPECT
	}
	return 0
}

// checkRole reports a subject role that contradicts the category. The role
// is what the receiving officer acts on; a category that contradicts it would
// present a victim as a suspect or the reverse. whose names the category in
// the description ("category", "the alert's category").
func checkRole(v *violations, path string, role messagev1.SubjectRole, category messagev1.AlertCategory, whose string) {
	if !knownEnum(role) || !knownEnum(category) {
		return
	}
	if want := roleFor(category); want != 0 && role != want {
		v.add(path, fmt.Sprintf("is %s, but %s %s requires role %s",
			enumName(role), whose, enumName(category), enumName(want)))
	}
}

// validateIndicators checks a list of indicators: at most 20, each 1 to 200
// characters on one line.
func validateIndicators(v *violations, path string, indicators []string) {
	if len(indicators) > 20 {
		v.add(path, fmt.Sprintf("at most 20 indicators, got %d", len(indicators)))
	}
	for i, s := range indicators {
		v.text(fmt.Sprintf("%s[%d]", path, i), s, 1, 200, false)
	}
}

// validateUrgencyReason checks the reason that goes with an urgency:
// required when URGENT, optional otherwise, 500 characters at most.
// urgencyOK says whether the urgency itself is valid.
func validateUrgencyReason(v *violations, path string, urgency messagev1.Urgency, urgencyOK bool, reason string) {
	if urgencyOK && urgency == messagev1.Urgency_URGENCY_URGENT {
		if reason == "" {
			v.add(path, "required when urgency is URGENT: say why, in 1 to 500 characters")
		} else {
			v.text(path, reason, 1, 500, false)
		}
		return
	}
	v.text(path, reason, 0, 500, false)
}

// validateExpiry checks an alert's expiry: after the message's creation time
// and at most one year after it.
func validateExpiry(v *violations, path string, ts *timestamppb.Timestamp, required bool, c env) {
	exp, ok := v.timestamp(path, ts, required)
	if !ok || !c.createdOK {
		return
	}
	switch {
	case !exp.After(c.created):
		v.add(path, fmt.Sprintf("%s is not after the message's creation time %s", formatTime(exp), formatTime(c.created)))
	case exp.Sub(c.created) > maxAlertLife:
		v.add(path, fmt.Sprintf("%s is more than one year (366 days) after the message's creation time %s; send a new alert when this one expires", formatTime(exp), formatTime(c.created)))
	}
}

// validateSubject checks the person and returns the date of birth if valid,
// for comparison with the MRZ.
func validateSubject(v *violations, path string, s *messagev1.Subject, c env) (string, bool) {
	if s == nil {
		v.add(path, "required")
		return "", false
	}
	v.enum(path+".role", s.GetRole())
	v.text(path+".family_name", s.GetFamilyName(), 1, 100, false)
	// The schema gives given names no limit; the family name's is as
	// generous as any travel document allows.
	v.text(path+".given_names", s.GetGivenNames(), 0, 100, false)
	aliases := s.GetAliases()
	if len(aliases) > 10 {
		v.add(path+".aliases", fmt.Sprintf("at most 10 aliases, got %d", len(aliases)))
	}
	for i, a := range aliases {
		v.text(fmt.Sprintf("%s.aliases[%d]", path, i), a, 1, 100, false)
	}

	dobPath := path + ".date_of_birth"
	dob, dobOK := v.date(dobPath, s.GetDateOfBirth())
	if dobOK {
		switch {
		case dob.After(c.now.Add(earliestTimeZone)):
			v.add(dobPath, fmt.Sprintf("%s is in the future", s.GetDateOfBirth()))
			dobOK = false
		case dob.Before(c.now.AddDate(-maxAge, 0, 0)):
			v.add(dobPath, fmt.Sprintf("%s is more than %d years ago; check the year", s.GetDateOfBirth(), maxAge))
			dobOK = false
		}
	}

	v.text(path+".place_of_birth", s.GetPlaceOfBirth(), 0, 100, false)
	v.enum(path+".sex", s.GetSex())
	v.pattern(path+".nationality", s.GetNationality(), icaoCodeRE, "an ICAO 9303 three-letter code in capitals, e.g. IDN or KHM")
	return s.GetDateOfBirth(), dobOK
}

func validateDocument(v *violations, path string, d *messagev1.TravelDocument, dob string, dobOK bool) {
	if d == nil {
		v.add(path, "required")
		return
	}
	v.enum(path+".type", d.GetType())
	v.pattern(path+".number", d.GetNumber(), docNumberRE, "1 to 9 capitals or digits, as in the MRZ without < fillers")
	v.pattern(path+".issuing_state", d.GetIssuingState(), icaoCodeRE, "an ICAO 9303 three-letter code in capitals, e.g. IDN or KHM")
	v.date(path+".expiry_date", d.GetExpiryDate())
}

func validateTravel(v *violations, path string, t *messagev1.Travel) {
	if t == nil {
		v.add(path, "required")
		return
	}
	v.enum(path+".direction", t.GetDirection())
	v.text(path+".port", t.GetPort(), 1, 100, false)
	if t.GetCarrier() != "" {
		v.pattern(path+".carrier", t.GetCarrier(), carrierRE, "an IATA or ICAO airline code, 2 or 3 capitals or digits, e.g. GA")
	}
	if t.GetFlight() != "" {
		v.pattern(path+".flight", t.GetFlight(), flightRE, "at most 10 capitals, digits or spaces, e.g. GA 820")
	}
	v.timestamp(path+".scheduled_at", t.GetScheduledAt(), false)
	v.text(path+".destination", t.GetDestination(), 1, 100, false)
}

func validateOutcome(v *violations, path string, o *messagev1.CaseOutcome, c env) {
	resultOK := v.enum(path+".result", o.GetResult())
	outcomeOK := v.enum(path+".outcome", o.GetOutcome())
	if resultOK && outcomeOK {
		switch o.GetResult() {
		case messagev1.OutcomeResult_OUTCOME_RESULT_ACTION_NOT_POSSIBLE:
			if o.GetOutcome() != messagev1.Outcome_OUTCOME_NOT_LOCATED && o.GetOutcome() != messagev1.Outcome_OUTCOME_NO_FURTHER_ACTION {
				v.add(path+".outcome", fmt.Sprintf("is %s, but result ACTION_NOT_POSSIBLE goes only with NOT_LOCATED or NO_FURTHER_ACTION", enumName(o.GetOutcome())))
			}
		case messagev1.OutcomeResult_OUTCOME_RESULT_HIT_ACTION_TAKEN:
			// A hit means the person was found; the schema does not say so
			// in a rule, but "hit" and NOT_LOCATED cannot both be true.
			if o.GetOutcome() == messagev1.Outcome_OUTCOME_NOT_LOCATED {
				v.add(path+".outcome", "is NOT_LOCATED, but result HIT_ACTION_TAKEN means the person was found; use ACTION_NOT_POSSIBLE")
			}
		}
	}
	if t, ok := v.timestamp(path+".occurred_at", o.GetOccurredAt(), true); ok && t.After(c.now.Add(maxOutcomeLead)) {
		v.add(path+".occurred_at", fmt.Sprintf("%s is in the future; an outcome reports what has already happened", formatTime(t)))
	}
	v.text(path+".place", o.GetPlace(), 1, 200, false)
	v.text(path+".narrative", o.GetNarrative(), 1, 4000, true)
}

func validateAcknowledgement(v *violations, path string, a *messagev1.Acknowledgement) {
	if v.enum(path+".status", a.GetStatus()) && a.GetStatus() == messagev1.AcknowledgementStatus_ACKNOWLEDGEMENT_STATUS_NOT_ACTIONABLE {
		if a.GetNote() == "" {
			v.add(path+".note", "required when status is NOT_ACTIONABLE: say why no action will be taken, in 1 to 500 characters")
		} else {
			v.text(path+".note", a.GetNote(), 1, 500, false)
		}
		if a.GetAssignedUnit() != "" {
			v.add(path+".assigned_unit", "must be empty when status is NOT_ACTIONABLE: no unit is assigned to act")
		}
		return
	}
	v.text(path+".note", a.GetNote(), 0, 500, false)
	v.text(path+".assigned_unit", a.GetAssignedUnit(), 0, 200, false)
}

// checkMRZ verifies the zone's check digits and that it agrees with the
// structured fields. Fields that are themselves invalid were reported
// already and are not compared, so one typing error gives one violation.
func checkMRZ(v *violations, path string, d *messagev1.TravelDocument, dob string, dobOK bool) {
	linesPath := path + ".mrz_lines"
	at := func(i int) string { return fmt.Sprintf("%s[%d]", linesPath, i) }

	var e MRZError
	m := parseMRZ(d.GetMrzLines(), &e)
	for _, p := range e.Problems {
		if p.Line < 0 {
			v.add(linesPath, p.Description)
		} else {
			v.add(at(p.Line), p.Description)
		}
	}
	if m == nil {
		return
	}

	if knownEnum(d.GetType()) {
		code := m.DocumentCode[0]
		switch d.GetType() {
		case messagev1.DocumentType_DOCUMENT_TYPE_PASSPORT:
			switch {
			case code != 'P':
				v.add(at(0), fmt.Sprintf("document code %s is not a passport's (P); the document type says PASSPORT", m.DocumentCode))
			case m.Format != MRZTD3:
				v.add(linesPath, fmt.Sprintf("a passport's MRZ has 2 lines of 44 characters (TD3); this one is %s", m.Format))
			}
		case messagev1.DocumentType_DOCUMENT_TYPE_IDENTITY_CARD:
			switch {
			case code != 'I' && code != 'A' && code != 'C':
				v.add(at(0), fmt.Sprintf("document code %s is not an identity card's (I, A or C); the document type says IDENTITY_CARD", m.DocumentCode))
			case m.Format != MRZTD1 && m.Format != MRZTD2:
				v.add(linesPath, fmt.Sprintf("an identity card's MRZ has 3 lines of 30 (TD1) or 2 of 36 (TD2) characters; this one is %s", m.Format))
			}
		case messagev1.DocumentType_DOCUMENT_TYPE_VISA:
			switch {
			case code != 'V':
				v.add(at(0), fmt.Sprintf("document code %s is not a visa's (V); the document type says VISA", m.DocumentCode))
			case m.Format != MRZMRVA && m.Format != MRZMRVB:
				v.add(linesPath, fmt.Sprintf("a visa's MRZ has 2 lines of 44 (MRV-A) or 36 (MRV-B) characters; this one is %s", m.Format))
			}
		}
	}
	if n := d.GetNumber(); docNumberRE.MatchString(n) && m.DocumentNumber != n {
		v.add(at(m.numberLine()), fmt.Sprintf("document number in the MRZ is %s, but the document number field says %s", m.DocumentNumber, n))
	}
	if s := d.GetIssuingState(); icaoCodeRE.MatchString(s) && m.IssuingState != s {
		v.add(at(0), fmt.Sprintf("issuing state in the MRZ is %s, but the issuing state field says %s", m.IssuingState, s))
	}
	if dobOK && isMRZDate(m.DateOfBirth, true) && !mrzDateMatches(m.DateOfBirth, dob) {
		v.add(at(1), fmt.Sprintf("date of birth in the MRZ is %s (YYMMDD), but the subject's date of birth is %s", m.DateOfBirth, dob))
	}
	if exp := d.GetExpiryDate(); isDate(exp) && isMRZDate(m.ExpiryDate, false) && !mrzDateMatches(m.ExpiryDate, exp) {
		v.add(at(1), fmt.Sprintf("expiry date in the MRZ is %s (YYMMDD), but the expiry date field says %s", m.ExpiryDate, exp))
	}
}

// text checks a free-text field: valid UTF-8, no control characters (only
// line breaks and tabs where multiline), and min to max characters. A
// required field (min > 0) holding only spaces counts as missing.
func (v *violations) text(path, s string, min, max int, multiline bool) bool {
	if s == "" {
		if min > 0 {
			v.add(path, "required")
			return false
		}
		return true
	}
	if !utf8.ValidString(s) {
		v.add(path, "is not valid UTF-8 text")
		return false
	}
	n := 0
	for _, r := range s {
		n++
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			hint := ""
			if multiline {
				hint = " (only line breaks and tabs are allowed)"
			}
			v.add(path, fmt.Sprintf("contains control character %U at character %d%s; it usually comes from copying and pasting, retype that part", r, n, hint))
			return false
		}
		if isBidiControl(r) {
			v.add(path, fmt.Sprintf("contains invisible direction-changing character %U at character %d; it can make the text display differently from what it says, retype that part", r, n))
			return false
		}
	}
	if min > 0 && strings.TrimSpace(s) == "" {
		v.add(path, "required; it holds only spaces")
		return false
	}
	if n < min || n > max {
		if min > 0 {
			v.add(path, fmt.Sprintf("must be %d to %d characters, got %d", min, max, n))
		} else {
			v.add(path, fmt.Sprintf("must be at most %d characters, got %d", max, n))
		}
		return false
	}
	return true
}

// isBidiControl reports the embedding, override and isolate characters that
// reorder how text is shown ("Trojan Source", CVE-2021-42574). Names pasted
// with them can read differently on screen than in the ledger.
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// pattern checks a required coded field against re; want says, for the
// officer, what the field must look like.
func (v *violations) pattern(path, s string, re *regexp.Regexp, want string) bool {
	if s == "" {
		v.add(path, "required: "+want)
		return false
	}
	if !re.MatchString(s) {
		v.add(path, fmt.Sprintf("%s is not %s", quote(s), want))
		return false
	}
	return true
}

// uuid checks a UUID in canonical lower-case form; version 0 accepts any
// version but the nil UUID. An empty value is reported only when required.
func (v *violations) uuid(path, s string, required bool, version byte) bool {
	switch {
	case s == "":
		if required {
			v.add(path, "required: a UUID, e.g. 0190a5f2-7c4e-7d3b-9a61-3f0e5c2b8d14")
		}
		return false
	case uuidAnyRE.MatchString(s) && !uuidRE.MatchString(s):
		v.add(path, fmt.Sprintf("%s must be written in lower case", quote(s)))
		return false
	case !uuidRE.MatchString(s):
		v.add(path, fmt.Sprintf("%s is not a UUID in canonical form (8-4-4-4-12 lower-case hex digits)", quote(s)))
		return false
	case version == 0 && strings.Trim(s, "0-") == "":
		v.add(path, "is the nil UUID, which names nothing")
		return false
	case version != 0 && s[14] != '0'+version:
		v.add(path, fmt.Sprintf("%s is a version %c UUID; it must be version %d, which the sending node makes", s, s[14], version))
		return false
	case version != 0 && !strings.ContainsRune("89ab", rune(s[19])):
		v.add(path, fmt.Sprintf("%s is not an RFC 9562 UUID (its variant digit %c is not 8, 9, a or b)", s, s[19]))
		return false
	}
	return true
}

func (v *violations) spiffeID(path, s string) (spiffeid.ID, bool) {
	if s == "" {
		v.add(path, "required: the node's SPIFFE ID, e.g. spiffe://imigrasi.go.id/focalpoint/node")
		return spiffeid.ID{}, false
	}
	id, err := spiffeid.FromString(s)
	if err != nil {
		v.add(path, fmt.Sprintf("%s is not a SPIFFE ID: %v", quote(s), err))
		return spiffeid.ID{}, false
	}
	if id.Path() == "" {
		v.add(path, fmt.Sprintf("%s names a trust domain, not a node; add the node's path, e.g. %s/focalpoint/node", s, s))
		return spiffeid.ID{}, false
	}
	return id, true
}

// date checks a required YYYY-MM-DD calendar date.
func (v *violations) date(path, s string) (time.Time, bool) {
	if s == "" {
		v.add(path, "required: a date written YYYY-MM-DD, e.g. 1994-03-17")
		return time.Time{}, false
	}
	if !dateRE.MatchString(s) {
		v.add(path, fmt.Sprintf("%s is not a date written YYYY-MM-DD, e.g. 1994-03-17", quote(s)))
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		v.add(path, fmt.Sprintf("%s is not a real calendar date", s))
		return time.Time{}, false
	}
	return t, true
}

func isDate(s string) bool {
	if !dateRE.MatchString(s) {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func (v *violations) timestamp(path string, ts *timestamppb.Timestamp, required bool) (time.Time, bool) {
	if ts == nil {
		if required {
			v.add(path, "required")
		}
		return time.Time{}, false
	}
	if err := ts.CheckValid(); err != nil {
		v.add(path, "is not a valid time (seconds or nanoseconds out of range)")
		return time.Time{}, false
	}
	return ts.AsTime(), true
}

// optionalEnum checks an enum where UNSPECIFIED means "not given": zero is
// accepted, numbers the schema does not define are not.
func (v *violations) optionalEnum(path string, e protoreflect.Enum) bool {
	if e.Number() == 0 {
		return true
	}
	return v.enum(path, e)
}

// enum checks that e is set and is a value this schema defines. Unknown
// numbers arrive from newer or broken senders; proto3 keeps them, so they
// must be refused here.
func (v *violations) enum(path string, e protoreflect.Enum) bool {
	switch {
	case e.Number() == 0:
		v.add(path, "required: one of "+enumChoices(e))
		return false
	case !knownEnum(e):
		v.add(path, fmt.Sprintf("unknown value %d; use one of %s", e.Number(), enumChoices(e)))
		return false
	}
	return true
}

func knownEnum(e protoreflect.Enum) bool {
	return e.Number() != 0 && e.Descriptor().Values().ByNumber(e.Number()) != nil
}

// enumPrefix is the part every value name of e's type starts with, e.g.
// "SUBJECT_ROLE_", taken from the UNSPECIFIED value as buf lint requires.
func enumPrefix(e protoreflect.Enum) string {
	zero := e.Descriptor().Values().ByNumber(0)
	if zero == nil {
		return ""
	}
	return strings.TrimSuffix(string(zero.Name()), "UNSPECIFIED")
}

// enumName is a value's name as an officer says it: POSSIBLE_VICTIM, H3.
func enumName(e protoreflect.Enum) string {
	d := e.Descriptor().Values().ByNumber(e.Number())
	if d == nil {
		return fmt.Sprint(int32(e.Number()))
	}
	return strings.TrimPrefix(string(d.Name()), enumPrefix(e))
}

func enumChoices(e protoreflect.Enum) string {
	values := e.Descriptor().Values()
	prefix := enumPrefix(e)
	var names []string
	for i := range values.Len() {
		if values.Get(i).Number() != 0 {
			names = append(names, strings.TrimPrefix(string(values.Get(i).Name()), prefix))
		}
	}
	return strings.Join(names, ", ")
}

// quote shows a value inside a description, escaped and cut short: the
// value may be junk, and the description ends up in logs and on screens.
func quote(s string) string {
	const max = 48
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
