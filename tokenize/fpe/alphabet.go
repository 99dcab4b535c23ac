package fpe

import (
	"fmt"

	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

// Alphabet maps between symbols (runes) and numerals. Symbol i of the
// definition string is numeral i. An Alphabet is immutable and safe for
// concurrent use. To encrypt a string, convert it with Numerals, encrypt
// the numerals with a cipher of the alphabet's radix, and convert back
// with String (see the Alphabet example).
type Alphabet struct {
	a *alphabet.Alphabet
}

// NewAlphabet returns the alphabet whose numerals are the runes of symbols,
// in order. The runes must be distinct, valid UTF-8, and number 2..65536.
func NewAlphabet(symbols string) (*Alphabet, error) {
	a, err := alphabet.New(symbols)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errAlphabet, err)
	}
	return &Alphabet{a: a}, nil
}

// Radix returns the number of symbols.
func (a *Alphabet) Radix() int { return a.a.Radix() }

// Numerals converts s to numerals; ErrDomain if a rune is not a symbol.
func (a *Alphabet) Numerals(s string) ([]uint16, error) {
	x, ok := a.a.Numerals(s)
	if !ok {
		return nil, fmt.Errorf("%w: input has a symbol outside the alphabet", ErrDomain)
	}
	return x, nil
}

// String converts numerals to symbols; ErrDomain if one is not below the
// radix.
func (a *Alphabet) String(x []uint16) (string, error) {
	s, ok := a.a.String(x)
	if !ok {
		return "", fmt.Errorf("%w: numeral not below radix %d", ErrDomain, a.a.Radix())
	}
	return s, nil
}
