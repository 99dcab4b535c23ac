package tokenize

import "errors"

// Errors returned by this package. Test with errors.Is; the returned errors
// wrap one of these, or fpe.ErrDomain when the part of a value that would
// be tokenized is too short (below the NIST floor of 1,000,000 values,
// radix^len) or too long for the cipher, with a short reason that never
// contains the input value, a key or a token.
var (
	// ErrFormat: a value does not have the shape its tokenizer expects (a
	// card number that is not 12–19 digits, a phone number that does not
	// parse, an IBAN with a bad checksum, a rune outside a template's
	// alphabet, …), or a format, template or surrogate annotation is
	// invalid.
	ErrFormat = errors.New("tokenize: value does not match the expected format")
	// ErrNotToken: a value given to Detokenize or Reverse has the shape of
	// the field's values but is not one of its tokens: a card number that
	// passes the Luhn check where the field's tokens fail it, an IBAN whose
	// check digits are not those of the field's tokens, an SSN or phone
	// number outside the ranges tokens are drawn from. Formats whose tokens
	// cannot be told apart from values say so in their documentation.
	ErrNotToken = errors.New("tokenize: value is not a token of this field")
	// ErrPermission: the caller's permission check refused a reversal.
	ErrPermission = errors.New("tokenize: reversal not permitted")
	// ErrNotFound: a stored token is unknown or expired, or its record does
	// not belong to the scope it was asked for.
	ErrNotFound = errors.New("tokenize: token not found")
	// ErrTokenExists is returned by TokenStore.Put when the token is
	// already taken; the Tokenizer then draws another one.
	ErrTokenExists = errors.New("tokenize: token already exists")
)

// Mistakes of the program, not of its input, have no sentinel of their
// own.
var (
	// errKey: the root key is not 32 bytes.
	errKey = errors.New("tokenize: invalid key")
	// errIrreversible: Detokenize of a one-way method (token=hmac).
	errIrreversible = errors.New("tokenize: token is not reversible")
)
