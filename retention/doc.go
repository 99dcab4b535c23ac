// Package retention enforces the retention policies written in `pii` tags:
// it finds values kept longer than they may be and applies the tagged
// action through an adapter for the application's own storage, with legal
// holds, erasure requests and a ledger that proves every erasure without
// holding personal data.
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
// specific override wins for each member of a [Policy].
//
// [Manager.Due] returns a record's verdicts (field path, action, policy,
// state and reason) and [Manager.Next] when the next one falls due.
// [Manager.ReadCheck] and [Manager.Readable] enforce at read time, so an
// expired value is never shown even if no sweep has run: they return
// [ErrExpired], or [ErrBlocked] for blocked values unless the context
// carries the auditor role ([WithRole]). ReadCheck has the shape envelope
// takes, so opening a sealed struct enforces retention too:
//
//	sealer, err := envelope.New(kp, &envelope.Options{ReadCheck: manager.ReadCheck})
//
// # Actions
//
// delete removes the record; null zeroes the field; redact writes a fixed
// replacement; anonymize replaces the value with a keyed pseudonym
// (HMAC-SHA256, prefixed "anon_", equal for equal values of one category);
// generalize:year|month|last4|ipv4/N|postcode:N keeps a coarse part; shred
// destroys the subject's key through a [Shredder] (envelope's ForgetSubject),
// deletes their vaulted tokens through a [TokenDeleter], and zeroes the
// field and its blind index; block keeps the value, readable only by the
// auditor role. Every action is idempotent: applied to its own result it
// changes nothing. That is what makes sweeps resumable and lets concurrent
// sweepers apply each action exactly once. anonymize and generalize need the
// plaintext and are refused on encrypted fields when a store is registered.
//
// # Sweeps, holds and erasure requests
//
// The application implements [Store] for each tagged type (sqlstore does it
// for database/sql; [MemoryStore] is the reference). A [Sweeper] claims the
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
// bring a forgotten person back. A legal hold ([Manager.Hold]) stops every destructive
// action on a subject or a record; [Manager.Release] applies what became due
// meanwhile. [Manager.Forget] erases a subject across every registered store
// with the outcome per field, honouring holds and min=.
//
// # Security model
//
// The ledger, holds and errors never hold subject ids, record ids or
// values: ids appear as HMAC-SHA256 hashes under Options.LedgerKey
// ([Manager.SubjectHash]), so an operator holding the id can check that it
// was erased while the ledger alone reveals nothing. Keep the ledger key as
// long as the ledger; [Manager.Replay] needs it to re-apply erasures to data
// restored from a backup. Hold reasons are free text and must not contain
// personal data. Keys are copied into the Manager and never printed; Go
// cannot promise their erasure from memory. Crypto-shredding is as strong as
// the key store: a shredded subject's ciphertext in old backups stays
// unreadable only if the key store's own backups expire.
//
// # Errors
//
// Errors start with "retention:". [ErrExpired] and [ErrBlocked] come from
// read checks; errors from stores, shredders and token stores are wrapped
// once with %w.
package retention
