// Package vault is a keyprovider backend on HashiCorp Vault's Transit
// secrets engine, through the official client github.com/hashicorp/vault/api:
// data keys are wrapped with transit/encrypt and unwrapped with
// transit/decrypt under one named Transit key.
//
// # Associated data
//
// Vault binds extra data to a ciphertext in two ways, and silently ignores
// the wrong one: a non-derived AEAD key (aes128-gcm96, aes256-gcm96,
// chacha20-poly1305) authenticates associated_data, while a derived key
// uses context to derive a per-context key and ignores associated_data; a
// non-derived key ignores context. Sending the wrong field would leave the
// wrapped key unbound without any error, so [New] reads the key
// (GET /v1/MOUNT/keys/NAME) and refuses a key whose type cannot
// authenticate associated data, a convergent key (deterministic wrapping),
// or a key whose derived flag differs from Options.Derived. Then the
// backend sends associated_data (non-derived) or context (derived).
// Derived keys need non-empty associated data (Vault requires a context).
//
// The key's metadata does not prove the server honours the field, so New
// then checks it, once, at construction (where it already talks to Vault,
// so a misconfigured server fails at start-up rather than on the first
// record): it wraps a random probe value with one associated data, and
// requires that it unwraps with it and fails with
// [keyprovider.ErrAuthentication] under another. A server where the other
// associated data also unwraps (a proxy that drops associated_data, an
// imitation of Vault) is refused with an error saying so; any other
// failure of the probe is returned with its class and the operation
// "new". This costs New three more requests. A server whose behaviour
// changes after New is not detected by the probe; the warnings check
// below still catches a Vault that ignores a parameter it does not know.
//
// # Warnings
//
// Vault answers a request it accepted only in part with a "warnings"
// field: a parameter it does not know (associated_data on a Vault older
// than the parameter, for example) is ignored, and said so only there.
// Every response with warnings is refused, whatever the operation, with
// an error of class [keyprovider.ErrInvalidArgument] (so it is not
// retried) that names the operation and the endpoint and quotes at most
// three warnings, with every run that could be key material (16 or more
// base64 or hex characters holding a digit, an upper-case letter, "+",
// "/" or "=") replaced by [REDACTED]. A warned decrypt returns no data
// key; a warned rotate may still have rotated (Versions tells).
//
// # Wrapped keys and versions
//
// The wrapped bytes are Vault's own ciphertext string, vault:vN:BASE64,
// usable with the Vault CLI. Unwrap parses it strictly before sending it
// (the prefix, a decimal version without leading zeros, canonical
// standard base64), so no two byte strings name the same ciphertext, and
// reports the version N. Wrap reports the version from key_version.
//
// # Key rotation
//
// The backend implements [keyprovider.Rotator] (POST MOUNT/keys/NAME/rotate),
// [keyprovider.Describer] (the key's versions, with those below
// min_decryption_version reported disabled) and [keyprovider.Rewrapper].
// Vault's rewrap endpoint does not accept associated_data (it decrypts and
// re-encrypts without it; vault#31791), so Rewrap uses it only where it is
// correct: derived keys (with context) and empty associated data. Otherwise
// it decrypts and encrypts again in this process, and the data key passes
// through this process's memory (it is cleared after use).
//
// # Configuration
//
// [New] takes the Transit key name and [Options]: the Vault address and
// token (default: the VAULT_ADDR and VAULT_TOKEN environment variables,
// and the other variables vault/api reads, such as VAULT_CACERT and
// VAULT_NAMESPACE), the mount path (default "transit"), whether the key is
// derived, and a per-attempt Timeout; or a ready *api.Client. Key names
// containing "/", "..", or whitespace are refused, as are such mount paths,
// so a name can never reach another endpoint. The client's own retries are
// switched off (Client.SetMaxRetries(0)) on clients New builds: New
// returns the backend inside a [keyprovider.Client], which retries, with a
// budget and a circuit breaker (Options.Calls tunes it), so no call reaches
// Vault without them. A key URI opened with keyprovider/kmsuri (vault://
// and vault+http://, registered when this package is imported) comes
// inside a Client too.
//
// The token needs "read" on MOUNT/keys/NAME, "update" on
// MOUNT/encrypt/NAME and MOUNT/decrypt/NAME (New uses both for the probe),
// and for the optional
// interfaces "update" on MOUNT/rewrap/NAME and MOUNT/keys/NAME/rotate.
// Note that Vault's encrypt endpoint creates a missing key when the policy
// allows "create"; grant only "update" so a deleted key fails loudly.
//
// # Errors
//
// Errors are classified at this boundary ([keyprovider.Classify]); the
// *api.ResponseError stays reachable with errors.As:
//
//   - 400 on decrypt or rewrap (message authentication failed, invalid
//     ciphertext): [keyprovider.ErrAuthentication]; a version below
//     min_decryption_version ("disallowed by policy"):
//     [keyprovider.ErrKeyDisabled]; "not found": [keyprovider.ErrKeyNotFound].
//     A wrapped key that does not parse never reaches Vault and is
//     [keyprovider.ErrAuthentication] too.
//   - 400 on encrypt: [keyprovider.ErrInvalidArgument].
//   - A response with warnings: [keyprovider.ErrInvalidArgument] (see
//     Warnings above).
//   - 401, 403: [keyprovider.ErrPermission].
//   - 404: [keyprovider.ErrKeyNotFound].
//   - 412, 429, 5xx (503 is a sealed or standby Vault) and transport
//     failures: [keyprovider.ErrUnavailable].
//
// # Testing
//
// This repository's tests use a small HTTP imitation of Transit
// (internal/kmsfake/vaultfake, test machinery, not API) for fault injection
// and offline examples. The conformance suite runs against
// Vault's own Transit engine in the nested module internal/vaulttest, which
// keeps Vault's dependency tree out of this module's go.mod.
package vault
