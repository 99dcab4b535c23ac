package fpe

import "errors"

// Errors returned by this package. Test with errors.Is; the returned errors
// wrap one of these with a short reason that never contains the input, a
// key or a tweak.
var (
	// ErrDomain: the input is not in the cipher's domain: the radix or the
	// input length is outside what the cipher accepts (radix 2..65536,
	// radix^len ≥ 1,000,000, the maximum length of the algorithm), the
	// input is empty, a numeral is not below the radix, or a string has a
	// symbol outside its alphabet.
	ErrDomain = errors.New("fpe: input outside the cipher's domain")
)

// A key of the wrong size, a tweak of the wrong length and an invalid
// alphabet definition are mistakes of the program, not of its input: they
// have no sentinel of their own.
var (
	errKey      = errors.New("fpe: invalid key")      // the key is not 16, 24 or 32 bytes
	errTweak    = errors.New("fpe: invalid tweak")    // FF3-1 takes exactly 7 bytes, FF1 less than 2^32
	errAlphabet = errors.New("fpe: invalid alphabet") // NewAlphabet's symbols are not 2..65536 distinct runes
)
