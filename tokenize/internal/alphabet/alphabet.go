// Package alphabet maps symbols (runes) to numerals and back, for
// tokenize/fpe's public Alphabet and for tokenize's formats, which need
// the rune-by-rune lookup to keep symbols outside the alphabet in place.
package alphabet

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Alphabets the formats use.
const (
	Digits       = "0123456789"
	LowerAlnum   = "0123456789abcdefghijklmnopqrstuvwxyz"
	Alnum        = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	UpperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// MinRadix and MaxRadix bound the number of symbols (and the FPE radix).
const (
	MinRadix = 2
	MaxRadix = 1 << 16
)

// Alphabet maps between symbols and numerals: symbol i of the definition
// is numeral i. It is immutable and safe for concurrent use.
type Alphabet struct {
	symbols []rune
	ascii   [128]int32 // numeral+1 for ASCII symbols, 0 when absent
	other   map[rune]uint16
}

// New returns the alphabet whose numerals are the runes of symbols, in
// order. The runes must be distinct, valid UTF-8, and number 2..65536.
// Errors carry no package prefix; callers wrap them.
func New(symbols string) (*Alphabet, error) {
	if !utf8.ValidString(symbols) {
		return nil, errors.New("alphabet is not valid UTF-8")
	}
	n := utf8.RuneCountInString(symbols)
	if n < MinRadix || n > MaxRadix {
		return nil, fmt.Errorf("alphabet must have 2..65536 symbols, got %d", n)
	}
	a := &Alphabet{symbols: make([]rune, 0, n)}
	for _, r := range symbols {
		if _, ok := a.Index(r); ok {
			return nil, errors.New("alphabet symbols must be distinct")
		}
		i := uint16(len(a.symbols))
		if r < 128 {
			a.ascii[r] = int32(i) + 1
		} else {
			if a.other == nil {
				a.other = make(map[rune]uint16)
			}
			a.other[r] = i
		}
		a.symbols = append(a.symbols, r)
	}
	return a, nil
}

// MustNew is New for alphabets fixed in the source; it panics on error.
func MustNew(symbols string) *Alphabet {
	a, err := New(symbols)
	if err != nil {
		panic("alphabet: " + err.Error())
	}
	return a
}

// Radix returns the number of symbols.
func (a *Alphabet) Radix() int { return len(a.symbols) }

// Index returns the numeral of r and whether r is a symbol.
func (a *Alphabet) Index(r rune) (uint16, bool) {
	if r >= 0 && r < 128 {
		v := a.ascii[r]
		return uint16(v - 1), v != 0
	}
	v, ok := a.other[r]
	return v, ok
}

// Symbol returns the symbol of numeral v, which must be below the radix.
func (a *Alphabet) Symbol(v uint16) rune { return a.symbols[v] }

// Numerals converts s to numerals; ok is false when a rune is not a
// symbol.
func (a *Alphabet) Numerals(s string) ([]uint16, bool) {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		v, ok := a.Index(r)
		if !ok {
			clear(out)
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// String converts numerals to symbols; ok is false when one is not below
// the radix.
func (a *Alphabet) String(x []uint16) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(x))
	for _, v := range x {
		if int(v) >= len(a.symbols) {
			return "", false
		}
		sb.WriteRune(a.symbols[v])
	}
	return sb.String(), true
}
