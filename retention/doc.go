// Package retention enforces the retention policies written in `pii` tags:
// it finds values kept longer than they may be and applies the tagged
// action through an adapter for the application's own storage, with legal
// holds, erasure requests and a ledger that proves every erasure without
// holding personal data.
//
// # Data subjects and tenants
//
// A data subject is the pair (tenant, subject): the value of the
// pii:"tenant" field and of the pii:"subject" field. Subject ids need only
// be unique within a tenant, and records are identified by (tenant, id).
// Types without a pii:"tenant" field belong to the tenant "". Everything
// is keyed by the pair: [Manager.Forget] takes both, store queries
// ([Query].Tenant) always filter Subject and Record selections by the
// tenant, hold targets ([Subject], [RecordTarget]) carry it, the ledger
// hashes ([Manager.Hash]) cover it, and [Manager.Replay] matches restored
// records by it. A sweep, hold, erasure
// request or replay in one tenant never reads as another tenant's, nor
// changes another tenant's rows.
//
// # Policies
//
// A field tagged retain=2y,from=LastSeen,then=shred expires two calendar
// years after the LastSeen clock (without from=, after the record's creation
// time as the store reports it). grace= adds a period during which the value
// is blocked before the action applies; min= is a legal minimum counted from
// the same clock, before which nothing is erased, not even on request. An
// unset from= clock has not started, so nothing is due. [Policies] overrides
// the tags per tenant, purpose or jurisdiction, type and field; the most
// specific override wins for each member of a [Policy], except min=: it is
// a legal minimum, so the latest end among the tag's min= (on the tag's
// clock) and every matching override's applies. An override can raise
// min=, never lower it.
//
// [Manager.Due] returns a record's verdicts (field path, action, policy,
// state and reason) and [Manager.Next] when the next one falls due.
// [Manager.ReadCheck] enforces at read time, so an expired value is never
// shown even if no sweep has run: it returns [ErrExpired], or [ErrBlocked]
// for blocked values unless the context carries the auditor role
// ([WithRole]). It has the shape envelope takes, so opening a sealed
// struct enforces retention too:
//
//	sealer, err := envelope.New(kp, &envelope.Options{Store: keys, ReadCheck: manager.ReadCheck})
//
// # Actions
//
// delete removes the record; null zeroes the field; redact writes a fixed
// replacement; anonymize replaces the value with a keyed pseudonym
// (HMAC-SHA256, prefixed "anon_", equal for equal values of one category);
// generalize:year|month|last4|ipv4/N|postcode:N keeps a coarse part; shred
// zeroes the field and crypto-shreds the subject's key (see below); block
// keeps the value, readable only by the auditor role. Whatever the action,
// a field's blind index companion (index=Field) is zeroed with it, so no
// index answers a lookup for an erased value. Every action is idempotent:
// applied to its own result it changes nothing. That is what makes sweeps resumable and lets concurrent
// sweepers apply each action exactly once. anonymize and generalize need the
// plaintext and are refused on encrypted fields when a store is registered.
//
// # Shredding never destroys what must be kept
//
// A subject's key protects every value sealed for them (encrypt fields;
// stored tokens go with it), in every type. So a due then=shred field is
// first erased at field level, and the key itself is shredded only when
// nothing sealed under it must stay readable, across every registered type
// and store: no value under a legal hold, within its retention period or
// grace, kept by min= or then=block, or without any retention period.
// (encrypt=det values and blind indexes use tenant keys and do not count.)
// Until then the shred is pending: the ledger records it with outcome
// pending, and the hold store (Options.Holds, also a [PendingShreds])
// keeps the subject. Every sweep and [Manager.Release] first completes the pending shreds
// whose kept values have lapsed, recording them applied. Only when the key
// goes are the subject's stored tokens deleted.
//
// The ledger and holds keep only keyed hashes, from which nobody can
// recover the subject to shred later, so a pending shred keeps (tenant,
// subject) sealed with AES-256-GCM under a key derived with HKDF-SHA256
// from Options.LedgerKey, bound to its row (the subject hash and kind),
// and the row is deleted once the key is shredded. A pending shred is
// recorded before the field erasure that asks for it commits, so a crash
// in between is completed by the next sweep.
//
// Why one key per subject, rather than a key per field or per record that
// could be shredded alone: the envelope keeps one DEK scope per (tenant,
// subject) so that an erasure request is one key deletion that also covers
// backups, caches and values the application copied elsewhere; finer scopes
// would multiply key-store rows and KMS calls per subject, and a shred of
// one scope would no longer be the proof that a person's data is gone. A
// field erased at field level is already gone from the live store; what
// waits for the key is its copies in backups, which the shred destroys as
// soon as the last kept value lapses. Values that live outside every
// registered store are not seen by this check: register every type sealed
// under subject keys.
//
// The key is shredded with the Shredder's ForgetSubject: values sealed
// before fail with envelope.ErrShredded for good, and a returning
// customer's new values are sealed under a new key generation. An erasure
// request does the same by default; Options.CloseOnForget makes Forget use
// CloseSubject instead, which also refuses the subject's new values.
//
// # Sweeps, holds and erasure requests
//
// The application implements [Store] for each tagged type (sqlstore does it
// for database/sql; [MemoryStore] is the reference; retention/storetest is
// the conformance suite for a store of your own). Options.Holds is
// required and Options.Ledger must be set when a key may be shredded:
// pass sqlstore.NewHolds and sqlstore.NewLedger, or [NewMemoryHolds] and
// [NewMemoryLedger] explicitly. [Manager.Sweep] claims the
// candidates a clock says may be due, in batches, applies what is due and
// commits each batch with its ledger entries in one transaction; a crash
// leaves no record half-done and the next run finishes. Memory is bounded by
// the batch size. SweepOptions.DryRun walks the same candidates and reports
// what would happen without changing anything; SweepOptions.Progress
// reports records scanned, actions applied and the rate after each batch.
//
// Every destructive action is recorded in the erasure ledger ([Entry],
// [Ledger]) in the same transaction as the change. After restoring a backup,
// [Manager.Replay] re-applies the recorded erasures, so a restore cannot
// bring a forgotten person back. A legal hold ([Manager.Hold]) stops every
// destructive action on a subject or a record, and keeps the subject's key;
// sweeps and erasure requests read the holds again for every batch, so a
// hold placed while a long sweep runs is honoured from its next batch.
// [Manager.Release] applies what became due meanwhile. [Manager.Forget]
// erases a subject across every registered store with the outcome per
// field, honouring holds and min=; when it must keep values sealed under
// the key, the shred is pending and completes without a second request.
//
// # Security model
//
// The ledger, holds and errors never hold subject ids, record ids or
// values: ids appear as HMAC-SHA256 hashes under Options.LedgerKey over
// length-prefixed parts, (tenant, subject) and (tenant, type, record id)
// ([Manager.Hash]), so an operator holding the id can check that it was
// erased while the ledger alone reveals nothing. Pending shreds hold the
// subject id sealed (see above), only until the shred is done. Keep the
// ledger key as long as the ledger; [Manager.Replay] needs it to re-apply erasures to data
// restored from a backup. Hold reasons are free text and must not contain
// personal data. Keys are copied into the Manager and never printed; Go
// cannot promise their erasure from memory. Crypto-shredding is as strong as
// the key store: a shredded subject's ciphertext in old backups stays
// unreadable only if the key store's own backups expire. While a shred is
// pending, copies of the erased field in backups stay readable; they
// become unreadable when the shred completes. The keep check and the shred
// are not atomic with the application's writes: a value sealed for the
// subject between them, under the old key generation, is shredded too.
// [Manager.Replay] shreds again the keys recorded as shredded, which also
// ends values a returning customer was given since: replay only backups
// older than the return.
//
// # Errors
//
// Errors start with "retention:". [ErrExpired] and [ErrBlocked] come from
// read checks; errors from stores, shredders and token stores are wrapped
// once with %w.
//
// # Telemetry
//
// A Manager reports to OpenTelemetry through Options.MeterProvider and
// TracerProvider, or the global providers: the metric
// pii.retention.actions counts every action a sweep applies (or would,
// in a dry run) by pii.retention.action ("null", "generalize:year"),
// pii.outcome and pii.type, and the spans pii.retention.sweep (with its
// counts), pii.retention.release and pii.retention.forget surround
// sweeps, releases and erasure requests. No attribute carries a value or
// a subject or record id.
package retention
