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
// and still reach the provider's own error with errors.As.
//
// # The safe path: every backend behind a Client
//
// The portable [Client] sits in front of any backend and adds what every
// backend needs alike: per-attempt deadlines, retries of transient errors
// with a retry budget, a circuit breaker and telemetry. The backends in this
// module switch their SDKs' own retries off, so a backend reached without
// a Client has none. The rule is therefore that the library puts one there
// for you:
//
//   - the constructors that take a provider (envelope.New,
//     tokenize.NewFromProvider) wrap a bare backend in a Client with the
//     default [ClientOptions], and use a *Client as is;
//   - kmsuri.Open (package keyprovider/kmsuri) returns the backend a key
//     URI names already inside a Client, and so do the cloud backends' New
//     (gcpkms, vault, awskms; their Options.Calls are the ClientOptions);
//   - [NewClient] never wraps a Client in another (which would multiply
//     attempts and hide one breaker behind the other).
//
// Call NewClient yourself to choose ClientOptions (timeouts, retries, the
// breaker, the OpenTelemetry providers), and pass the *Client on. [Client.Backend] reaches the
// backend for its own methods (a local keyset's AddVersion, for example).
//
// # Opening a backend from a URI
//
// Package keyprovider/kmsuri opens gcp-kms://, vault://, aws-kms:// and
// local:// URIs. Each backend package registers its schemes when imported,
// as database/sql drivers do, so a program links only the SDKs of the
// backends it imports.
//
// # Errors
//
//   - [ErrUnavailable]: the KMS could not be reached or was overloaded; the
//     only class a Client retries.
//   - [ErrPermission]: the caller is not allowed to use the key.
//   - [ErrKeyNotFound], [ErrKeyDisabled], [ErrKeyDestroyed]: the KEK cannot be used.
//   - [ErrAuthentication]: the wrapped key or its associated data did not
//     authenticate (tampering, wrong key, or wrong associated data).
//   - [ErrInvalidArgument]: the request itself was malformed.
//
// Telemetry names each class by a short, stable name (error.type, below).
// No error returned by this package or a conforming backend contains key
// bytes, plaintext or credentials.
//
// # OpenTelemetry
//
// A Client reports to OpenTelemetry, through ClientOptions.MeterProvider
// and TracerProvider or the global providers: the one way to observe a
// Client. Metrics, by pii.kms.backend (the backend's Go package:
// "gcpkms", "vault", "awskms", "local"), pii.kms.operation ("wrap",
// "unwrap", "rewrap", "rotate", "versions") and, on failure, error.type
// (the error's class: "unavailable", "permission", "key_not_found",
// "key_disabled", "key_destroyed", "authentication", "invalid_argument",
// "canceled", "circuit_open" or "other"):
//
//   - pii.kms.calls and pii.kms.call.duration: one per call, its retries
//     and backoff included;
//   - pii.kms.attempts and pii.kms.attempt.duration: one per attempt
//     that reached the backend (first attempts, retries and half-open
//     probes; a call the breaker refuses makes none);
//   - pii.kms.breaker.transitions: one per change of the circuit
//     breaker's state, by pii.kms.backend, pii.kms.breaker.previous_state
//     and pii.kms.breaker.state ("closed": calls flow; "open": calls fail
//     fast with error.type "circuit_open"; "half_open": one probe is let
//     through).
//
// Spans: one of kind client per call ("pii.kms.wrap", ...), with
// pii.kms.backend and pii.kms.operation, and on failure error.type and an
// error status carrying the class; on it an event "pii.kms.attempt.failed"
// per failed attempt (pii.kms.attempt.number, from 1, and error.type), and
// an event "pii.kms.breaker.transition" (the two states) when the call
// moved the breaker. No attribute carries a key id, key bytes, associated
// data or an error's text: the key ids of per-subject keys would name
// data subjects, and error texts may name resources.
//
// # Conformance
//
// Every backend passes the suite in keyprovider/providertest.
package keyprovider
