package fpe

import "errors"

// Errors returned by this package. Test with errors.Is; the returned errors
// wrap one of these with a short reason that never contains the input, a
// key or a tweak.
var (
	// ErrKey: the key is not 16, 24 or 32 bytes.
	ErrKey = errors.New("fpe: invalid key")
	// ErrDomain: the radix or the input length is outside what the cipher
	// accepts (radix 2..65536, radix^len ≥ 1,000,000, the maximum length of
	// the algorithm), or the input is empty.
	ErrDomain = errors.New("fpe: input outside the cipher's domain")
	// ErrTweak: the tweak has the wrong length (FF3-1 takes exactly 7 bytes).
	ErrTweak = errors.New("fpe: invalid tweak")
	// ErrAlphabet: a numeral is not below the radix, a symbol is not in the
	// alphabet, or an alphabet definition is invalid.
	ErrAlphabet = errors.New("fpe: invalid alphabet or symbol")
)
