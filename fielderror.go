package pii

import (
	"fmt"
	"strings"
)

// FieldError names the field and the record that an operation on a tagged
// struct failed on: envelope's Seal and Open, tokenize's Apply and Reverse
// and mask's views all return one, so errors.As(err, &fe) works the same
// whichever package failed. Err is the cause; errors.Is sees through.
// [SchemaOf] returns one too, for a malformed tag: Type is then the Go
// type, Path the field, no record is named, and Err says which token of
// the tag is wrong and why.
//
// The record is named by the value of its `pii:"id"` field: an opaque key,
// like a primary key, that an operator needs to find the record. It is the
// only value a FieldError shows: never a field's value and never a subject
// id (a type without an id field is named by its subject field's path
// alone). Keep id fields free of personal data.
type FieldError struct {
	Type string // schema name
	Path string // concrete path, e.g. "Contacts[2].Phone"
	// RecordField is the schema path of the field that identifies the
	// record: its `pii:"id"` field, else its `pii:"subject"` field, else "".
	RecordField string
	// Record is the value of the `pii:"id"` field ("" when the type has
	// none; a subject id is never copied here).
	Record string
	Err    error
}

// maxRecordInError bounds how much of a record id an error shows.
const maxRecordInError = 64

// FieldError returns the FieldError of field path of the record ptr points
// to, caused by err.
func (s *Schema) FieldError(ptr any, path string, err error) *FieldError {
	fe := &FieldError{Type: s.Name, Path: path, Err: err}
	switch {
	case s.ID != nil:
		fe.RecordField, fe.Record = s.ID.Path, s.RecordOf(ptr)
	case s.Subject != nil:
		fe.RecordField = s.Subject.Path
	}
	return fe
}

// Error returns "<package>: <Type>.<Path> (record <id field> "<id>"): <cause>",
// the package being the one that wrote the cause, named once.
func (e *FieldError) Error() string {
	pkg, cause := "pii", ""
	if e.Err != nil {
		cause = e.Err.Error()
		_, tag := e.Err.(*tagError)
		if p, rest, ok := strings.Cut(cause, ": "); ok && !tag && isPkgName(p) {
			pkg, cause = p, rest
		}
	}
	var b strings.Builder
	b.WriteString(pkg)
	b.WriteString(": ")
	b.WriteString(e.Type)
	b.WriteByte('.')
	b.WriteString(e.Path)
	switch {
	case e.Record != "":
		r := e.Record
		if len(r) > maxRecordInError {
			r = r[:maxRecordInError] + "..."
		}
		fmt.Fprintf(&b, " (record %s %q)", e.RecordField, r)
	case e.RecordField != "":
		fmt.Fprintf(&b, " (record of subject field %s)", e.RecordField)
	}
	b.WriteString(": ")
	b.WriteString(cause)
	return b.String()
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// isPkgName reports whether s looks like the package prefix of an error
// message ("envelope", "tokenize", "fpe"): lower-case letters only.
func isPkgName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
