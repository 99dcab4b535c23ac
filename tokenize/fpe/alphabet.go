package tokenize

import (
	"fmt"
	"strings"
	"unicode/utf8"
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
	symbols []rune
	ascii   [128]int32 // numeral+1 for ASCII symbols, 0 when absent
	other   map[rune]uint16
}

// NewAlphabet returns the alphabet whose numerals are the runes of symbols,
// in order. The runes must be distinct, valid UTF-8, and number 2..65536.
func NewAlphabet(symbols string) (*Alphabet, error) {
	if !utf8.ValidString(symbols) {
		return nil, fmt.Errorf("%w: alphabet is not valid UTF-8", ErrAlphabet)
	}
	n := utf8.RuneCountInString(symbols)
	if n < minRadix || n > maxRadix {
		return nil, fmt.Errorf("%w: alphabet must have 2..65536 symbols, got %d", ErrAlphabet, n)
	}
	a := &Alphabet{symbols: make([]rune, 0, n)}
	for _, r := range symbols {
		if _, ok := a.index(r); ok {
			return nil, fmt.Errorf("%w: alphabet symbols must be distinct", ErrAlphabet)
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

// Radix returns the number of symbols.
func (a *Alphabet) Radix() int { return len(a.symbols) }

// Symbols returns the alphabet definition.
func (a *Alphabet) Symbols() string { return string(a.symbols) }

// Contains reports whether r is a symbol of the alphabet.
func (a *Alphabet) Contains(r rune) bool {
	_, ok := a.index(r)
	return ok
}

func (a *Alphabet) index(r rune) (uint16, bool) {
	if r >= 0 && r < 128 {
		v := a.ascii[r]
		return uint16(v - 1), v != 0
	}
	v, ok := a.other[r]
	return v, ok
}

// Numerals converts s to numerals; ErrAlphabet if a rune is not a symbol.
func (a *Alphabet) Numerals(s string) ([]uint16, error) {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		v, ok := a.index(r)
		if !ok {
			return nil, fmt.Errorf("%w: input has a symbol outside the alphabet", ErrAlphabet)
		}
		out = append(out, v)
	}
	return out, nil
}

// String converts numerals to symbols; ErrAlphabet if one is not below the
// radix.
func (a *Alphabet) String(x []uint16) (string, error) {
	var sb strings.Builder
	sb.Grow(len(x))
	for _, v := range x {
		if int(v) >= len(a.symbols) {
			return "", fmt.Errorf("%w: numeral not below radix %d", ErrAlphabet, len(a.symbols))
		}
		sb.WriteRune(a.symbols[v])
	}
	return sb.String(), nil
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

// NewStringCipher pairs an alphabet with a numeral cipher of the same radix.
func NewStringCipher(a *Alphabet, c NumeralCipher) (*StringCipher, error) {
	if a == nil || c == nil {
		return nil, fmt.Errorf("%w: nil alphabet or cipher", ErrAlphabet)
	}
	if a.Radix() != c.Radix() {
		return nil, fmt.Errorf("%w: alphabet has %d symbols, cipher radix is %d", ErrAlphabet, a.Radix(), c.Radix())
	}
	return &StringCipher{alpha: a, cipher: c}, nil
}

// FF1 returns a string cipher using FF1 under key over the alphabet.
func (a *Alphabet) FF1(key []byte) (*StringCipher, error) {
	c, err := NewFF1(key, a.Radix())
	if err != nil {
		return nil, err
	}
	return &StringCipher{alpha: a, cipher: c}, nil
}

// FF31 returns a string cipher using FF3-1 (interoperability only; see
// FF31) under key over the alphabet. Tweaks must then be 7 bytes.
func (a *Alphabet) FF31(key []byte) (*StringCipher, error) {
	c, err := NewFF31(key, a.Radix())
	if err != nil {
		return nil, err
	}
	return &StringCipher{alpha: a, cipher: c}, nil
}

// Alphabet returns the cipher's alphabet.
func (s *StringCipher) Alphabet() *Alphabet { return s.alpha }

// Encrypt encrypts s, every rune of which must be in the alphabet, under
// tweak (raw bytes in a string), and returns a string of the same length
// over the same alphabet.
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
