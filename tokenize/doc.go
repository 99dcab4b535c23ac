// Package tokenize turns identifiers into tokens that keep their format:
// a card number stays a 16-digit card number with its last four, a phone
// number still parses to the same country, an IBAN keeps its country and
// shape. Card and IBAN tokens deliberately fail their check digits so a
// token is never taken for the real thing. Tokens are deterministic within
// a tenant's field, so joins and lookups keep working, and they can be
// reversed only by holders of the key who pass the caller's permission
// check.
//
// [Tokenizer.Apply] and [Tokenizer.Reverse] tokenize and reverse every
// token= field of a tagged struct in place; Reverse requires a
// caller-supplied [Permit] and decides field by field: the fields it
// refuses keep their tokens, the others are restored, and the
// [*RefusedError] it returns (matching [ErrPermission]) names the refused
// ones.
// [Tokenizer.Tokenize] and [Tokenizer.Detokenize] do one value.
//
// # Formats
//
// A [TokenFormat] says which parts of a value are kept and which rules a
// token still meets: [Card] (keep the last 4 and optionally the BIN;
// tokens fail the Luhn check unless Card.LuhnValid is set), [Phone]
// (libphonenumber parsing, country code and optionally area code kept, the
// area code always in the smaller regions of a shared calling code,
// original formatting kept), [SSN] (US rules), [IBAN] (country kept; tokens
// fail the mod-97 check unless IBAN.ChecksumValid is set), [Email] (local
// part, optionally the domain) and [NewTemplate] for anything else. Apply
// picks one per category ([Tokenizer.FormatFor], Options.Formats). The
// tweak is derived from the tenant and the field ([Scope]), so the same
// value gives the same token within a tenant's field and different tokens
// across tenants and fields.
//
// # Methods
//
// The [Method] is chosen per call or per struct field
// (`pii:"card,token=ff1"`):
//
//   - ff1 (the default): FF1 format-preserving encryption (package
//     [github.com/fieldguard/pii/tokenize/fpe], which also has FF3-1 and
//     alphabets for direct use).
//   - ff3-1: FF3-1, for interoperability only (HashiCorp Vault's Transform
//     engine uses it): Beyne (CRYPTO 2021) gave practical attacks on FF3-1
//     over small domains, and NIST's 2025 second draft of SP 800-38G Rev. 1
//     drops the FF3 family.
//   - hmac: keyed pseudonyms (HMAC-SHA256 with a key id), not reversible.
//   - stored: random tokens of the value's format, kept with the value
//     sealed in a [TokenStore] (Options.Store: [NewMemoryStore], or
//     [github.com/fieldguard/pii/tokenize/sqltokenstore] for your
//     database), with optional convergence, expiry and deletion by data
//     subject. Under a context from pii.WithExecutor, the rows are written
//     in the caller's transaction. Any store must pass
//     [github.com/fieldguard/pii/tokenize/tokenstoretest].
//
// A stored token belongs to one data subject, (tenant, subject): two
// subjects with the same value get two tokens, a token reverses only in
// the scope it was made in, and [Tokenizer.DeleteSubject] deletes exactly
// one subject's tokens.
//
// # Telling tokens from values
//
// Reversing a value that is not a token of its field fails with
// [ErrNotToken] wherever the format can tell, so a mistake (a clear value
// passed to Reverse, the wrong field name in a Scope) is loud rather than
// a wrong but plausible value:
//
//   - Card: tokens fail the Luhn check, by a shift (1–9) derived from the
//     scope. A real card number is always refused; a token of another field
//     or tenant is refused unless the two scopes share the shift (1 in 9).
//     Card.LuhnValid turns this off.
//   - IBAN: the check digits of tokens are off by a shift (1–96) derived
//     from the scope; a real IBAN is always refused, another scope's token
//     unless the shifts agree (1 in 96). IBAN.ChecksumValid turns this off.
//   - SSN and Phone: tokens are valid SSNs and valid numbers by design, and
//     the invalid ranges are too small to hold them one-to-one; only values
//     outside the valid ranges are refused.
//   - Email and templates (plain FF1 or FF3-1 over an alphabet): a
//     permutation of every value of the shape; nothing can be refused.
//   - Stored: a token unknown in the scope (tenant, subject, field) is
//     [ErrNotFound], whatever the format.
//
// Use token=stored where every reversal of a non-token must fail.
//
// Free text: [Annotate] marks a token as a surrogate, `PHONE(12):…`, so it
// can be found ([FindSurrogates]) and reversed inside a transcript
// ([ReplaceSurrogates]).
//
// # Keys
//
// A Tokenizer is created from one 32-byte root key ([GenerateRootKey]),
// either raw ([New]) or wrapped by a key-encryption key in a KMS
// ([NewFromProvider], which unwraps it once through a keyprovider.Client).
// Separate subkeys for FF1, FF3-1, tweak derivation, HMAC pseudonyms,
// stored-token lookups and stored-value encryption are derived with
// HKDF-SHA256, so one compromise of a derived key does not expose the
// others. Options.KeyID names the key in HMAC pseudonyms and stored
// records so a rotation can tell generations apart.
//
// # Key rotation
//
// FPE tokens are a function of the key: rotating means reading each token
// with a Tokenizer on the old root key (Detokenize or Reverse) and writing
// it with one on the new key. HMAC pseudonyms carry Options.KeyID as a
// prefix, so stores can hold two generations while a migration runs.
// Stored records carry the key id too, and their values are sealed under a
// key derived from the root: rotate by reading each record with the old
// Tokenizer and tokenizing again with the new one.
//
// # Backwards compatibility
//
// Tokens must not change across releases: the HKDF labels, the tweak
// derivation, the pseudonym encoding and every format's rules are fixed
// for version 1, and the package examples and TestKnownTokens freeze one
// token of each kind, so any drift fails the tests.
//
// Before version 1: Card and IBAN tokens began to fail their check digits
// (tokens made earlier reverse with Card{LuhnValid: true} and
// IBAN{ChecksumValid: true}); stored records began to bind the data
// subject (their lookup hash and sealed value cover tenant, subject and
// field; records written earlier no longer converge or open, so tokenize
// their values again); and the method token=vault was renamed token=stored
// (MethodVault to MethodStored; "vault" names HashiCorp Vault only), with
// the records, keys and labels unchanged. FF1, FF3-1 and alphabets moved
// to package fpe, and the SQL store to package sqltokenstore.
//
// # Security model
//
// FPE tokens are deterministic: equal values in the same tenant and field
// give equal tokens, which is what makes joins work and also what an
// observer of many tokens learns. Small domains are weak even above the
// NIST floor; keep as few digits as the use case allows (PCI DSS allows at
// most BIN and last 4). Cycle-walking (SSN, phone validity, card Luhn with
// a kept BIN) makes the running time depend on the value, which reveals a
// small amount of information to an attacker who can time calls. The
// standard library's AES is constant-time only with hardware support
// (AES-NI and equivalents). Go cannot promise that key bytes are erased
// from memory; the package clears its own copies where it can.
//
// A stored token's record is checked against the scope it was asked for,
// and its sealed value is bound to its token and scope, so whoever can
// write the token table cannot move a token to another subject, tenant or
// field.
//
// # Errors
//
// Errors wrap one of [ErrFormat], [ErrNotToken], [ErrPermission],
// [ErrNotFound] and [ErrTokenExists], or fpe.ErrDomain for a value whose
// tokenized part is outside the cipher's domain (fewer digits than the
// NIST floor allows); test with errors.Is. Mistakes of the program (a root key of the wrong size,
// Detokenize of a token=hmac pseudonym) are plain errors. Apply and Reverse return a [pii.FieldError] naming
// the type, the field path and the record by its id (tokenize:
// Customer.Card (record ID "c-1"): value is not a token of this field: …).
// Messages start with "tokenize:" once and never contain the value, the
// token, the subject id, or key material.
package tokenize
