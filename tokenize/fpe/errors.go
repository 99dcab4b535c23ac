package fpe

import "errors"

// Errors returned by this package. Test with errors.Is; the returned errors
// wrap one of these with a short reason that never contains the input, a
// key or a tweak.
var (
	// ErrDomain: the radix or the input length is outside what the cipher
	// accepts (radix 2..65536, radix^len ≥ 1,000,000, the maximum length of
	// the algorithm), or the input is empty.
	ErrDomain = errors.New("fpe: input outside the cipher's domain")
	// ErrAlphabet: a numeral is not below the radix, a symbol is not in the
	// alphabet, or an alphabet definition is invalid.
	ErrAlphabet = errors.New("fpe: invalid alphabet or symbol")
)

// A key of the wrong size and a tweak of the wrong length are mistakes of
// the program, not of its input: they have no sentinel of their own.
var (
	errKey   = errors.New("fpe: invalid key")   // the key is not 16, 24 or 32 bytes
	errTweak = errors.New("fpe: invalid tweak") // FF3-1 takes exactly 7 bytes, FF1 less than 2^32
)
