package message

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MRZFormat is the layout of a machine-readable zone (ICAO Doc 9303). The
// layout decides where each field and check digit sits, so it must be known
// before anything else in the zone can be read.
type MRZFormat int

const (
	// MRZUnknown means the lines have no layout ICAO 9303 defines.
	MRZUnknown MRZFormat = iota
	// MRZTD1 is three lines of 30 characters: an identity card (Part 5).
	MRZTD1
	// MRZTD2 is two lines of 36 characters: an identity card (Part 6).
	MRZTD2
	// MRZTD3 is two lines of 44 characters: a passport book (Part 4).
	MRZTD3
	// MRZMRVA is two lines of 44 characters with document code V: a full-size visa (Part 7).
	MRZMRVA
	// MRZMRVB is two lines of 36 characters with document code V: a small visa (Part 7).
	MRZMRVB
)

func (f MRZFormat) String() string {
	switch f {
	case MRZTD1:
		return "TD1"
	case MRZTD2:
		return "TD2"
	case MRZTD3:
		return "TD3"
	case MRZMRVA:
		return "MRV-A"
	case MRZMRVB:
		return "MRV-B"
	}
	return "unknown"
}

// MRZ is what ParseMRZ read from a machine-readable zone. Fields keep the
// zone's own notation (YYMMDD dates, '<' fillers inside names and codes)
// because that is what an officer compares against the printed page.
type MRZ struct {
	Format MRZFormat
	// DocumentCode is the first two characters, e.g. "P<", "PD", "I<", "V<".
	DocumentCode string
	// IssuingState is the three-character code as printed, e.g. "IDN" or "D<<".
	IssuingState string
	// DocumentNumber is the number without trailing '<' fillers.
	DocumentNumber string
	// Nationality is the three-character code as printed.
	Nationality string
	// DateOfBirth is YYMMDD; ICAO 9303 lets '<' stand for an unknown part.
	DateOfBirth string
	// Sex is 'F', 'M' or '<' (unspecified).
	Sex byte
	// ExpiryDate is YYMMDD.
	ExpiryDate string
	// PrimaryIdentifier and SecondaryIdentifier are the name as printed
	// (usually family name, then given names), '<' turned into spaces.
	PrimaryIdentifier   string
	SecondaryIdentifier string
}

// numberLine is the index of the line that holds the document number: TD1
// keeps it on the first line, every other layout on the second.
func (m *MRZ) numberLine() int {
	if m.Format == MRZTD1 {
		return 0
	}
	return 1
}

// MRZProblem is one thing wrong with a machine-readable zone.
type MRZProblem struct {
	// Line is the index of the line at fault, or -1 when the fault is the
	// zone as a whole (e.g. the number of lines).
	Line        int
	Description string
}

// MRZError lists everything wrong with a machine-readable zone. A wrong check
// digit almost always means a mistyped character, so the officer is told
// which check failed and what it should have been.
type MRZError struct {
	Problems []MRZProblem
}

func (e *MRZError) Error() string {
	var b strings.Builder
	b.WriteString("message: invalid MRZ")
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if p.Line >= 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line+1)
		}
		b.WriteString(p.Description)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold: a bad MRZ is bad input.
func (e *MRZError) Unwrap() error { return ErrInvalid }

func (e *MRZError) add(line int, format string, args ...any) {
	e.Problems = append(e.Problems, MRZProblem{Line: line, Description: fmt.Sprintf(format, args...)})
}

// mrzValue is the value ICAO 9303 Part 3 gives a character for check-digit
// arithmetic, or -1 if the character cannot appear in an MRZ.
func mrzValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c == '<':
		return 0
	}
	return -1
}

// CheckDigit returns the ICAO 9303 check digit of s as an ASCII digit '0'
// to '9': each character's value (0-9 for digits, A=10 … Z=35, '<'=0) times
// the repeating weights 7, 3, 1, summed, modulo 10. s may hold only A-Z, 0-9
// and '<'.
func CheckDigit(s string) (byte, error) {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		v := mrzValue(s[i])
		if v < 0 {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return 0, fmt.Errorf("message: MRZ check digit: character %d is %q; an MRZ has only A-Z, 0-9 and <", i+1, r)
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), nil
}

// span is a half-open range of one MRZ line.
type span struct {
	line, start, end int
}

// checkedField is a field followed (somewhere) by the check digit that
// protects it. The composite check digit protects several spans at once.
type checkedField struct {
	name  string
	spans []span
	digit span // one character
	// fillerOK: a '<' in place of the digit is allowed when the protected
	// data is all fillers (TD3's optional-data check digit, ICAO 9303 Part 4 §4.2.2).
	fillerOK bool
}

