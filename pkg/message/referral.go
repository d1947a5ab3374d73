package message

import (
	"fmt"
	"strings"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

// maxReferralSubjects bounds a referral's people; a larger group is several
// referrals in one case.
const maxReferralSubjects = 20

func validateReferral(v *violations, path string, r *messagev1.CaseReferral, c env) {
	typeOK := v.enum(path+".type", r.GetType())

	subjects := r.GetSubjects()
	switch {
	case len(subjects) == 0:
		v.add(path+".subjects", "required: at least one person, each with their role")
	case len(subjects) > maxReferralSubjects:
		v.add(path+".subjects", fmt.Sprintf("at most %d subjects, got %d; refer a larger group in several referrals in the same case", maxReferralSubjects, len(subjects)))
	}
	// A person appears once, with one role: the same person listed as a
	// possible victim and as a suspect would present a victim as a suspect.
	seen := make(map[string]int, len(subjects))
	for i, s := range subjects {
		p := fmt.Sprintf("%s.subjects[%d]", path, i)
		validateSubject(v, p, s, c)
		key, ok := personKey(s)
		if !ok {
			continue
		}
		if j, dup := seen[key]; dup {
			v.add(p, fmt.Sprintf("is the same person as subjects[%d] (same names and date of birth); list each person once, with one role", j))
			continue
		}
		seen[key] = i
	}
	if typeOK && r.GetType() == messagev1.ReferralType_REFERRAL_TYPE_VICTIM_REPATRIATION {
		checkRepatriationRoles(v, path, subjects)
	}

	v.text(path+".facts", r.GetFacts(), 1, 4000, true)
	v.text(path+".requested_assistance", r.GetRequestedAssistance(), 1, 1000, true)

	if d, ok := v.timestamp(path+".response_deadline", r.GetResponseDeadline(), false); ok && c.createdOK {
		switch {
		case !d.After(c.created):
			v.add(path+".response_deadline", fmt.Sprintf("%s is not after the message's creation time %s", formatTime(d), formatTime(c.created)))
		case d.Sub(c.created) > maxAlertLife:
			v.add(path+".response_deadline", fmt.Sprintf("%s is more than one year (366 days) after the message's creation time %s", formatTime(d), formatTime(c.created)))
		}
	}

	urgencyOK := v.enum(path+".urgency", r.GetUrgency())
	validateUrgencyReason(v, path+".urgency_reason", r.GetUrgency(), urgencyOK, r.GetUrgencyReason())
}

// checkRepatriationRoles applies the schema's rule for VICTIM_REPATRIATION:
// at least one possible victim and no suspect. A suspect is reported on its
// role; the missing victim only when every role is otherwise valid, so that
// one wrong role gives one violation.
func checkRepatriationRoles(v *violations, path string, subjects []*messagev1.Subject) {
	victims, unclear := 0, false
	for i, s := range subjects {
		switch role := s.GetRole(); {
		case role == messagev1.SubjectRole_SUBJECT_ROLE_POSSIBLE_VICTIM:
			victims++
		case role == messagev1.SubjectRole_SUBJECT_ROLE_SUSPECT:
			unclear = true
			v.add(fmt.Sprintf("%s.subjects[%d].role", path, i),
				"is SUSPECT, but a VICTIM_REPATRIATION referral names only possible victims (at least one) and witnesses; refer a suspect separately, e.g. in an INVESTIGATION_REQUEST in the same case")
		case !knownEnum(role):
			unclear = true // reported by validateSubject
		}
	}
	if victims == 0 && !unclear && len(subjects) > 0 {
		v.add(path+".subjects", "a VICTIM_REPATRIATION referral needs at least one subject with role POSSIBLE_VICTIM")
	}
}

// personKey identifies a person within one referral by names and date of
// birth, ignoring case and spacing. It is false when the subject lacks the
// family name or date of birth (reported already).
func personKey(s *messagev1.Subject) (string, bool) {
	if s.GetFamilyName() == "" || s.GetDateOfBirth() == "" {
		return "", false
	}
	norm := func(x string) string { return strings.ToUpper(strings.Join(strings.Fields(x), " ")) }
	return norm(s.GetFamilyName()) + "\x00" + norm(s.GetGivenNames()) + "\x00" + s.GetDateOfBirth(), true
}
