// Package gcpkms is a keyprovider backend on Google Cloud KMS
// (cloud.google.com/go/kms/apiv1): data keys are wrapped with the Encrypt
// and Decrypt methods of a symmetric CryptoKey, the associated data sent as
// additional_authenticated_data.
//
// Every request carries CRC32C checksums of its plaintext, associated data
// and ciphertext, and every response is checked as the API documents:
// Encrypt must report verified_plaintext_crc32c and
// verified_additional_authenticated_data_crc32c, the ciphertext_crc32c (on
// Encrypt) and plaintext_crc32c (on Decrypt) must match, and the response
// must name a version of the requested key. A response that fails any check
// is discarded; its plaintext never reaches the caller.
//
// The wrapped bytes are Cloud KMS's own ciphertext, which names the key
// version inside it, so keys wrapped before a rotation keep unwrapping.
// Wrap reports that version in the returned KeyID.
//
// The backend also implements [keyprovider.Rotator] (create a version and
// make it primary) and [keyprovider.Describer] (list versions), which the
// Client's Rotate and Versions reach. Cloud KMS
// has no server-side rewrap; [keyprovider.Client.Rewrap] unwraps and wraps
// again in process.
//
// # Configuration
//
// [New] takes the CryptoKey resource name
// (projects/P/locations/L/keyRings/R/cryptoKeys/K) and [Options]:
// ClientOptions (endpoint, credentials, …, as for any Google Cloud client;
// by default Application Default Credentials), or an existing Client, and a
// per-attempt Timeout. The Google client's own retries are switched off per
// call: New returns the backend inside a [keyprovider.Client], which
// retries, with a budget and a circuit breaker (Options.Calls tunes it), so
// no call reaches Cloud KMS without them. A key URI opened with
// keyprovider/kmsuri (gcp-kms://, registered when this package is
// imported) comes inside a Client too.
//
// The caller needs roles/cloudkms.cryptoKeyEncrypterDecrypter on the key.
//
// # Errors
//
// Errors are classified at this boundary ([keyprovider.Classify]); the gRPC
// status stays reachable with status.FromError / errors.As:
//
//   - Unavailable, DeadlineExceeded, ResourceExhausted, Aborted, Internal,
//     and a response failing its CRC32C check: [keyprovider.ErrUnavailable]
//     (transient; Google's guidance is to retry a failed checksum a limited
//     number of times).
//   - PermissionDenied, Unauthenticated: [keyprovider.ErrPermission].
//   - NotFound: [keyprovider.ErrKeyNotFound].
//   - FailedPrecondition: [keyprovider.ErrKeyDestroyed] when the version is
//     destroyed (or scheduled for destruction), else [keyprovider.ErrKeyDisabled].
//   - InvalidArgument on Decrypt: [keyprovider.ErrAuthentication]. Cloud KMS
//     answers a ciphertext that does not authenticate (tampered, another
//     key's, or wrong associated data) with InvalidArgument "Decryption
//     failed", so that is what it means here. On Encrypt it is
//     [keyprovider.ErrInvalidArgument].
//   - A response naming another key: [keyprovider.ErrInvalidArgument]; this
//     is a misrouted request or a misbehaving proxy and is not retried.
//
// Cancelled contexts return errors matching context.Canceled.
//
// # Testing
//
// This repository's tests run against an in-process Cloud KMS on 127.0.0.1
// (internal/kmsfake/gcpkmstest, test machinery, not API; real gRPC, real
// protobufs) with key versions, checksums and fault injection. Test your
// own service with keyprovider/local.
package gcpkms
