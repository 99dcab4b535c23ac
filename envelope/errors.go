package envelope

import (
	"errors"
	"fmt"

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
	// can be made (DEK id space exhausted), or a value longer than
	// Options.Cache.MaxBytes, which no key may encrypt; from
	// KeyStore.Reserve, a DEK whose fleet-wide message budget is spent.
	ErrLimit = errors.New("envelope: key usage limit reached")

	// ErrInTransaction is returned by a KeyStore's Reserve that cannot
	// commit outside the caller's transaction (see KeyStore.Reserve).
	ErrInTransaction = errors.New("envelope: the key store cannot reserve messages outside the caller's transaction")

	// ErrEmptySubject reports Seal of a record whose `pii:"subject"` field
	// is empty: its values would be sealed under the tenant's keys, where
	// ForgetSubject could never shred them. The *pii.FieldError carrying it
	// names the subject field.
	ErrEmptySubject = errors.New("envelope: subject field is empty; refusing to seal the record under the tenant's keys, where its subject could never be forgotten")
)

// unsupported reports an operation the Sealer's configuration cannot do
// (ForgetSubject in inline mode, for example); it matches
// errors.ErrUnsupported.
func unsupported(op, why string) error {
	return fmt.Errorf("envelope: %s %s: %w", op, why, errors.ErrUnsupported)
}

// needStore fails op in inline mode without a KeyStore.
func (s *Sealer) needStore(op string) error {
	if s.store == nil {
		return unsupported(op, "needs Options.Store (inline mode without a KeyStore)")
	}
	return nil
}

// errWrongRecord reports a KeyStore row that is not the one asked for
// (another kind, tenant, scope or id, or a Latest that went back). It
// matches ErrDecrypt: nothing is decrypted or sealed under such a row.
var errWrongRecord = fmt.Errorf("%w: key store returned a record other than the one asked for", ErrDecrypt)

// decryptError is ErrDecrypt with a cause that is safe to show (a parse
// error or ErrNotSealed; never a key or plaintext).
func decryptError(cause error) error {
	if cause == nil {
		return ErrDecrypt
	}
	return fmt.Errorf("%w: %w", ErrDecrypt, trimErr(cause))
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

// trimPkg drops a leading "envelope: " so wrapped messages do not repeat
// the package name.
func trimPkg(s string) string {
	const p = "envelope: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

type trimmed struct{ error }

func (t trimmed) Error() string { return trimPkg(t.error.Error()) }
func (t trimmed) Unwrap() error { return t.error }

func trimErr(err error) error { return trimmed{err} }
