package keyprovider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fieldguard/pii/internal/kmsclass"
)

// KeyProvider wraps and unwraps data keys under a key-encryption key.
//
// Implementations must be safe for concurrent use and must honour ctx:
// a cancelled context returns an error for which errors.Is(err, ctx.Err())
// holds, promptly.
type KeyProvider interface {
	// Wrap encrypts dataKey under the current primary KEK, authenticating
	// associatedData, and returns the wrapped bytes together with the id of
	// the KEK version that wrapped them.
	Wrap(ctx context.Context, dataKey, associatedData []byte) (wrapped []byte, kek KeyID, err error)
	// Unwrap reverses Wrap. The wrapped bytes identify (or are tried against)
	// the KEK version that made them; associatedData must be the same as at
	// wrap time.
	Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error)
}

// KeyID names one KEK version: a key (a resource name, ARN, Vault key name
// or local keyset id) and a version within it. Version is empty when the
// backend does not report one.
type KeyID struct {
	Key     string
	Version string
}

// String returns "key" or "key#version". A KeyID holds no secret.
func (k KeyID) String() string {
	if k.Version == "" {
		return k.Key
	}
	return k.Key + "#" + k.Version
}

// Rotator is implemented by backends that can create a new KEK version and
// make it primary. New wraps use the new version; old versions keep
// unwrapping until disabled.
type Rotator interface {
	Rotate(ctx context.Context) (KeyID, error)
}

// Rewrapper is implemented by backends that can re-encrypt a wrapped key
// under the current primary version without releasing the data key to the
// caller (Vault Transit's rewrap, for example).
type Rewrapper interface {
	Rewrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, KeyID, error)
}

// Describer is implemented by backends that can list their KEK versions.
type Describer interface {
	Versions(ctx context.Context) ([]Version, error)
}

// Status is the state of a KEK version.
type Status string

const (
	StatusEnabled   Status = "enabled"
	StatusDisabled  Status = "disabled"
	StatusDestroyed Status = "destroyed"
)

// Version describes one KEK version.
type Version struct {
	ID      KeyID
	Status  Status
	Primary bool
	Created time.Time // zero when the backend does not report it
}

// The stable error classes, with their texts. Test with errors.Is.
var (
	ErrUnavailable     = kmsclass.Unavailable     // "keyprovider: key service unavailable"
	ErrPermission      = kmsclass.Permission      // "keyprovider: permission denied"
	ErrKeyNotFound     = kmsclass.KeyNotFound     // "keyprovider: key not found"
	ErrKeyDisabled     = kmsclass.KeyDisabled     // "keyprovider: key disabled"
	ErrKeyDestroyed    = kmsclass.KeyDestroyed    // "keyprovider: key destroyed"
	ErrAuthentication  = kmsclass.Authentication  // "keyprovider: authentication failed"
	ErrInvalidArgument = kmsclass.InvalidArgument // "keyprovider: invalid argument"
)

// classError is a backend error with its class attached (Classify makes
// it). errors.Is matches the class; errors.As and errors.Unwrap reach the
// provider's own error.
type classError struct {
	Class error  // one of the Err* classes above
	Op    string // "wrap", "unwrap", "rotate", ...
	Err   error  // the provider's error, may be nil
}

// Error returns "keyprovider: CLASS (OP): DETAIL". The package prefix is
// said once: a detail that starts with it (the circuit breaker's, for
// example) is printed without it.
func (e *classError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s (%s)", e.Class, e.Op)
	}
	return fmt.Sprintf("%s (%s): %s", e.Class, e.Op, detail(e.Err))
}

// prefix starts every message of this package.
const prefix = "keyprovider: "

// detail is err's message without this package's prefix, for use inside
// another message of this package.
func detail(err error) string { return strings.TrimPrefix(err.Error(), prefix) }

// Unwrap returns both the class and the provider error, so errors.Is and
// errors.As see either.
func (e *classError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Classify attaches class to err for operation op. It returns nil for a nil
// err, and err unchanged when it already carries a class (so wrapping
// happens once). Context cancellation and deadline errors are kept as they
// are, so errors.Is(err, context.Canceled) keeps working; a deadline is
// additionally classed as ErrUnavailable.
func Classify(op string, class error, err error) error {
	if err == nil {
		return nil
	}
	if classOf(err) != nil {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		class = ErrUnavailable
	}
	return &classError{Class: class, Op: op, Err: err}
}

// classOf returns the class err carries, or nil.
func classOf(err error) error {
	for _, c := range classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

var classes = []error{
	ErrUnavailable, ErrPermission, ErrKeyNotFound, ErrKeyDisabled,
	ErrKeyDestroyed, ErrAuthentication, ErrInvalidArgument,
}

// retryable reports whether err is worth retrying: the unavailable class or
// a deadline that expired on one attempt. Permission, authentication and
// key-state errors are never retryable.
func retryable(err error) bool {
	return errors.Is(err, ErrUnavailable)
}