// checkedFields lists every check digit of a layout, in the order an officer
// reads them. Visas (MRV-A, MRV-B) have no composite check digit and MRV-A no
// optional-data check digit (ICAO 9303 Part 7).
func checkedFields(f MRZFormat) []checkedField {
	switch f {
	case MRZTD1:
		return []checkedField{
			{name: "document number", spans: []span{{0, 5, 14}}, digit: span{0, 14, 15}},
			{name: "date of birth", spans: []span{{1, 0, 6}}, digit: span{1, 6, 7}},
			{name: "expiry date", spans: []span{{1, 8, 14}}, digit: span{1, 14, 15}},
			{name: "composite", spans: []span{{0, 5, 30}, {1, 0, 7}, {1, 8, 15}, {1, 18, 29}}, digit: span{1, 29, 30}},
		}
	case MRZTD2:
		return []checkedField{
			{name: "document number", spans: []span{{1, 0, 9}}, digit: span{1, 9, 10}},
			{name: "date of birth", spans: []span{{1, 13, 19}}, digit: span{1, 19, 20}},
			{name: "expiry date", spans: []span{{1, 21, 27}}, digit: span{1, 27, 28}},
			{name: "composite", spans: []span{{1, 0, 10}, {1, 13, 20}, {1, 21, 35}}, digit: span{1, 35, 36}},
		}
	case MRZTD3:
		return []checkedField{
			{name: "document number", spans: []span{{1, 0, 9}}, digit: span{1, 9, 10}},
			{name: "date of birth", spans: []span{{1, 13, 19}}, digit: span{1, 19, 20}},
			{name: "expiry date", spans: []span{{1, 21, 27}}, digit: span{1, 27, 28}},
			{name: "optional data", spans: []span{{1, 28, 42}}, digit: span{1, 42, 43}, fillerOK: true},
			{name: "composite", spans: []span{{1, 0, 10}, {1, 13, 20}, {1, 21, 43}}, digit: span{1, 43, 44}},
		}
	case MRZMRVA, MRZMRVB:
		return []checkedField{
			{name: "document number", spans: []span{{1, 0, 9}}, digit: span{1, 9, 10}},
			{name: "date of birth", spans: []span{{1, 13, 19}}, digit: span{1, 19, 20}},
			{name: "expiry date", spans: []span{{1, 21, 27}}, digit: span{1, 27, 28}},
		}
	}
	return nil
}

// ParseMRZ reads a machine-readable zone given as its printed lines, works
// out the layout from the number and length of lines and the document code,
// and verifies every check digit.
//
// It returns a *MRZError listing every problem. When the lines have a
// recognised layout it also returns the fields it read, even if a check
// digit is wrong, so that a caller can report every disagreement at once;
// otherwise the *MRZ is nil.
func ParseMRZ(lines []string) (*MRZ, error) {
	var e MRZError
	m := parseMRZ(lines, &e)
	if len(e.Problems) > 0 {
		return m, &e
	}
	return m, nil
}

func parseMRZ(lines []string, e *MRZError) *MRZ {
	if len(lines) != 2 && len(lines) != 3 {
		e.add(-1, "an MRZ has 2 or 3 lines, got %d", len(lines))
		return nil
	}
	ok := true
	for i, l := range lines {
		for j, r := range []rune(l) {
			if r >= utf8.RuneSelf || mrzValue(byte(r)) < 0 {
				e.add(i, "character %d is %q; an MRZ has only upper-case A-Z, 0-9 and <", j+1, r)
				ok = false
				break
			}
		}
	}
	if !ok {
		return nil
	}
	// Every character is now ASCII, so len counts characters.
	width := 0
	if len(lines) == 3 {
		width = 30
		for i, l := range lines {
			if len(l) != width {
				e.add(i, "line has %d characters; each line of a 3-line MRZ (TD1) has 30", len(l))
			}
		}
	} else {
		for _, l := range lines {
			if len(l) == 36 || len(l) == 44 {
				width = len(l)
				break
			}
		}
		for i, l := range lines {
			switch {
			case width == 0:
				e.add(i, "line has %d characters; each line of a 2-line MRZ has 44 (passport, TD3 or visa, MRV-A) or 36 (TD2 or visa, MRV-B)", len(l))
			case len(l) != width:
				e.add(i, "line has %d characters; the other line has %d and both lines must be equally long", len(l), width)
			}
		}
	}
	if len(e.Problems) > 0 {
		return nil
	}
	if lines[0][0] == '<' {
		e.add(0, "document code starts with <; it must start with a letter (P passport, I/A/C identity card, V visa)")
		return nil
	}
	visa := lines[0][0] == 'V'
	m := &MRZ{DocumentCode: lines[0][0:2], IssuingState: lines[0][2:5]}
	var names string
	switch {
	case width == 30:
		m.Format = MRZTD1
		m.DocumentNumber = strings.TrimRight(lines[0][5:14], "<")
		m.DateOfBirth = lines[1][0:6]
		m.Sex = lines[1][7]
		m.ExpiryDate = lines[1][8:14]
		m.Nationality = lines[1][15:18]
		names = lines[2]
	default:
		switch {
		case width == 44 && visa:
			m.Format = MRZMRVA
		case width == 44:
			m.Format = MRZTD3
		case visa:
			m.Format = MRZMRVB
		default:
			m.Format = MRZTD2
		}
		m.DocumentNumber = strings.TrimRight(lines[1][0:9], "<")
		m.Nationality = lines[1][10:13]
		m.DateOfBirth = lines[1][13:19]
		m.Sex = lines[1][20]
		m.ExpiryDate = lines[1][21:27]
		names = lines[0][5:]
	}
	primary, secondary, _ := strings.Cut(strings.TrimRight(names, "<"), "<<")
	m.PrimaryIdentifier = strings.ReplaceAll(primary, "<", " ")
	m.SecondaryIdentifier = strings.TrimSpace(strings.ReplaceAll(secondary, "<", " "))

	dateLine := 1
	if !isMRZDate(m.DateOfBirth, true) {
		e.add(dateLine, "date of birth %s is not YYMMDD", m.DateOfBirth)
	}
	if !isMRZDate(m.ExpiryDate, false) {
		e.add(dateLine, "expiry date %s is not YYMMDD", m.ExpiryDate)
	}
	if m.Sex != 'F' && m.Sex != 'M' && m.Sex != '<' {
		e.add(dateLine, "sex is %c; an MRZ says F, M or <", m.Sex)
	}

	for _, f := range checkedFields(m.Format) {
		var data strings.Builder
		for _, s := range f.spans {
			data.WriteString(lines[s.line][s.start:s.end])
		}
		got := lines[f.digit.line][f.digit.start]
		if f.fillerOK && got == '<' && strings.Trim(data.String(), "<") == "" {
			continue
		}
		want, _ := CheckDigit(data.String()) // characters were checked above
		if got != want {
			e.add(f.digit.line, "check digit for %s is %c, MRZ says %c", f.name, want, got)
		}
	}
	return m
}

