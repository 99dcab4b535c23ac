// Package envelope is field-level envelope encryption for Go structs: data
// keys (DEKs) wrapped locally by branch keys that a KMS wraps, with caching
// under explicit limits, a versioned and key-committing field ciphertext
// bound to where the value lives, per-subject keys for crypto-shredding,
// deterministic encryption and blind indexes for lookups, and resumable
// rewrapping for rotation.
//
//	store, err := sqlkeystore.New(db, nil)                      // or envelope.NewMemoryStore()
//	s, err := envelope.New(kp, &envelope.Options{Store: store}) // kp: any keyprovider.KeyProvider
//	err = s.Seal(ctx, &customer)                                // every `pii:"...,encrypt"` field, in place
//	err = s.Open(ctx, &customer)
//	err = s.Seal(ctx, customers)                                // a slice: keys looked up and made a batch at a time
//
// New puts a bare KeyProvider behind keyprovider.NewClient with its
// defaults (per-attempt deadlines, retries of transient failures under a
// retry budget, a circuit breaker), so no key provider call goes out
// without them; a *keyprovider.Client is used as it is, so pass your own to
// tune them. Options.Store has no default in keyring mode: New fails
// rather than keep keys in memory unasked.
//
// The byte-level API (EncryptString, DecryptString, EncryptBytes,
// DecryptBytes with a Binding) is what Seal and Open use per field.
//
// # Key hierarchy
//
// The key provider's KEK wraps branch keys, one per tenant and rotation
// period (RotateBranchKey starts a new period, and so does the age limit
// Options.BranchKeyPeriod when set). A branch key wraps DEKs
// locally with AES-256-GCM, the associated data binding tenant, scope, DEK
// id and branch version. A DEK belongs to a scope: one data subject
// (Binding.Subject, from the `pii:"subject"` field), so ForgetSubject
// crypto-shreds that person's values everywhere, backups included; or, for
// data without a subject, the tenant, with a new DEK every
// Options.BucketPeriod (30 days), which is the time bucket. A data
// subject is the pair (tenant, subject): the same subject id in two
// tenants has two sets of keys. Types without a `pii:"tenant"` field
// belong to the tenant "". Seal refuses a record whose type has a subject
// field left empty (ErrEmptySubject) rather than seal it under the
// tenant's keys, where it could never be shredded. Each tenant
// also has a search root key, wrapped by the KEK and never rotated with
// branch keys, from which the deterministic-encryption and blind-index
// keys of each field are derived with HKDF-SHA256 (so lookups survive
// branch key rotation).
//
// All wrapped keys live in a KeyStore: sqlkeystore on SQLite or
// PostgreSQL, NewMemoryStore for tests, or your own, which must pass the
// conformance suite envelope/keystoretest. Every row a KeyStore returns is checked
// against what was asked (kind, tenant, scope and id; for Latest, an id
// never below one already used), and the associated data of every unwrap
// is built from the request, never from the row: whoever can write the
// key table cannot serve one subject's or tenant's key for another's. A
// mismatch is ErrDecrypt on reads and an error on writes; nothing is
// decrypted or sealed under such a row. Key provider calls grow with
// branch keys, not with records, subjects or fields: sealing ten fields for each
// of 10,000 subjects of a tenant costs one wrap call (plus one for the
// search root when det or index fields are used), and opening them from a
// cold cache one unwrap call (plus one).
//
// Inline mode (Options.Inline) is for users without a key store:
// each ciphertext carries its DEK wrapped directly by the key provider
// (associated data binds the tenant). DEKs are reused under the same cache
// limits and unwrapped DEKs are cached by their wrapped bytes, so a KMS
// call is paid per DEK, not per field. Inline mode cannot crypto-shred a
// subject (the wrapped key travels with the data). It needs no
// Options.Store, except for deterministic encryption and blind indexes,
// whose search root key lives there; without one those fail with
// errors.ErrUnsupported.
//
// # Field ciphertext
//
// See FORMAT.md for every byte. Version 1 (keyring) is
//
//	01 | DEK id (3) | nonce (12) | commitment (16) | AES-256-GCM ciphertext and tag
//
// 48 bytes of overhead in binary form. Strings use the text form: "pii1."
// then base64url without padding of the binary form ("pii2." inline,
// "pii3." deterministic), so IsSealed tells sealed values from plaintext.
// Unknown versions are rejected with ErrDecrypt, whose message says
// "unknown ciphertext version" (a value written by a newer release).
//
// The associated data of each value is its version, DEK id, tenant, type
// name, field path and record id, each length-prefixed. The type name is
// pii.Schema.Name: the name given to pii.Register, else the Go type's
// name. To rename or move a Go type without making its data unreadable,
// register the old name for it (pii.Register(Customer{}, "OldName")). The
// field path is the schema path ("Contacts[].Phone"), not the concrete one
// ("Contacts[2].Phone"): binding the index would make values unreadable
// after a slice is reordered, at the cost of not detecting a swap of two
// elements of the same slice within one record. The record id is the
// `pii:"id"` field, else the `pii:"subject"` field; types with neither
// bind values to tenant, type and field only.
//
// # Security model
//
// Confidentiality and integrity of each value rest on AES-256-GCM under a
// key derived with HKDF-SHA256 from the DEK; nonces are 96 bits from
// crypto/rand, and a DEK encrypts at most Cache.MaxMessages values
// (hard cap 2^32) before a new one of the same scope is made, subject
// scopes included. The count is fleet-wide: a process encrypts under a
// DEK only messages it reserved in the KeyStore, in blocks of
// Cache.MessageBlock, with KeyStore.Reserve, an atomic update that never
// lets the DEK's Record.Used pass the cap, so all the processes sharing
// the KeyStore together stay under it. A DEK is made with its first
// block reserved; a block a process does not use before it stops is lost,
// not reused. (sqlkeystore on SQLite reserves inside the caller's
// transaction: see its Reserve.) Inline DEKs belong to one process and are
// counted there.
//
// Key commitment: from each DEK a 16-byte commitment value is derived (HKDF
// with its own label) and carried in every ciphertext; it is compared in
// constant time before the GCM tag is checked, so no plaintext is released
// under a key the ciphertext does not commit to. The commitment is to the
// DEK, not per message: a per-message commitment (an HMAC per call) would
// double the cost of a field. Its strength is 128 bits: finding two DEKs
// with the same commitment is a 2^64 birthday search for an attacker who
// chooses both keys (AWS's committing suites use 256 bits; Tink commits to
// nothing). AES-SIV values (encrypt=det) carry a commitment to their field
// key in the same way. A consequence: values under the same DEK carry the
// same commitment (and, inline, the same wrapped DEK), so someone holding
// only ciphertexts can tell which values share a DEK, that is which fields
// belong to the same data subject, across tables and backups. The
// alternative, a per-message commitment, costs an HMAC per field.
//
// Every authentication failure (wrong key, tampered bytes, associated-data
// mismatch, commitment mismatch, unknown DEK, malformed input) returns the
// one opaque ErrDecrypt, and output buffers are cleared. ErrShredded is
// distinct on purpose: it says the subject was forgotten.
//
// Deterministic encryption (encrypt=det) uses AES-SIV (RFC 5297, 512-bit
// key) under a key per (tenant, type, field), so equal values in the same
// field of the same tenant encrypt equally across records and subjects.
// It leaks equality within that field (frequency analysis on low-entropy
// fields), does not bind the record (a value can be moved between records
// of the same field undetected), and is not shredded by ForgetSubject.
// Blind indexes (index) are HMAC-SHA256 under a key per (tenant, type,
// field), truncated to Options.IndexBytes (16), and leak the same equality
// (shorter indexes add false positives and leak less). Neither leaks
// across fields or tenants. To query, compute what Seal stored with
// BlindIndexes (for an index field) or DeterministicLookups (for an
// encrypt=det field) and match any of the values they return (one outside
// a search key rotation, one per live version during one, so a rotation
// misses no row), naming the Go type rather than a type name string,
// so a typo or a field without the option is an error rather than a
// lookup that silently matches nothing.
//
// Normalisers (norm=) run before the index or the deterministic
// ciphertext is computed, in Seal and in every lookup, so an upper-case
// or space-padded query finds the record. They widen what counts as equal
// and so leak a little more equality (values equal after normalisation
// are linked), which is the point. A prefix index (prefix=N) covers the
// first N characters: it links every record sharing them, so its groups
// are larger than an exact index's, and the smaller N, the fewer
// distinct indexes and the easier a frequency attack (with N=1 an index
// says which letter a name starts with, to anyone holding a name
// frequency table); prefer the largest N your lookups allow, and never
// put a prefix index on a low-entropy field. A compound index (with=)
// covers two fields together (length-prefixed, so the split between them
// counts): it links records equal in both, and says nothing about either
// field alone, so it leaks less than two single indexes would.
//
// An index with any of these options has its own key (FORMAT.md:
// "pii/index/v2", bound to the options' canonical description); a plain
// index keeps its v1 key, so indexes written before normalisers existed
// still match. Changing norm=, prefix= or with= on a field that holds
// data changes its index key: indexes written before never equal those
// written after (a lookup finds old records none of the time rather than
// some of it, by chance of their spelling), and the field needs
// re-indexing (sealing each record again, as guard's Migration does in
// resumable batches, recomputes its indexes).
// Deterministic ciphertexts keep their key whatever norm= says: a value
// opens to what was sealed, so equal ciphertexts are always equal values;
// records sealed before norm= was added match only when they were in
// normal form already, until re-indexing seals them again.
//
// Unwrapped keys are held in memory for at most Cache.MaxAge (5 minutes).
// DEKs and branch keys are cleared (clear()) when evicted or replaced; the
// search root and the per-field SIV and index keys are not, because they
// are read on every call and a concurrent reader of a cleared key would
// compute under an all-zero key (tink's AES-SIV even keeps slices of the
// key it is given): they are left to the garbage collector. Go cannot
// promise erasure in any case (the runtime may copy memory, and
// cipher.AEAD values keep their own key schedule). Secret-bearing values print [REDACTED] under every fmt verb,
// slog and JSON. AES is constant-time only with hardware support (AES-NI,
// ARMv8 crypto extensions), as the standard library documents.
//
// # Erasure
//
// ForgetSubject deletes every DEK the subject has had and records a
// tombstone in the KeyStore whose ID is the watermark: the highest DEK id
// shredded. Values under a DEK id at or below the watermark fail with
// ErrShredded for good. New values of the subject seal under a new key
// generation, a DEK with an id above the watermark, so a returning
// customer is served (and a retention shred of old data does not lock a
// subject out). CloseSubject also refuses new values: it records the
// tombstone at the largest DEK id, and sealing for the subject fails with
// ErrShredded from then on. Tombstones are ordinary KeyStore records
// (KindTombstone), so neither needs a schema change.
//
// When ForgetSubject returns, this process neither opens a value under
// the shredded DEKs nor seals one under them: a lookup that raced the
// forget is not cached and starts again, and the front caches are
// emptied. Every other process sharing the KeyStore refuses to decrypt
// or encrypt under the shredded DEKs within a bound, Cache.ShredCheck (1
// second by default): a subject's cached DEK is used without reading the
// KeyStore only while the store showed it alive less than ShredCheck
// ago; past that, one read (its row, or the scope's newest DEK and
// watermark; no key provider call) confirms it or finds the tombstone.
// With sqlkeystore on PostgreSQL and pglisten.Follow (package
// sqlkeystore/pglisten delivers the NOTIFYs sent in Forget's
// transaction) a forget reaches the other processes as it commits,
// typically within milliseconds, and no confirmation reads are made
// while the feed keeps up; if it falls behind or stops, ShredCheck
// applies again. Values another process seals
// within the bound are shredded too; a value sealed after it is under the
// new key generation and opens. The confirmation needs the KeyStore: a
// subject's cached key is not served past ShredCheck while the store is
// unreachable (tenant keys are, within MaxAge and OutageGrace). A
// process that creates a DEK checks the watermark after inserting it and
// never uses one a concurrent forget already shredded. Restoring a backup
// of the KeyStore taken before the erasure restores the keys: keep
// KeyStore backups shorter-lived than your erasure promise, or replay
// ForgetSubject after a restore.
//
// # Transactions
//
// Under pii.WithExecutor(ctx, tx) the KeyStore (sqlkeystore) writes the
// key rows a call makes (a new subject's DEK, a tenant's first branch or
// search root key) in the caller's transaction, so they commit or roll
// back with the application's rows. Keys read or made under an executor
// are never put in the caches that later calls use without reading the
// store: they serve the call (every field of one Seal or Open), and a
// later call uses one again only after reading the same row back, byte
// for byte, so after a rollback nothing is sealed under a key whose row
// is gone. Under a transaction each call therefore reads the key rows it
// needs through it (the unwrapped keys themselves, and their message
// counts, are kept by row, so the KMS is not asked again). ForgetSubject
// under a transaction takes effect when it commits; until then the
// subject's keys may be cached again by calls outside it (for at most
// Cache.ShredCheck, as in another process).
//
// # Many records
//
// Seal and Open also take a slice of records ([]T, []*T or a pointer to
// either), as a bulk import, a migration or a paged read has them. Each
// new data subject needs a DEK of its own; one record at a time, that is
// a few KeyStore round trips per subject. Over a slice, the keys of a
// batch of records (up to 1,000) are settled before the records are
// walked: Seal reads the newest DEK and the watermark of every subject of
// the batch with one KeyStore.LatestMany, unwraps the live ones locally,
// makes the missing ones and writes them with one KeyStore.InsertMany (a
// multi-row INSERT ... ON CONFLICT DO NOTHING for sqlkeystore), then reads
// the watermarks once more, as a single Seal does, so no DEK a concurrent
// ForgetSubject shredded is used. Open reads the DEKs the batch's values
// name and the cache lacks with one KeyStore.GetMany. Unwrapping stays
// local (branch keys are few and cached). Under pii.WithExecutor all of it
// runs in the caller's transaction and obeys the rules of the
// Transactions section. When two processes make the first DEK of the same
// subject at once, one insert wins and the other process uses the stored
// DEK, so both seal under one key. Every row the batch methods return is
// checked against the request (asked for, once, in the order asked where
// order is the contract); anything the batch cannot settle (a subject
// forgotten meanwhile, a key at its limit, a stored key that does not
// unwrap) is left to the record's own lookup, which reports it exactly as
// a Seal or Open of that record would. The in-memory store answers Get,
// Latest and Insert in constant time whatever the number of subjects.
//
// # Outages
//
// When the key provider returns keyprovider.ErrUnavailable,
// keys already unwrapped keep serving decryptions for Options.OutageGrace
// (5 minutes) past their MaxAge, then fail closed with an error matching
// keyprovider.ErrUnavailable. Encryption never uses an expired key.
//
// # Key rotation
//
// Rotating the KMS key: rotate in the KMS, then RewrapBranchKeys rewraps
// branch and search root keys (three KMS calls each; DEKs and field
// ciphertexts untouched). Rotating a branch key: RotateBranchKey, then
// RewrapDEKs rewraps the tenant's DEKs locally (one KMS unwrap per branch
// version). Both are resumable from a cursor, report progress per batch,
// and replace a record only after the new wrap has been unwrapped and
// compared (compare-and-swap in the KeyStore).
//
// Rotating a tenant's search root key (the key of its blind indexes and
// deterministic values) changes what those compare, so it goes in steps
// no lookup can fall between, and guard's Guard.RotateSearchKeys is the
// way to take them: it adds the next version (from then on lookups
// compute under it as well: BlindIndexes and DeterministicLookups return
// one value per live version; match any, but nothing is written under
// it); once every process has seen it (Cache.MaxAge after the add, plus
// a margin for clock skew), promotes it, so Seal writes under it; once
// every process writes under it (the same wait again), re-indexes every
// row (sealing a sealed struct again computes its indexes and
// deterministic values under the version writes use) in resumable
// batches and verifies; then retires the old versions, so lookups stop
// computing them and their deterministic values no longer open. At every
// point each row is written under a version every process looks up. The
// steps are not offered one by one: taken too early, or without the
// re-index, they make lookups miss rows. Every process must use the same
// or a shorter Cache.MaxAge and run a version of this package that knows
// search key versions. The steps are KeyStore records (of kind
// "search-state"), so no schema change is needed.
//
// # Performance
//
// The hot path derives nothing: each DEK's AES-GCM instance and commitment
// are cached; the associated data is built in a pooled buffer; lookups hit
// a one-entry front cache (the fields of a record share a DEK), else take a
// read lock on a map keyed by a comparable struct; ages are measured on a
// coarse clock; per-DEK message counts are atomic; the text form has its
// own strict base64url codec. Encrypting or decrypting a string allocates
// only the result, and every sealed or opened field is its own allocation,
// so no string keeps another field's value alive. The benchmarks
// (bench_test.go) compare EncryptString and DecryptString with bare
// AES-256-GCM, and inline mode with Tink's KMS envelope AEAD, in the same
// run; BENCHMARKS.md at the module root has the figures.
//
// # Telemetry
//
// A Sealer reports to OpenTelemetry through Options.MeterProvider and
// TracerProvider, or the global providers when those are nil (the
// convention of OpenTelemetry's own instrumentation libraries: set the
// global providers once, or pass yours). It uses the OpenTelemetry API
// only; the application brings the SDK. Metrics:
//
//   - pii.envelope.operations: values encrypted and decrypted, by
//     pii.operation (encrypt, decrypt), pii.type and pii.field (the
//     schema's type name and field path), and pii.format (random,
//     inline, deterministic); failures carry error.type (shredded,
//     decrypt_failed, limit, unavailable, ...). Seal counts the check that
//     a value already opens as a decryption.
//   - pii.envelope.key_cache.lookups: data key lookups by pii.cache.result
//     (hit, miss).
//   - pii.envelope.key_cache.evictions: keys dropped to keep the cache
//     under Cache.MaxEntries.
//   - pii.envelope.key_cache.stale_served: decryptions served by a cached
//     key past Cache.MaxAge during a key provider outage (OutageGrace).
//   - pii.envelope.deks.created: data keys made, by pii.key.scope
//     (subject, tenant, inline).
//   - from the keyprovider.Client: pii.kms.calls, pii.kms.call.duration,
//     pii.kms.attempts, pii.kms.attempt.duration and
//     pii.kms.breaker.transitions (see package keyprovider).
//
// Spans: pii.envelope.rotate_branch_key, pii.envelope.rewrap_branch_keys
// and pii.envelope.rewrap_deks (with their counts), pii.envelope.forget_subject,
// and a client span per key provider call (pii.kms.wrap, ...). No
// attribute carries a value, a key, a tenant, a subject or record id, or
// an error's text.
//
// The hot path never calls the OpenTelemetry API: each encryption or
// decryption adds one to an atomic counter of its (type, field), and the
// operation and cache metrics are observable instruments that read those
// counters when the meter collects, so without a provider the cost is
// that add. The counts are the Sealer's, reported while it is reachable.
//
// # Backwards compatibility
//
// Every shipped version is frozen by a test that opens a known ciphertext;
// new versions get new prefixes and version bytes, and old ones keep
// opening.
//
// # Errors
//
// ErrDecrypt (authentication failures; also matched by parse errors,
// unknown versions and ErrNotSealed from the Decrypt functions, and,
// together with their class, by key provider errors saying the KEK is
// missing, disabled or destroyed),
// ErrShredded, ErrNotSealed (Open of plaintext),
// ErrEmptySubject, KeyStore errors ErrNotFound and ErrConflict, ErrLimit,
// errors.ErrUnsupported (ForgetSubject in inline mode; encrypt=det, index,
// rotation and rewraps in inline mode without a Store), and key provider
// classes (errors.Is(err, keyprovider.ErrUnavailable)). A cancelled context fails every call with
// ctx.Err(), cache hits included. BlindIndexes and DeterministicLookups of
// a field without the index or encrypt=det option are errors. Seal and Open
// wrap errors in *pii.FieldError, which names the type, the field path and
// the record: by the value of its `pii:"id"` field, an opaque key like a
// primary key, or, for types without one, by the name of its subject
// field (a subject id is never shown). No error carries plaintext, a
// field's value or key bytes.
package envelope
