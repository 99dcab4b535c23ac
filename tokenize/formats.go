package tokenize

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fieldguard/pii/internal/checkdigit"
	"github.com/fieldguard/pii/tokenize/fpe"
	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

// TokenFormat is a format-aware tokenization rule: which parts of a value
// are kept, which are tokenized over which alphabet, and which validity
// rules the token must still meet. Card, Phone, SSN, IBAN and Email
// implement it, and NewTemplate returns one for any other shape; the
// interface is closed (its transform method is unexported).
type TokenFormat interface {
	// Name is the surrogate info type used by Annotate ("CARD", "PHONE").
	Name() string
	// transform tokenizes (enc) or reverses value using f for the numerals.
	transform(f numerals, value string, enc bool) (string, error)
}

// digitPositions returns the byte offsets and numerals of the ASCII digits
// of s, and whether every other byte is one of the allowed separators. It
// appends to pos and x, so callers can pass stack buffers.
func digitPositions(s, seps string, pos []int, x []uint16) ([]int, []uint16, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			pos = append(pos, i)
			x = append(x, uint16(c-'0'))
		case strings.IndexByte(seps, c) < 0:
			return nil, nil, false
		}
	}
	return pos, x, true
}

// putDigits returns s with the digits at pos replaced by x.
func putDigits(s string, pos []int, x []uint16) string {
	var stack [64]byte
	var b []byte
	if len(s) <= len(stack) {
		b = stack[:len(s)]
	} else {
		b = make([]byte, len(s))
	}
	copy(b, s)
	for i, p := range pos {
		b[p] = byte('0' + x[i])
	}
	out := string(b)
	clear(b)
	return out
}

// Card tokenizes payment card numbers of 12–19 digits, with spaces or
// dashes kept where they are. The last four digits are kept, and the first
// KeepBIN (0, 6 or 8) digits; the digits between are tokenized. Inputs
// must pass the Luhn check.
//
// Tokens fail the Luhn check, so a token is never taken for a card number
// (by a PCI DSS scope scan, by mask views, or by Reverse): the digit that
// carries the Luhn adjustment is moved off its valid value by a shift of 1
// to 9 that depends on the scope (tenant and field). Reverse (Detokenize)
// accepts a value only when it fails the check by exactly this field's
// shift, and fails with ErrNotToken otherwise: always for a real card
// number, and for 8 in 9 tokens of another field or tenant. A random
// Luhn-invalid number passes with probability 1/10; the shift is visible in
// the token and tells nothing but the scope's check byte.
//
// LuhnValid makes tokens pass the Luhn check like real card numbers, for
// systems that refuse other numbers. Tokens can then not be told from card
// numbers: Reverse turns any card number, or a token of another scope, into
// another valid-looking card number instead of failing, and mask views
// cannot spot them. Set it only when a downstream system requires it.
//
// When the tokenized middle has at least 7 digits, its last digit is not
// encrypted but recomputed to set the Luhn result, and the other digits
// are encrypted (a domain of at least 10^6). With a 6-digit middle (a
// 16-digit card with a 6-digit BIN) the whole middle is encrypted and
// cycle-walked until the Luhn result holds. Shorter middles are rejected
// with fpe.ErrDomain: they are below the NIST 1,000,000 floor.
type Card struct {
	KeepBIN   int
	LuhnValid bool
}

// Name returns "CARD".
func (Card) Name() string { return "CARD" }

