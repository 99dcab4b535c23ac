// Package kmsclass holds the error classes of package keyprovider and
// names them for telemetry. The classes live here, below keyprovider, so
// that keyprovider (which re-exports them as keyprovider.ErrUnavailable,
// ...) and the packages built on it (envelope) name an error's class the
// same way without keyprovider exporting a second API for it, as
// internal/oserror does for io/fs and os.
package kmsclass

import (
	"context"
	"errors"
)

// The classes keyprovider re-exports; test with errors.Is.
var (
	Unavailable     = errors.New("keyprovider: key service unavailable")
	Permission      = errors.New("keyprovider: permission denied")
	KeyNotFound     = errors.New("keyprovider: key not found")
	KeyDisabled     = errors.New("keyprovider: key disabled")
	KeyDestroyed    = errors.New("keyprovider: key destroyed")
	Authentication  = errors.New("keyprovider: authentication failed")
	InvalidArgument = errors.New("keyprovider: invalid argument")
)

// CircuitOpen is the error a keyprovider.Client's circuit breaker refuses
// a call with (inside the Unavailable class).
var CircuitOpen = errors.New("keyprovider: circuit breaker open")

// Name returns a short, stable, low-cardinality name for err's class, the
// value of the error.type attribute: "" for nil, "unavailable",
// "permission", "key_not_found", "key_disabled", "key_destroyed",
// "authentication", "invalid_argument", "canceled", "circuit_open" (a
// subset of unavailable, named apart) or "other". It never returns any
// part of err's text.
func Name(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, CircuitOpen):
		return "circuit_open"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, Unavailable):
		return "unavailable"
	case errors.Is(err, Permission):
		return "permission"
	case errors.Is(err, KeyNotFound):
		return "key_not_found"
	case errors.Is(err, KeyDisabled):
		return "key_disabled"
	case errors.Is(err, KeyDestroyed):
		return "key_destroyed"
	case errors.Is(err, Authentication):
		return "authentication"
	case errors.Is(err, InvalidArgument):
		return "invalid_argument"
	}
	return "other"
}
