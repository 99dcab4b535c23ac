package envelope

import (
	"errors"
	"fmt"

	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/fieldguard/pii/keyprovider"
)

var (
	// ErrDecrypt is the one opaque error for every failure to authenticate a
	// ciphertext: wrong key, tampered bytes, associated-data mismatch,
	// commitment mismatch, unknown DEK, malformed input. Callers learn that
	// it failed, not which check.
	ErrDecrypt = errors.New("envelope: decryption failed")

	// ErrShredded reports a value whose data subject was forgotten with
	// ForgetSubject: its key is gone for good. It is distinct from
	// ErrDecrypt so callers can tell erased data from corrupt data.
	ErrShredded = errors.New("envelope: data subject forgotten, key shredded")

	// ErrUnknownVersion reports a ciphertext version this code does not
	// know. Errors carrying it also match ErrDecrypt.
	ErrUnknownVersion = format.ErrUnknownVersion

	// ErrNotSealed reports a plaintext value where a sealed one was
	// expected (Open without Options.AllowPlaintext). Errors carrying it
	// from the byte-level Decrypt functions also match ErrDecrypt.
	ErrNotSealed = errors.New("envelope: value is not sealed")

	// ErrNotFound is returned by a KeyStore for a missing record.
	ErrNotFound = errors.New("envelope: key record not found")

	// ErrConflict is returned by KeyStore.Replace when the stored record
	// changed since it was read.
	ErrConflict = errors.New("envelope: key record changed concurrently")

	// ErrLimit reports a key that reached its usage limit where no new key
	// can be made (DEK id space exhausted).
	ErrLimit = errors.New("envelope: key usage limit reached")

	// ErrUnsupported reports an operation the Sealer's mode cannot do
	// (ForgetSubject in inline mode, for example).
	ErrUnsupported = errors.New("envelope: operation not supported in this mode")
)

// decryptError is ErrDecrypt with a cause that is safe to show (a parse
// error or ErrNotSealed; never a key or plaintext).
func decryptError(cause error) error {
	if cause == nil {
		return ErrDecrypt
	}
	return fmt.Errorf("%w: %w", ErrDecrypt, cause)
}

// kmsError maps a key provider failure on an unwrap that authenticates
// stored or carried bytes: authentication and invalid-argument failures
// become the opaque ErrDecrypt; a missing, disabled or destroyed KEK
// matches both ErrDecrypt (the value does not open) and its class (so
// operators can act); outages and permission failures keep their class
// only, since they say nothing about the value.
func kmsError(op string, err error) error {
	if errors.Is(err, keyprovider.ErrAuthentication) || errors.Is(err, keyprovider.ErrInvalidArgument) {
		return ErrDecrypt
	}
	err = keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	if errors.Is(err, keyprovider.ErrKeyNotFound) || errors.Is(err, keyprovider.ErrKeyDisabled) || errors.Is(err, keyprovider.ErrKeyDestroyed) {
		return fmt.Errorf("%w: %s: %w", ErrDecrypt, op, err)
	}
	return fmt.Errorf("envelope: %s: %w", op, err)
}

// FieldError names the field path a Seal or Open failure happened on.
type FieldError struct {
	Type string // schema name
	Path string // concrete path, e.g. "Contacts[2].Phone"
	Err  error
}

func (e *FieldError) Error() string {
	return "envelope: " + e.Type + "." + e.Path + ": " + trimPkg(e.Err.Error())
}

func (e *FieldError) Unwrap() error { return e.Err }

func trimPkg(s string) string {
	const p = "envelope: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
