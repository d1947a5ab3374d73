package message

import (
	"errors"
	"strings"
	"testing"
)

// Specimens from ICAO Doc 9303: Part 4 (TD3 passport), Part 5 (TD1 card),
// Part 6 (TD2 card) and Part 7 (MRV-A and MRV-B visas). Note the TD3 and TD1
// specimens' expiry, 120415: 15 April 2012.
var (
	specimenTD3  = []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}
	specimenTD1  = []string{"I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"}
	specimenTD2  = []string{"I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"}
	specimenMRVA = []string{"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"}
	specimenMRVB = []string{"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"}
)

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		in   string
		want byte
	}{
		{"L898902C3", '6'},
		{"740812", '2'},
		{"120415", '9'},
		{"ZE184226B<<<<<", '1'},
		{"L898902C36" + "7408122" + "1204159ZE184226B<<<<<1", '0'},
		{"D23145890", '7'},
		{"", '0'},
		{"<<<<<<<<<", '0'},
		{"AAA", '0'}, // 10·7 + 10·3 + 10·1 = 110
		{"Z", '5'},   // 35·7 = 245
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CheckDigit(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("CheckDigit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"l898902C3", "L898 902", "Ä", "L-1"} {
		if _, err := CheckDigit(bad); err == nil {
			t.Errorf("CheckDigit(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseMRZSpecimens(t *testing.T) {
	tests := []struct {
		name                                                   string
		lines                                                  []string
		format                                                 MRZFormat
		code, state, number, nationality, dob, expiry, primary string
	}{
		{"TD3 passport", specimenTD3, MRZTD3, "P<", "UTO", "L898902C3", "UTO", "740812", "120415", "ERIKSSON"},
		{"TD1 identity card", specimenTD1, MRZTD1, "I<", "UTO", "D23145890", "UTO", "740812", "120415", "ERIKSSON"},
		{"TD2 identity card", specimenTD2, MRZTD2, "I<", "UTO", "D23145890", "UTO", "740812", "120415", "ERIKSSON"},
		{"MRV-A visa", specimenMRVA, MRZMRVA, "V<", "UTO", "L8988901C", "XXX", "400907", "961210", "ERIKSSON"},
		{"MRV-B visa", specimenMRVB, MRZMRVB, "V<", "UTO", "L8988901C", "XXX", "400907", "961210", "ERIKSSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMRZ(tt.lines)
			if err != nil {
				t.Fatalf("ParseMRZ: %v", err)
			}
			got := []string{m.Format.String(), m.DocumentCode, m.IssuingState, m.DocumentNumber, m.Nationality, m.DateOfBirth, m.ExpiryDate, m.PrimaryIdentifier, m.SecondaryIdentifier, string(m.Sex)}
			want := []string{tt.format.String(), tt.code, tt.state, tt.number, tt.nationality, tt.dob, tt.expiry, tt.primary, "ANNA MARIA", "F"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("read %q, want %q", got, want)
			}
		})
	}
}

// TestParseMRZCheckDigits alters one check digit at a time and expects that
// check to be named. The composite check digit covers the other check digits
// of its line, so altering one of those breaks the composite too.
func TestParseMRZCheckDigits(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		line  int
		pos   int
		want  []MRZProblem
	}{
		// The composite's weight for an altered digit is 7, 3 or 1 by its
		// place in the composite string, hence the differing composites.
		{"TD3 document number", specimenTD3, 1, 9, []MRZProblem{{1, "check digit for document number is 6, MRZ says 7"}, {1, "check digit for composite is 7, MRZ says 0"}}},
		{"TD3 date of birth", specimenTD3, 1, 19, []MRZProblem{{1, "check digit for date of birth is 2, MRZ says 3"}, {1, "check digit for composite is 3, MRZ says 0"}}},
		{"TD3 expiry date", specimenTD3, 1, 27, []MRZProblem{{1, "check digit for expiry date is 9, MRZ says 0"}, {1, "check digit for composite is 1, MRZ says 0"}}},
		{"TD3 optional data", specimenTD3, 1, 42, []MRZProblem{{1, "check digit for optional data is 1, MRZ says 2"}, {1, "check digit for composite is 1, MRZ says 0"}}},
		{"TD3 composite", specimenTD3, 1, 43, []MRZProblem{{1, "check digit for composite is 0, MRZ says 1"}}},
		{"TD1 document number", specimenTD1, 0, 14, []MRZProblem{{0, "check digit for document number is 7, MRZ says 8"}, {1, "check digit for composite is 3, MRZ says 6"}}},
		{"TD1 date of birth", specimenTD1, 1, 6, []MRZProblem{{1, "check digit for date of birth is 2, MRZ says 3"}, {1, "check digit for composite is 9, MRZ says 6"}}},
		{"TD1 expiry date", specimenTD1, 1, 14, []MRZProblem{{1, "check digit for expiry date is 9, MRZ says 0"}, {1, "check digit for composite is 7, MRZ says 6"}}},
		{"TD1 composite", specimenTD1, 1, 29, []MRZProblem{{1, "check digit for composite is 6, MRZ says 7"}}},
		{"TD2 date of birth", specimenTD2, 1, 19, []MRZProblem{{1, "check digit for date of birth is 2, MRZ says 3"}, {1, "check digit for composite is 9, MRZ says 6"}}},
		{"TD2 composite", specimenTD2, 1, 35, []MRZProblem{{1, "check digit for composite is 6, MRZ says 7"}}},
		// Visas have no composite check digit: one altered digit, one problem.
		{"MRV-A document number", specimenMRVA, 1, 9, []MRZProblem{{1, "check digit for document number is 4, MRZ says 5"}}},
		{"MRV-B expiry date", specimenMRVB, 1, 27, []MRZProblem{{1, "check digit for expiry date is 9, MRZ says 0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := append([]string(nil), tt.lines...)
			d := lines[tt.line][tt.pos]
			lines[tt.line] = replaceAt(lines[tt.line], tt.pos, '0'+(d-'0'+1)%10)
			_, err := ParseMRZ(lines)
			var me *MRZError
			if !errors.As(err, &me) {
				t.Fatalf("ParseMRZ = %v, want an *MRZError", err)
			}
			if len(me.Problems) != len(tt.want) {
				t.Fatalf("problems %+v, want %+v", me.Problems, tt.want)
			}
			for i := range tt.want {
				if me.Problems[i] != tt.want[i] {
					t.Errorf("problem %d = %+v, want %+v", i, me.Problems[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseMRZAlteredData(t *testing.T) {
	// 740812 → 750812: a mistyped year breaks its own check and the composite.
	lines := []string{specimenTD3[0], replaceAt(specimenTD3[1], 14, '5')}
	m, err := ParseMRZ(lines)
	var me *MRZError
	if !errors.As(err, &me) || len(me.Problems) != 2 || !strings.Contains(me.Problems[0].Description, "date of birth is 5, MRZ says 2") {
		t.Fatalf("ParseMRZ = %v", err)
	}
	if m == nil || m.DateOfBirth != "750812" {
		t.Errorf("fields not returned alongside the error: %+v", m)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) = false")
	}
	want := "message: invalid MRZ: line 2: check digit for date of birth is 5, MRZ says 2; line 2: check digit for composite is 1, MRZ says 0"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// TestParseMRZOptionalDataFiller: ICAO 9303 Part 4 lets a passport without
// optional data print '<' instead of 0 as that field's check digit.
func TestParseMRZOptionalDataFiller(t *testing.T) {
	l := td3Lines("P", "IDN", "CONTOH", "SITI", "X0000001", "IDN", "1999-04-12", 'F', "2030-01-31", "")
	if l[1][42] != '0' {
		t.Fatalf("optional-data check digit of fillers is %c, want 0", l[1][42])
	}
	if _, err := ParseMRZ([]string{l[0], replaceAt(l[1], 42, '<')}); err != nil {
		t.Errorf("'<' for empty optional data: %v", err)
	}
	// With optional data present the filler is a wrong check digit.
	l = td3Lines("P", "IDN", "CONTOH", "SITI", "X0000001", "IDN", "1999-04-12", 'F', "2030-01-31", "A1")
	_, err := ParseMRZ([]string{l[0], replaceAt(l[1], 42, '<')})
	if err == nil || !strings.Contains(err.Error(), "check digit for optional data") {
		t.Errorf("'<' for present optional data: %v", err)
	}
}

// TestParseMRZUnknownBirthDay: ICAO 9303 writes an unknown day of birth as
// '<<'; the zone is still valid and agrees with any day of that month.
func TestParseMRZUnknownBirthDay(t *testing.T) {
	line := "L898902C36UTO7408<<" // check digit of 7408<< follows
	d, _ := CheckDigit("7408<<")
	line += string(d) + "F1204159ZE184226B<<<<<1"
	c, _ := CheckDigit(line[0:10] + line[13:20] + line[21:43])
	lines := []string{specimenTD3[0], line + string(c)}
	m, err := ParseMRZ(lines)
	if err != nil {
		t.Fatalf("ParseMRZ: %v", err)
	}
	if !mrzDateMatches(m.DateOfBirth, "1974-08-31") || mrzDateMatches(m.DateOfBirth, "1974-09-01") {
		t.Errorf("date of birth %s compared wrongly", m.DateOfBirth)
	}
}

func TestParseMRZShape(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []MRZProblem
	}{
		{"no lines", nil, []MRZProblem{{-1, "an MRZ has 2 or 3 lines, got 0"}}},
		{"four lines", append(specimenTD1[:3:3], specimenTD1[2]), []MRZProblem{{-1, "an MRZ has 2 or 3 lines, got 4"}}},
		{"two lines of 43", []string{specimenTD3[0][:43], specimenTD3[1][:43]}, []MRZProblem{
			{0, "line has 43 characters; each line of a 2-line MRZ has 44 (passport, TD3 or visa, MRV-A) or 36 (TD2 or visa, MRV-B)"},
			{1, "line has 43 characters; each line of a 2-line MRZ has 44 (passport, TD3 or visa, MRV-A) or 36 (TD2 or visa, MRV-B)"},
		}},
		{"lines of 44 and 36", []string{specimenTD3[0], specimenTD2[1]}, []MRZProblem{{1, "line has 36 characters; the other line has 44 and both lines must be equally long"}}},
		{"TD1 line of 29", []string{specimenTD1[0], specimenTD1[1][:29], specimenTD1[2]}, []MRZProblem{{1, "line has 29 characters; each line of a 3-line MRZ (TD1) has 30"}}},
		{"trailing space", []string{specimenTD3[0], specimenTD3[1] + " "}, []MRZProblem{{1, "character 45 is ' '; an MRZ has only upper-case A-Z, 0-9 and <"}}},
		{"lower-case letters", []string{strings.Replace(specimenTD3[0], "UTO", "uto", 1), specimenTD3[1]}, []MRZProblem{{0, "character 3 is 'u'; an MRZ has only upper-case A-Z, 0-9 and <"}}},
		{"non-ASCII letter", []string{specimenTD1[0], specimenTD1[1], "ÉRIKSSON<<ANNA<MARIA<<<<<<<<<<"}, []MRZProblem{{2, "character 1 is 'É'; an MRZ has only upper-case A-Z, 0-9 and <"}}},
		{"document code filler", []string{"<" + specimenTD3[0][1:], specimenTD3[1]}, []MRZProblem{{0, "document code starts with <; it must start with a letter (P passport, I/A/C identity card, V visa)"}}},
		{"letter in date of birth", []string{specimenTD3[0], replaceAt(specimenTD3[1], 15, 'O')}, []MRZProblem{
			{1, "date of birth 74O812 is not YYMMDD"},
			{1, "check digit for date of birth is 6, MRZ says 2"}, // O counts 24
			{1, "check digit for composite is 8, MRZ says 0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMRZ(tt.lines)
			var me *MRZError
			if !errors.As(err, &me) {
				t.Fatalf("ParseMRZ = %v, want an *MRZError", err)
			}
			if len(me.Problems) != len(tt.want) {
				t.Fatalf("problems %+v, want %+v", me.Problems, tt.want)
			}
			for i := range tt.want {
				if me.Problems[i] != tt.want[i] {
					t.Errorf("problem %d = %+v, want %+v", i, me.Problems[i], tt.want[i])
				}
			}
		})
	}
}
