package mask

import (
	"errors"
	"strings"
)

// Errors returned by views and reveals.
var (
	ErrDenied         = errors.New("mask: not allowed to reveal this field")
	ErrReasonRequired = errors.New("mask: a reason is required to reveal a value")
	ErrBudgetExceeded = errors.New("mask: reveal budget exceeded")
)

// A field path the type does not have, or a field that is not clear (the
// record was not opened or reversed before the view), is a mistake of the
// program, not an outcome to handle: the message says what to do, and
// there is no sentinel to test for.
var (
	// errNoField: a field path (schema or concrete) the type does not
	// have, a mistake in the code that names it.
	errNoField = errors.New("mask: no such tagged field")
	// errSealed: a field to be shown still holds an envelope ciphertext
	// ("pii1.…").
	errSealed = errors.New("mask: field is still sealed; open the record before viewing it")
	// errTokenized: a token= field to be shown holds a value its format
	// marks as a token (a card number failing the Luhn check, an IBAN
	// failing mod 97).
	errTokenized = errors.New("mask: field holds a token; reverse it before viewing it")
)

// wrapError puts context in front of an error of this package without
// repeating its "mask: " prefix.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + strings.TrimPrefix(e.err.Error(), "mask: ") }
func (e *wrapError) Unwrap() error { return e.err }

// ChannelError is what [Check] returns: the kinds of identifiers a message
// holds that its channel must not carry, with advice on where to move the
// conversation. It never holds the values.
type ChannelError struct {
	Channel Channel
	Kinds   []Kind
	Advice  string
}

func (e *ChannelError) Error() string {
	kinds := make([]string, len(e.Kinds))
	for i, k := range e.Kinds {
		kinds[i] = string(k)
	}
	return "mask: " + string(e.Channel) + " must not carry " + strings.Join(kinds, ", ") + "; " + e.Advice
}
