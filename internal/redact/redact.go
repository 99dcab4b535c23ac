// Package redact is the one implementation of the printing methods of the
// library's secret-holding types (envelope.Sealer and its key entries,
// tokenize.Tokenizer, keyprovider/local.Provider): embedded, [Redacted]
// gives a type String, GoString, Format, LogValue, MarshalJSON and
// MarshalText that print a description free of key material, so no fmt
// verb (%v %+v %#v %s %q %x %d …), slog handler or encoder reaches the
// fields.
//
// Embed it under an unexported alias, so the field stays unexported and
// the methods are still promoted:
//
//	type noPrint = redact.Redacted
//
//	type Sealer struct {
//		noPrint
//		...
//	}
//
//	s := &Sealer{noPrint: redact.Named("envelope.Sealer"), ...}
//
// A type must not embed two of them, nor declare the methods itself: an
// ambiguous selector is not promoted, and fmt would print the fields.
package redact

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Text is what a secret-holding value prints instead of its contents.
const Text = "[REDACTED]"

// Redacted prints as its description. The zero value prints [Text].
type Redacted struct{ describe func() string }

// Named returns a Redacted that prints as name{[REDACTED]}.
func Named(name string) Redacted {
	s := name + "{" + Text + "}"
	return Redacted{describe: func() string { return s }}
}

// Describe returns a Redacted that prints as what describe returns, which
// must hold no key material (a path, a key set's name, a version number).
func Describe(describe func() string) Redacted { return Redacted{describe: describe} }

func (r Redacted) String() string {
	if r.describe == nil {
		return Text
	}
	return r.describe()
}

// GoString prints the description for %#v.
func (r Redacted) GoString() string { return r.String() }

// Format prints the description under every verb and flag.
func (r Redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue logs the description.
func (r Redacted) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON encodes the description as a JSON string.
func (r Redacted) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// MarshalText encodes the description, for encoders that look for
// encoding.TextMarshaler.
func (r Redacted) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
