package pii

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Norm is the norm= option: the normalisers a value passes through before
// its blind index or deterministic ciphertext is computed, on write and on
// lookup alike, so that "Alice@Example.COM " finds "alice@example.com".
// It is a set, read from the tag (the package doc lists the normalisers
// and what each does and does not do); they run in a fixed order (nfc,
// trim, lower, then digits), whatever order the tag lists them in. The
// zero Norm changes nothing.
type Norm uint8

const (
	// normNFC puts the value in Unicode Normalization Form C
	// (golang.org/x/text/unicode/norm), so composed and decomposed
	// spellings of "é" are equal. It does not fold compatibility forms
	// (fullwidth letters, ligatures): that is NFKC, which is not offered.
	normNFC Norm = 1 << iota
	// normTrim removes Unicode white space at both ends (strings.TrimSpace).
	// Space inside the value is kept.
	normTrim
	// normLower lower-cases every letter (strings.ToLower: Unicode simple
	// case mapping, no locale: the Turkish dotless ı is not special).
	normLower
	// normEmail is the e-mail canonical form: NFC, then trim, then
	// lower-case the whole address, local part and domain alike. It does
	// no more: no removal of dots or +tags from the local part (the folding
	// one provider does is not the rule of others), no IDNA conversion
	// (an address with a U-label domain and the same one spelt with its
	// xn-- A-label are different values), no removal of a trailing dot,
	// of a display name, of angle brackets, comments or quotes, and no
	// validation (a value without "@" is normalised all the same).
	// Lower-casing the local part is what every large provider does
	// although RFC 5321 leaves it case-sensitive. It combines with no
	// other normaliser.
	normEmail
	// normDigits keeps only the ASCII digits 0-9 and drops everything
	// else (spaces, dashes, dots, brackets, a leading "+", letters, and
	// digits of other scripts): for phone and card numbers typed in any
	// layout. It knows nothing of country codes: "+44 20 7946 0958" and
	// "020 7946 0958" are different values. It combines with no other
	// normaliser.
	normDigits
)

// normNames are the normaliser names in the order they run.
var normNames = [...]struct {
	n    Norm
	name string
}{
	{normNFC, "nfc"}, {normTrim, "trim"}, {normLower, "lower"}, {normEmail, "email"}, {normDigits, "digits"},
}

// parseNorm parses the value of a norm= option: normaliser names joined by
// "|" (nfc, trim, lower, email, digits), each at most once. email and
// digits stand alone.
func parseNorm(s string) (Norm, error) {
	var n Norm
	for _, part := range strings.Split(s, "|") {
		var bit Norm
		for _, nn := range normNames {
			if nn.name == part {
				bit = nn.n
			}
		}
		switch {
		case bit == 0:
			return 0, fmt.Errorf("unknown normaliser %q (want nfc, trim, lower, email or digits, joined by |)", part)
		case n&bit != 0:
			return 0, fmt.Errorf("normaliser %s given twice", part)
		}
		n |= bit
	}
	if n&(normEmail|normDigits) != 0 && n != normEmail && n != normDigits {
		return 0, fmt.Errorf("email and digits stand alone (email already applies nfc, trim and lower; digits drops everything else)")
	}
	return n, nil
}

// String returns the canonical spelling: the names in the order they run,
// joined by "|" ("" for none). Key derivation binds it, so it never
// changes for a given set.
func (n Norm) String() string {
	var b strings.Builder
	for _, nn := range normNames {
		if n&nn.n != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(nn.name)
		}
	}
	return b.String()
}

// Apply returns s normalised. A zero Norm returns s unchanged.
func (n Norm) Apply(s string) string {
	if n == 0 {
		return s
	}
	if n&normDigits != 0 {
		return keepDigits(s)
	}
	if n&(normNFC|normEmail) != 0 {
		s = norm.NFC.String(s)
	}
	if n&(normTrim|normEmail) != 0 {
		s = strings.TrimSpace(s)
	}
	if n&(normLower|normEmail) != 0 {
		s = strings.ToLower(s)
	}
	return s
}

func keepDigits(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			out = append(out, c)
		}
	}
	return string(out)
}
