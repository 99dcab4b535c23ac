package tokenize

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fieldguard/pii/tokenize/fpe"
)

// numerals is the transformation a TokenFormat applies to its tokenized
// positions: FF1 or FF3-1 under the scope's tweak, or fresh randomness for
// stored tokens.
type numerals struct {
	t      *Tokenizer
	m      Method
	tweak  []byte
	check  byte // the scope's check byte (see Tokenizer.tweak); 0 for stored tokens
	random bool
}

// numeralCipher is what *fpe.FF1 and *fpe.FF31 have in common.
type numeralCipher interface {
	EncryptNumerals(tweak []byte, x []uint16) ([]uint16, error)
	DecryptNumerals(tweak []byte, x []uint16) ([]uint16, error)
}

// ff31TweakSize is the length of FF3-1 tweaks, 56 bits.
const ff31TweakSize = 7

// maxWalk bounds cycle-walking. Every format that walks keeps at least
// ~10% of its domain valid, so reaching the bound means a broken input;
// except phone numbers, which walk up to maxPhoneWalk (see Phone).
const maxWalk = 10_000

// crypt transforms x over radix. With valid non-nil it cycle-walks: it
// applies the permutation again until the result is valid. Cycle-walking
// a permutation restricted to a subset is a permutation of that subset,
// provided the input is in it.
func (f *numerals) crypt(radix int, x []uint16, enc bool, valid func([]uint16) bool) ([]uint16, error) {
	return f.walk(radix, x, enc, valid, maxWalk)
}

// walk is crypt with its bound on the number of steps. The bound decides
// only whether a value fails, never which token it gets: the walk is the
// same sequence whatever the bound.
func (f *numerals) walk(radix int, x []uint16, enc bool, valid func([]uint16) bool, maxWalk int) ([]uint16, error) {
	if f.random {
		return randomNumerals(radix, len(x), valid, maxWalk)
	}
	c, err := f.t.cipher(f.m, radix)
	if err != nil {
		return nil, err
	}
	// x is only read here, never kept: callers pass stack buffers.
	y, err := f.apply(c, radix, x, enc)
	if err != nil {
		return nil, err
	}
	for i := 1; valid != nil && !valid(y); i++ {
		if i == maxWalk {
			clear(y)
			return nil, fmt.Errorf("%w: cycle-walk did not reach a valid value", ErrFormat)
		}
		next, err := f.apply(c, radix, y, enc)
		clear(y)
		if err != nil {
			return nil, err
		}
		y = next
	}
	return y, nil
}

// apply calls the concrete cipher, so that the compiler can see x does not
// escape; a call through the interface would move it to the heap.
func (f *numerals) apply(c numeralCipher, radix int, x []uint16, enc bool) (y []uint16, err error) {
	switch c := c.(type) {
	case *fpe.FF1:
		if enc {
			y, err = c.EncryptNumerals(f.tweak, x)
		} else {
			y, err = c.DecryptNumerals(f.tweak, x)
		}
	case *fpe.FF31:
		if enc {
			y, err = c.EncryptNumerals(f.tweak, x)
		} else {
			y, err = c.DecryptNumerals(f.tweak, x)
		}
	default:
		return nil, fmt.Errorf("%w: unsupported cipher", ErrFormat)
	}
	if err == nil {
		return y, nil
	}
	if errors.Is(err, fpe.ErrDomain) {
		// The only fpe error a format can meet, since formats keep
		// numerals below the radix and tweaks have the cipher's size;
		// fpe's reason states the lengths the cipher takes.
		return nil, fmt.Errorf("tokenize: tokenized part: %w", err)
	}
	return nil, fmt.Errorf("tokenize: %w", err)
}

// randomNumerals draws n uniform numerals below radix, again until valid
// accepts them.
func randomNumerals(radix, n int, valid func([]uint16) bool, maxWalk int) ([]uint16, error) {
	y := make([]uint16, n)
	var b [2]byte
	// Rejection sampling keeps the numerals uniform.
	lim := 65536 - 65536%radix
	for range maxWalk {
		for i := range y {
			for {
				rand.Read(b[:])
				if v := int(binary.BigEndian.Uint16(b[:])); v < lim {
					y[i] = uint16(v % radix)
					break
				}
			}
		}
		if valid == nil || valid(y) {
			return y, nil
		}
	}
	return nil, fmt.Errorf("%w: no valid random token found", ErrFormat)
}
