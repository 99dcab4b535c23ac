package fpe

import (
	"fmt"

	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

// Common alphabets.
const (
	Digits       = "0123456789"
	LowerAlnum   = "0123456789abcdefghijklmnopqrstuvwxyz"
	Alnum        = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	UpperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// Alphabet maps between symbols (runes) and numerals. Symbol i of the
// definition string is numeral i. An Alphabet is immutable and safe for
// concurrent use.
type Alphabet struct {
	a *alphabet.Alphabet
}

// NewAlphabet returns the alphabet whose numerals are the runes of symbols,
// in order. The runes must be distinct, valid UTF-8, and number 2..65536.
func NewAlphabet(symbols string) (*Alphabet, error) {
	a, err := alphabet.New(symbols)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAlphabet, err)
	}
	return &Alphabet{a: a}, nil
}

// Radix returns the number of symbols.
func (a *Alphabet) Radix() int { return a.a.Radix() }

// Numerals converts s to numerals; ErrAlphabet if a rune is not a symbol.
func (a *Alphabet) Numerals(s string) ([]uint16, error) {
	x, ok := a.a.Numerals(s)
	if !ok {
		return nil, fmt.Errorf("%w: input has a symbol outside the alphabet", ErrAlphabet)
	}
	return x, nil
}

// String converts numerals to symbols; ErrAlphabet if one is not below the
// radix.
func (a *Alphabet) String(x []uint16) (string, error) {
	s, ok := a.a.String(x)
	if !ok {
		return "", fmt.Errorf("%w: numeral not below radix %d", ErrAlphabet, a.a.Radix())
	}
	return s, nil
}

// NumeralCipher is implemented by *FF1 and *FF31.
type NumeralCipher interface {
	Radix() int
	MinLen() int
	MaxLen() int
	EncryptNumerals(tweak []byte, x []uint16) ([]uint16, error)
	DecryptNumerals(tweak []byte, x []uint16) ([]uint16, error)
}

var (
	_ NumeralCipher = (*FF1)(nil)
	_ NumeralCipher = (*FF31)(nil)
)

// StringCipher encrypts strings over an alphabet with FF1 or FF3-1. It is
// immutable and safe for concurrent use.
type StringCipher struct {
	alpha  *Alphabet
	cipher NumeralCipher
}

// NewStringCipher pairs an alphabet with a numeral cipher of the same
// radix, for example NewFF1(key, a.Radix()).
func NewStringCipher(a *Alphabet, c NumeralCipher) (*StringCipher, error) {
	if a == nil || c == nil {
		return nil, fmt.Errorf("%w: nil alphabet or cipher", ErrAlphabet)
	}
	if a.Radix() != c.Radix() {
		return nil, fmt.Errorf("%w: alphabet has %d symbols, cipher radix is %d", ErrAlphabet, a.Radix(), c.Radix())
	}
	return &StringCipher{alpha: a, cipher: c}, nil
}

// Encrypt encrypts str, every rune of which must be in the alphabet, under
// tweak (raw bytes in a string; FF3-1 takes exactly 7), and returns a
// string of the same length over the same alphabet.
func (s *StringCipher) Encrypt(tweak, str string) (string, error) {
	return s.crypt(tweak, str, true)
}

// Decrypt reverses Encrypt.
func (s *StringCipher) Decrypt(tweak, str string) (string, error) {
	return s.crypt(tweak, str, false)
}

func (s *StringCipher) crypt(tweak, str string, enc bool) (string, error) {
	x, err := s.alpha.Numerals(str)
	if err != nil {
		return "", err
	}
	var y []uint16
	if enc {
		y, err = s.cipher.EncryptNumerals([]byte(tweak), x)
	} else {
		y, err = s.cipher.DecryptNumerals([]byte(tweak), x)
	}
	clear(x)
	if err != nil {
		return "", err
	}
	out, err := s.alpha.String(y)
	clear(y)
	return out, err
}