func (c Card) transform(f numerals, value string, enc bool) (string, error) {
	if c.KeepBIN != 0 && c.KeepBIN != 6 && c.KeepBIN != 8 {
		return "", fmt.Errorf("%w: KeepBIN must be 0, 6 or 8", ErrFormat)
	}
	var xb [19]uint16
	var pb [19]int
	if len(value) > 64 {
		return "", fmt.Errorf("%w: card number must be 12-19 digits with optional spaces or dashes", ErrFormat)
	}
	pos, x, ok := digitPositions(value, " -", pb[:0], xb[:0])
	if !ok || len(x) < 12 || len(x) > 19 {
		return "", fmt.Errorf("%w: card number must be 12-19 digits with optional spaces or dashes", ErrFormat)
	}
	defer clear(x)
	lo, hi := c.KeepBIN, len(x)-4
	k := hi - lo
	if k < 6 {
		return "", fmt.Errorf("tokenize: %d tokenized card digits are below the 10^6 domain floor: %w", k, fpe.ErrDomain)
	}
	last := hi - 1 // the middle digit that carries the Luhn adjustment
	var shift uint16
	if !c.LuhnValid {
		shift = 1 + uint16(f.check%9)
	}
	// The input to this direction must be a real card number: for
	// tokenizing it is the value, for reversing it is the token with its
	// shift undone.
	switch {
	case !enc && shift != 0:
		passes := checkdigit.LuhnSum(x) == 0
		x[last] = (x[last] + 10 - shift) % 10
		if checkdigit.LuhnSum(x) != 0 {
			if passes {
				return "", fmt.Errorf("%w: it passes the Luhn check, and card tokens fail it (see Card.LuhnValid)", ErrNotToken)
			}
			return "", fmt.Errorf("%w: it fails the Luhn check, but not as this field's tokens do", ErrNotToken)
		}
	case !enc:
		if checkdigit.LuhnSum(x) != 0 {
			return "", fmt.Errorf("%w: it fails the Luhn check, and this field's tokens pass it", ErrNotToken)
		}
	case checkdigit.LuhnSum(x) != 0:
		return "", fmt.Errorf("%w: card number fails the Luhn check (already a token?)", ErrFormat)
	}
	if k >= 7 {
		y, err := f.crypt(10, x[lo:last], enc, nil)
		if err != nil {
			return "", err
		}
		copy(x[lo:last], y)
		clear(y)
		fixLuhn(x, last)
	} else {
		whole := make([]uint16, len(x))
		copy(whole, x)
		valid := func(m []uint16) bool {
			copy(whole[lo:hi], m)
			return checkdigit.LuhnSum(whole) == 0
		}
		y, err := f.crypt(10, x[lo:hi], enc, valid)
		clear(whole)
		if err != nil {
			return "", err
		}
		copy(x[lo:hi], y)
		clear(y)
	}
	if enc {
		x[last] = (x[last] + shift) % 10
	}
	return putDigits(value, pos, x), nil
}

// fixLuhn sets x[i] so that x passes the Luhn check.
func fixLuhn(x []uint16, i int) {
	x[i] = 0
	s := checkdigit.LuhnSum(x)
	doubled := (len(x)-1-i)%2 == 1
	for d := range 10 {
		v := d
		if doubled {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		if (s+v)%10 == 0 {
			x[i] = uint16(d)
			return
		}
	}
}

// SSN tokenizes US Social Security numbers: nine digits, with dashes or
// spaces kept. Inputs and tokens follow the SSA rules: the area (first
// three digits) is not 000, 666 or 900–999, the group (next two) is not
// 00 and the serial (last four) is not 0000. All nine digits are
// encrypted and cycle-walked until the result follows the rules.
//
// An SSN token cannot be told from an SSN: the invalid ranges hold about
// 1.1·10^8 nine-digit numbers, fewer than the 8.9·10^8 valid SSNs, so no
// one-to-one map can send every SSN into them. Reverse refuses with
// ErrNotToken only a value outside the valid ranges; any valid SSN, or a
// token of another field, reverses to another valid-looking SSN.
type SSN struct{}

// Name returns "SSN".
func (SSN) Name() string { return "SSN" }

func ssnValid(x []uint16) bool {
	area := int(x[0])*100 + int(x[1])*10 + int(x[2])
	group := int(x[3])*10 + int(x[4])
	serial := int(x[5])*1000 + int(x[6])*100 + int(x[7])*10 + int(x[8])
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

func (SSN) transform(f numerals, value string, enc bool) (string, error) {
	var xb [9]uint16
	var pb [9]int
	pos, x, ok := digitPositions(value, " -", pb[:0], xb[:0])
	if !ok || len(x) != 9 {
		return "", fmt.Errorf("%w: SSN must be 9 digits with optional dashes or spaces", ErrFormat)
	}
	defer clear(x)
	if !ssnValid(x) {
		if !enc {
			return "", fmt.Errorf("%w: SSN area, group or serial outside the ranges tokens are drawn from", ErrNotToken)
		}
		return "", fmt.Errorf("%w: SSN area, group or serial out of range", ErrFormat)
	}
	y, err := f.crypt(10, x, enc, ssnValid)
	if err != nil {
		return "", err
	}
	defer clear(y)
	return putDigits(value, pos, y), nil
}

// IBAN tokenizes international bank account numbers, in electronic form
// or printed in groups with spaces. The country code is kept, the digits
// of the BBAN are tokenized (letters in the BBAN, such as UK bank codes,
// are kept), and the two check digits are recomputed. Inputs must pass the
// ISO 13616 mod-97 check.
//
// Tokens fail the mod-97 check, so a token is never taken for an account
// number: their check digits are the valid ones moved by a shift of 1 to
// 96 (within the 97 valid values 02–98) that depends on the scope. Reverse
// accepts a value only when its check digits are exactly this field's
// shift away from valid, and fails with ErrNotToken otherwise: always for
// a real IBAN, and for 95 in 96 tokens of another field or tenant.
//
// ChecksumValid makes tokens pass the mod-97 check like real IBANs, for
// systems that refuse other numbers. Tokens can then not be told from
// IBANs: Reverse turns any IBAN into another valid-looking one instead of
// failing. Set it only when a downstream system requires it.
type IBAN struct {
	ChecksumValid bool
}

// Name returns "IBAN".
func (IBAN) Name() string { return "IBAN" }

// parseIBAN returns the upper-cased compact form and the byte offsets of
// its characters in s, and whether s has the shape of an IBAN (country
// letters, two check digits, 15–34 characters). The checksum is not
// checked.
func parseIBAN(s string) (compact []byte, pos []int, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return nil, nil, false
		}
		compact = append(compact, c)
		pos = append(pos, i)
	}
	if len(compact) < 15 || len(compact) > 34 {
		return nil, nil, false
	}
	cc, check := compact[:2], compact[2:4]
	for _, c := range cc {
		if c < 'A' || c > 'Z' {
			return nil, nil, false
		}
	}
	for _, c := range check {
		if c < '0' || c > '9' {
			return nil, nil, false
		}
	}
	return compact, pos, true
}

