package message

import (
	"fmt"
	"regexp"
	"time"

	messagev1 "github.com/focalpoint-gateway/focalpoint/pkg/gen/focalpoint/message/v1"
)

const (
	// MaxCount bounds every count in a statistics report. A month's figure
	// above it is a typing error (or an overflow in the system that made it).
	MaxCount = 1_000_000
	// earliestPeriod is the first month a statistics report may count; an
	// earlier year is a typing error.
	earliestPeriod = "2000-01"
)

var periodRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)

func validateStatistics(v *violations, path string, s *messagev1.StatisticsReport, c env) {
	validatePeriod(v, path+".period", s.GetPeriod(), c)

	for _, f := range []struct {
		name string
		n    uint32
	}{
		{"deferred_departures", s.GetDeferredDepartures()},
		{"deferred_passport_issuances", s.GetDeferredPassportIssuances()},
		{"alerts_sent", s.GetAlertsSent()},
		{"alerts_received", s.GetAlertsReceived()},
		{"referrals_sent", s.GetReferralsSent()},
		{"referrals_received", s.GetReferralsReceived()},
	} {
		v.count(path+"."+f.name, f.n)
	}

	counts := s.GetOutcomesByType()
	if limit := messagev1.Outcome(0).Descriptor().Values().Len() - 1; len(counts) > limit {
		v.add(path+".outcomes_by_type", fmt.Sprintf("at most %d entries, one per outcome, got %d", limit, len(counts)))
	}
	seen := make(map[messagev1.Outcome]int)
	for i, oc := range counts {
		p := fmt.Sprintf("%s.outcomes_by_type[%d]", path, i)
		if oc == nil {
			v.add(p, "required")
			continue
		}
		if v.enum(p+".outcome", oc.GetOutcome()) {
			if j, dup := seen[oc.GetOutcome()]; dup {
				v.add(p+".outcome", fmt.Sprintf("%s is counted already in outcomes_by_type[%d]; count each outcome once", enumName(oc.GetOutcome()), j))
			} else {
				seen[oc.GetOutcome()] = i
			}
		}
		v.count(p+".count", oc.GetCount())
	}

	v.text(path+".notes", s.GetNotes(), 0, 2000, true)
}

// validatePeriod checks a YYYY-MM month from earliestPeriod to the current
// one. Like a date of birth, a month is in the future only if it has not yet
// begun anywhere.
func validatePeriod(v *violations, path, s string, c env) {
	switch {
	case s == "":
		v.add(path, "required: a month written YYYY-MM, e.g. 2026-02")
		return
	case !periodRE.MatchString(s):
		v.add(path, fmt.Sprintf("%s is not a month written YYYY-MM, e.g. 2026-02", quote(s)))
		return
	}
	start, err := time.Parse("2006-01", s)
	if err != nil {
		v.add(path, fmt.Sprintf("%s is not a real month", s))
		return
	}
	switch {
	case s < earliestPeriod:
		v.add(path, fmt.Sprintf("%s is before %s; check the year", s, earliestPeriod))
	case start.After(c.now.Add(earliestTimeZone)):
		v.add(path, fmt.Sprintf("%s is in the future; a report counts a month that has begun", s))
	}
}

// count checks one statistics count against MaxCount.
func (v *violations) count(path string, n uint32) {
	if n > MaxCount {
		v.add(path, fmt.Sprintf("%d is more than %d; check the figure", n, MaxCount))
	}
}
