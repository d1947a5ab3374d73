package message

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is what every validation failure in this package matches with
// errors.Is. A caller that only needs to know "refuse, the sender must fix
// it" tests for ErrInvalid; one that must tell the sender what to fix takes
// the *ValidationError (or *MRZError) out with errors.As.
var ErrInvalid = errors.New("message: invalid")

// FieldViolation names one field and what is wrong with it.
//
// Field is the dotted path of proto field names from the Message, with an
// index for repeated fields, e.g. "payload.alert.document.mrz_lines[1]". The
// gRPC layer copies it into a google.rpc.BadRequest field violation as is,
// so the path is part of the API: an agency's system may key on it.
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError is returned when a message breaks the schema's rules. It
// lists every violation found, not only the first, so that an officer can fix
// a message in one pass instead of resubmitting once per mistake.
type ValidationError struct {
	Violations []FieldViolation
}

// Error lists every violation, e.g.
// "message: invalid: payload.alert.subject.family_name: required; header.schema_version: ...".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.Field)
		b.WriteString(": ")
		b.WriteString(v.Description)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// MaxViolations caps the violations one ValidationError lists. A refusal must
// not be as large as a hostile input (ten thousand bad aliases would make a
// megabyte of error details, more than many gRPC clients accept in trailers).
const MaxViolations = 50

// violations collects field violations while a message is walked.
type violations struct {
	list    []FieldViolation
	omitted int
	// firstOmitted is where the unlisted violations start.
	firstOmitted string
}

func (v *violations) add(field, description string) {
	if len(v.list) >= MaxViolations {
		if v.omitted == 0 {
			v.firstOmitted = field
		}
		v.omitted++
		return
	}
	v.list = append(v.list, FieldViolation{Field: field, Description: description})
}

func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	list := v.list
	if v.omitted > 0 {
		list = append(list, FieldViolation{
			Field:       v.firstOmitted,
			Description: fmt.Sprintf("and %d more violations from here on, not listed", v.omitted),
		})
	}
	return &ValidationError{Violations: list}
}