// ibanCheck returns the valid check digits (02–98) of a compact IBAN,
// whatever its own check digits are. parseIBAN has checked its shape.
func ibanCheck(compact []byte) int {
	c, _ := checkdigit.IBANCheckDigits(compact)
	return c
}

// ibanCheckDigits returns the check digits written in a compact IBAN.
func ibanCheckDigits(compact []byte) int { return int(compact[2]-'0')*10 + int(compact[3]-'0') }

// shiftCheck moves valid check digits (02–98) by shift within 02–98.
func shiftCheck(valid, shift int) int { return 2 + (valid-2+shift)%97 }

func (c IBAN) transform(f numerals, value string, enc bool) (string, error) {
	compact, pos, ok := parseIBAN(value)
	if !ok {
		return "", fmt.Errorf("%w: not a valid IBAN", ErrFormat)
	}
	defer clear(compact)
	bban := compact[4:]
	shift := 0
	if !c.ChecksumValid {
		shift = 1 + int(f.check%96)
	}
	valid := ibanCheck(compact)
	switch got := ibanCheckDigits(compact); {
	case enc && got != valid:
		return "", fmt.Errorf("%w: not a valid IBAN (already a token?)", ErrFormat)
	case !enc && got != shiftCheck(valid, shift):
		switch {
		case got == valid:
			return "", fmt.Errorf("%w: it passes the mod-97 check, and IBAN tokens fail it (see IBAN.ChecksumValid)", ErrNotToken)
		case shift == 0:
			return "", fmt.Errorf("%w: it fails the mod-97 check, and this field's tokens pass it", ErrNotToken)
		}
		return "", fmt.Errorf("%w: its check digits are not those of this field's tokens", ErrNotToken)
	}
	var dpos []int
	var x []uint16
	for i, c := range bban {
		if c >= '0' && c <= '9' {
			dpos = append(dpos, i)
			x = append(x, uint16(c-'0'))
		}
	}
	y, err := f.crypt(10, x, enc, nil)
	clear(x)
	if err != nil {
		return "", err
	}
	for i, p := range dpos {
		bban[p] = byte('0' + y[i])
	}
	clear(y)
	check := ibanCheck(compact)
	if enc {
		check = shiftCheck(check, shift)
	}
	compact[2], compact[3] = byte('0'+check/10), byte('0'+check%10)
	out := []byte(value)
	for i, p := range pos {
		c := compact[i]
		if value[p] >= 'a' && value[p] <= 'z' {
			c += 'a' - 'A'
		}
		out[p] = c
	}
	return string(out), nil
}

// Email tokenizes e-mail addresses. In the local part, letters and digits
// are tokenized over the 62 ASCII letters and digits (so the token has the
// same length and uses the same characters) and every other character
// (".", "_", "+", "-", …) stays in place. The domain is kept unless
// TokenizeDomain is set; then the letters and digits of every label but
// the last (the top-level domain) are tokenized over lower-case letters and
// digits, and the domain comes back lower-cased on reversal.
//
// The local part needs at least 4 letters or digits (62^4 ≥ 10^6), and a
// tokenized domain at least 4 outside the TLD; shorter ones fail with
// fpe.ErrDomain rather than fall below the NIST floor.
//
// An e-mail token cannot be told from an address: every local part is the
// token of some other local part of the same length and punctuation, so
// Reverse of a real address (or of a token of another field) returns
// another address. Use token=stored where reversal must refuse values that
// were never tokenized.
type Email struct {
	TokenizeDomain bool
}

