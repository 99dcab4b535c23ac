// Package keyprovider defines the contract between pii and a key-encryption-key
// (KEK) backend: a KMS, Vault Transit, or the embedded local keyset.
//
// A backend implements [KeyProvider]: wrap a data key under the current primary
// KEK with associated data, and unwrap it again with the same associated data.
// Optional abilities are separate interfaces found by type assertion:
// [Rotator] (add and promote a new KEK version), [Rewrapper] (server-side
// rewrap without exposing the data key), and [Describer] (list KEK versions).
//
// Backends classify their provider's errors once, at their boundary, with
// [Classify] into the stable classes below, so callers test with errors.Is
// and still reach the provider's own error with errors.As. The portable
// [Client] sits in front of any backend and adds what every backend needs
// alike: per-attempt deadlines, retries of transient errors with a retry
// budget, a circuit breaker and metrics. kmsuri.Open (package keyprovider/kmsuri) returns
// backends already behind a Client.
//
// # Errors
//
//   - [ErrUnavailable]: the KMS could not be reached or was overloaded; retryable.
//   - [ErrPermission]: the caller is not allowed to use the key.
//   - [ErrKeyNotFound], [ErrKeyDisabled], [ErrKeyDestroyed]: the KEK cannot be used.
//   - [ErrAuthentication]: the wrapped key or its associated data did not
//     authenticate (tampering, wrong key, or wrong associated data).
//   - [ErrInvalidArgument]: the request itself was malformed.
//
// No error returned by this package or a conforming backend contains key
// bytes, plaintext or credentials.
//
// # Conformance
//
// Every backend passes the suite in keyprovider/providertest.
package keyprovider
