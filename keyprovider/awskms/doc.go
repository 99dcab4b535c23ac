// Package awskms is a keyprovider backend on AWS KMS
// (github.com/aws/aws-sdk-go-v2/service/kms): data keys are wrapped with the
// Encrypt and Decrypt operations of a symmetric KMS key.
//
// # Associated data
//
// AWS KMS authenticates an encryption context (string pairs), not raw
// associated data. A non-empty associated data is carried as one pair,
//
//	"pii-ad-sha256": base64(SHA-256(associated data))
//
// and empty associated data sends no encryption context. The digest rather
// than the data itself is sent because KMS writes the encryption context in
// clear to CloudTrail, and this library's associated data names records and
// tenants; a digest also keeps the context under the service's size limits
// whatever the associated data's length. SHA-256 is collision resistant, so
// the binding is as strong as sending the bytes.
//
// Decrypt pins KeyId to the configured key, so a ciphertext made under
// another key is refused by the service (IncorrectKeyException) instead of
// being decrypted with whatever key it names; and both responses must name
// the configured key (for a key id or key ARN; an alias cannot be checked
// against the key ARN the service answers with).
//
// The wrapped bytes are KMS's own ciphertext blob. AWS does not expose which
// backing key version wrapped it, so the KeyID's Version is empty and Key is
// the key ARN from the response.
//
// # Configuration
//
// [New] takes the key: a key ARN (arn:aws:…:kms:REGION:ACCOUNT:key/ID, the
// recommended form), a key id, an alias name (alias/NAME) or alias ARN, and
// [Options]: an aws.Config (default: config.LoadDefaultConfig, so the usual
// AWS_REGION, AWS_PROFILE, credential chain and AWS_ENDPOINT_URL apply), a
// Region and an Endpoint overriding it, or a ready kms.Client, plus a
// per-attempt Timeout. The region defaults to the one in a key ARN.
//
// The SDK's own retries are switched off per call (aws.NopRetryer): New
// returns the backend inside a [keyprovider.Client], which retries, with a
// budget and a circuit breaker (Options.Calls tunes it), so no call reaches
// AWS KMS without them. A key URI opened with keyprovider/kmsuri
// (aws-kms://, registered when this package is imported) comes inside a
// Client too. The caller needs kms:Encrypt and kms:Decrypt on the key;
// a key policy can require the "pii-ad-sha256" context key with the
// kms:EncryptionContextKeys condition.
//
// # Errors
//
// Errors are classified at this boundary ([keyprovider.Classify]); the
// SDK's typed errors (types.NotFoundException, smithy.APIError, …) stay
// reachable with errors.As:
//
//   - InvalidCiphertextException, IncorrectKeyException:
//     [keyprovider.ErrAuthentication] (tampered, another key's, or wrong
//     associated data).
//   - AccessDeniedException, UnrecognizedClientException,
//     InvalidSignatureException, ExpiredTokenException and other credential
//     errors: [keyprovider.ErrPermission].
//   - NotFoundException: [keyprovider.ErrKeyNotFound].
//   - DisabledException, KMSInvalidStateException:
//     [keyprovider.ErrKeyDisabled] ([keyprovider.ErrKeyDestroyed] when the
//     key is pending deletion).
//   - ThrottlingException, LimitExceededException, KeyUnavailableException,
//     DependencyTimeoutException, KMSInternalException, any 5xx or 429, and
//     transport failures: [keyprovider.ErrUnavailable].
//   - A response naming another key: [keyprovider.ErrInvalidArgument], not
//     retried.
//   - Anything else: [keyprovider.ErrInvalidArgument].
//
// # Testing
//
// This repository's tests run against an in-process KMS on 127.0.0.1
// (internal/kmsfake/awskmstest, test machinery, not API) speaking the JSON
// 1.1 protocol with encryption-context checking, AWS-style error bodies and
// fault injection. Test your own service with keyprovider/local.
package awskms
