package tokenize

import "errors"

// Errors returned by this package. Test with errors.Is; the returned errors
// wrap one of these with a short reason that never contains the input value,
// a key or a token.
var (
	// ErrKey: the key is not 16, 24 or 32 bytes, or no key was configured.
	ErrKey = errors.New("tokenize: invalid key")
	// ErrDomain: the radix or the input length is outside what the cipher
	// accepts (radix 2..65536, radix^len ≥ 1,000,000, the maximum length of
	// the algorithm), or the input is empty.
	ErrDomain = errors.New("tokenize: input outside the cipher's domain")
	// ErrTweak: the tweak has the wrong length (FF3-1 takes exactly 7 bytes).
	ErrTweak = errors.New("tokenize: invalid tweak")
	// ErrAlphabet: a numeral is not below the radix, a symbol is not in the
	// alphabet, or an alphabet definition is invalid.
	ErrAlphabet = errors.New("tokenize: symbol outside the alphabet")
	// ErrFormat: a value does not have the shape its tokenizer expects (a
	// card number that is not 12–19 digits, a phone number that does not
	// parse, an IBAN with a bad checksum, …).
	ErrFormat = errors.New("tokenize: value does not match the expected format")
	// ErrPermission: the caller's permission check refused a reversal.
	ErrPermission = errors.New("tokenize: reversal not permitted")
	// ErrNotFound: a vault token is unknown or expired.
	ErrNotFound = errors.New("tokenize: token not found")
	// ErrIrreversible: the token was made by a one-way method (token=hmac).
	ErrIrreversible = errors.New("tokenize: token is not reversible")
	// ErrSurrogate: a surrogate annotation is malformed.
	ErrSurrogate = errors.New("tokenize: malformed surrogate annotation")
)
