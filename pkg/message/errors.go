package message

import (
	"errors"
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

// violations collects field violations while a message is walked.
type violations struct {
	list []FieldViolation
}

func (v *violations) add(field, description string) {
	v.list = append(v.list, FieldViolation{Field: field, Description: description})
}

func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &ValidationError{Violations: v.list}
}