// isMRZDate reports whether s looks like YYMMDD. ICAO 9303 lets an unknown
// part of a date of birth be filled with '<'; an expiry date is always known.
func isMRZDate(s string, fillerOK bool) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < 6; i += 2 {
		pair := s[i : i+2]
		if fillerOK && pair == "<<" {
			continue
		}
		if pair[0] < '0' || pair[0] > '9' || pair[1] < '0' || pair[1] > '9' {
			return false
		}
	}
	return true
}

// mrzDateMatches reports whether an MRZ date (YYMMDD, '<<' for an unknown
// part) agrees with a date written YYYY-MM-DD. The century is not in the MRZ,
// so only the last two digits of the year can be compared.
func mrzDateMatches(mrz, iso string) bool {
	if len(mrz) != 6 || len(iso) != 10 {
		return false
	}
	want := iso[2:4] + iso[5:7] + iso[8:10]
	for i := 0; i < 6; i += 2 {
		if mrz[i:i+2] != "<<" && mrz[i:i+2] != want[i:i+2] {
			return false
		}
	}
	return true
}

// mrzDate writes a YYYY-MM-DD date as the MRZ does, YYMMDD.
func mrzDate(iso string) string {
	return iso[2:4] + iso[5:7] + iso[8:10]
}

// mrzName writes a name as the MRZ does: letters kept, spaces, hyphens and
// apostrophes turned into '<' (a simplification of ICAO 9303 Part 3 §6,
// enough for the Latin-alphabet names the examples use).
func mrzName(s string) string {
	s = strings.ToUpper(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r
		case r == ' ' || r == '-':
			return '<'
		}
		return -1
	}, s)
}

// padMRZ fills s with '<' to n characters, or cuts it to n.
func padMRZ(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat("<", n-len(s))
}

// withCheckDigit appends s's check digit. s must hold only MRZ characters.
func withCheckDigit(s string) string {
	d, err := CheckDigit(s)
	if err != nil {
		panic(err) // callers build s from MRZ characters only
	}
	return s + string(d)
}

// td3Lines builds the two lines of a passport's MRZ (ICAO 9303 Part 4), with
// every check digit computed. Dates are YYYY-MM-DD; number, codes and names
// must already be MRZ-safe except that names may hold spaces.
func td3Lines(code, state, familyName, givenNames, number, nationality, dateOfBirth string, sex byte, expiry, optional string) [2]string {
	name := mrzName(familyName) + "<<" + mrzName(givenNames)
	line1 := padMRZ(padMRZ(code, 2)+padMRZ(state, 3)+name, 44)

	numberField := withCheckDigit(padMRZ(number, 9))
	dob := withCheckDigit(mrzDate(dateOfBirth))
	exp := withCheckDigit(mrzDate(expiry))
	opt := withCheckDigit(padMRZ(optional, 14))
	composite, _ := CheckDigit(numberField + dob + exp + opt)
	line2 := numberField + padMRZ(nationality, 3) + dob + string(sex) + exp + opt + string(composite)
	return [2]string{line1, line2}
}