// Name returns "EMAIL".
func (Email) Name() string { return "EMAIL" }

var (
	alnumAlphabet      = alphabet.MustNew(alphabet.Alnum)
	lowerAlnumAlphabet = alphabet.MustNew(alphabet.LowerAlnum)
)

func (e Email) transform(f numerals, value string, enc bool) (string, error) {
	at := strings.LastIndexByte(value, '@')
	if at <= 0 || at == len(value)-1 {
		return "", fmt.Errorf("%w: not an e-mail address", ErrFormat)
	}
	local, domain := value[:at], value[at+1:]
	tl, err := tokenizeOver(f, alnumAlphabet, local, enc)
	if err != nil {
		return "", err
	}
	if e.TokenizeDomain {
		dot := strings.LastIndexByte(domain, '.')
		if dot <= 0 {
			return "", fmt.Errorf("%w: e-mail domain has no top-level domain", ErrFormat)
		}
		td, err := tokenizeOver(f, lowerAlnumAlphabet, strings.ToLower(domain[:dot]), enc)
		if err != nil {
			return "", err
		}
		domain = td + domain[dot:]
	}
	return tl + "@" + domain, nil
}

// tokenizeOver tokenizes the runes of s that are in a and keeps the others.
func tokenizeOver(f numerals, a *alphabet.Alphabet, s string, enc bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: value is not valid UTF-8", ErrFormat)
	}
	runes := []rune(s)
	var idx []int
	var x []uint16
	for i, r := range runes {
		if v, ok := a.Index(r); ok {
			idx = append(idx, i)
			x = append(x, v)
		}
	}
	y, err := f.crypt(a.Radix(), x, enc, nil)
	clear(x)
	if err != nil {
		return "", err
	}
	for i, p := range idx {
		runes[p] = a.Symbol(y[i])
	}
	clear(y)
	out := string(runes)
	clear(runes)
	return out, nil
}

// template is the format of NewTemplate.
type template struct {
	name    string
	alpha   *alphabet.Alphabet
	pattern []rune
}

// NewTemplate returns the generic format: an alphabet and a pattern of
// kept and tokenized positions. name is its surrogate info type
// (upper-case letters, digits and underscores); symbols is the alphabet,
// at least 2 distinct runes ("0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
// …). In the pattern, '#' is a tokenized position (the value's rune there
// must be in the alphabet), '?' keeps whatever rune is there, and any
// other rune must appear literally in the value and is kept. An empty
// pattern tokenizes every rune of the value that is in the alphabet and
// keeps the others, whatever the length.
//
// Template tokens (plain FF1 or FF3-1 over the alphabet) cannot be told
// from values: FPE is a permutation of the values of that shape, so
// Reverse of a value that was never tokenized returns another value of the
// same shape. Use token=stored where reversal must refuse them.
func NewTemplate(name, symbols, pattern string) (TokenFormat, error) {
	a, err := alphabet.New(symbols)
	if err != nil {
		return nil, fmt.Errorf("%w: template %w", ErrFormat, err)
	}
	if !validInfoType(name) {
		return nil, fmt.Errorf("%w: template name must be 1-64 of A-Z, 0-9 and _ starting with a letter", ErrFormat)
	}
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("%w: pattern is not valid UTF-8", ErrFormat)
	}
	return &template{name: name, alpha: a, pattern: []rune(pattern)}, nil
}

func (t *template) Name() string { return t.name }

func (t *template) transform(f numerals, value string, enc bool) (string, error) {
	if len(t.pattern) == 0 {
		return tokenizeOver(f, t.alpha, value, enc)
	}
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("%w: value is not valid UTF-8", ErrFormat)
	}
	runes := []rune(value)
	defer clear(runes)
	if len(runes) != len(t.pattern) {
		return "", fmt.Errorf("%w: value length does not match the template", ErrFormat)
	}
	var idx []int
	var x []uint16
	for i, p := range t.pattern {
		switch p {
		case '#':
			v, ok := t.alpha.Index(runes[i])
			if !ok {
				return "", fmt.Errorf("%w: value has a symbol outside the template alphabet", ErrFormat)
			}
			idx = append(idx, i)
			x = append(x, v)
		case '?':
		default:
			if runes[i] != p {
				return "", fmt.Errorf("%w: value does not match the template", ErrFormat)
			}
		}
	}
	y, err := f.crypt(t.alpha.Radix(), x, enc, nil)
	clear(x)
	if err != nil {
		return "", err
	}
	for i, p := range idx {
		runes[p] = t.alpha.Symbol(y[i])
	}
	clear(y)
	return string(runes), nil
}
