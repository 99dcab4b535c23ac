package retention

import (
	"context"
	"time"

	"github.com/fieldguard/pii"
)

// Store is the application's storage for the records of one tagged type,
// as retention sees it. sqlstore implements it for database/sql;
// [MemoryStore] is a reference implementation for tests and examples.
//
// A Store may also have a method PipelineClaims() bool, reporting whether
// a new claim may be taken while the previous one is still committing (in
// another goroutine). It must be true only when claims skip records
// locked by an open claim without waiting for it, as SELECT ... FOR
// UPDATE SKIP LOCKED does; the sweeper then overlaps evaluating one batch
// with committing the one before.
type Store interface {
	// Schema returns the schema of the stored type.
	Schema() *pii.Schema
	// Claim starts a unit of work over the next batch of records the query
	// selects, in the store's key order, and returns them decoded. The
	// records stay locked against other claims (SELECT ... FOR UPDATE SKIP
	// LOCKED in SQL) until Commit or Rollback, unless q.ReadOnly.
	Claim(ctx context.Context, q Query) (Claim, error)
}

// pipeliner is the optional ability of a Store described in its
// documentation.
type pipeliner interface {
	PipelineClaims() bool
}

// Claim is one batch of records taken from a Store.
type Claim interface {
	// Records returns the claimed records.
	Records() []Record
	// Commit applies the changes and appends the ledger entries in one
	// transaction: either all of them take effect or none does.
	Commit(ctx context.Context, changes []Change, entries []Entry) error
	// Rollback releases the claim without changing anything. It is a no-op
	// after Commit.
	Rollback() error
}

// Query selects the records a Claim returns. Exactly one of Clocks,
// Subject, Record and All selects.
type Query struct {
	// Clocks selects records where at least one clock is at or before its
	// cutoff (the retention candidates), in every tenant.
	Clocks []Cutoff
	// Tenant is the tenant of a Subject or Record query: a data subject is
	// (Tenant, Subject) and a record (Tenant, Record), so both always
	// filter by it. The records of a type without a pii:"tenant" field
	// belong to the tenant "", and a non-empty Tenant selects none of them.
	// Clocks and All queries ignore it.
	Tenant string
	// Subject selects the records of the data subject (Tenant, Subject).
	Subject string
	// Record selects the record (Tenant, Record).
	Record string
	// All selects every record.
	All bool
	// After is the position of the last record of the previous batch (its
	// Record.Pos), or nil to start at the beginning.
	After any
	// Limit is the maximum number of records to return.
	Limit int
	// ReadOnly claims without locking, for dry runs; Commit is not called.
	ReadOnly bool
}

// Cutoff selects records whose clock is at or before Before.
type Cutoff struct {
	// Field names the time.Time field holding the clock; "" is the record's
	// creation time as the store keeps it.
	Field  string
	Before time.Time
}

// Record is one stored record. (Tenant, Key) identifies it within its
// type: record ids need only be unique within a tenant.
type Record struct {
	// Tenant is the record's tenant as text ("" for types without a
	// pii:"tenant" field).
	Tenant string
	// Key is the record id as text: it is hashed into the ledger, so it
	// must be stable.
	Key string
	// Pos is the record's position in store order, passed back in Query.After.
	Pos any
	// Created is the record's creation time, the default retention clock.
	Created time.Time
	// Value is a pointer to the decoded struct.
	Value any
}

// Change is what a Claim's Commit writes for one record.
type Change struct {
	// Tenant, Key and Pos identify the record, as in Record.
	Tenant string
	Key    string
	Pos    any
	// Delete removes the record.
	Delete bool
	// Fields lists the schema paths ("Email", "Address.Postcode") of the
	// fields changed in Value; companion index fields are listed by their
	// Go field name path.
	Fields []string
	// Value is the record with the changes applied.
	Value any
}

// Entry is one line of the erasure ledger. It holds no personal data:
// subject and record ids appear only as keyed hashes.
type Entry struct {
	// Subject is the keyed hash of (tenant, subject id) ("" if the type has
	// no subject field); see [Manager.Hash].
	Subject string
	// Record is the keyed hash of (tenant, type, record id), or "" for
	// subject-wide entries; see [Manager.Hash].
	Record string
	// Type is the schema name.
	Type string
	// Field is the concrete field path, or "" for subject-wide actions
	// (shredding the subject's keys).
	Field string
	// Action is the action, as in a tag ("generalize:year").
	Action string
	// Policy is the policy applied, in tag form, or "erasure request".
	Policy string
	// Outcome is what became of the action.
	Outcome Outcome
	// Reason says why.
	Reason string
	// At is when it happened, from the Manager's clock.
	At time.Time
}

// Outcome is what became of an action, as the ledger records it.
type Outcome string

// Ledger outcomes.
const (
	OutcomeApplied Outcome = "applied"
	// OutcomePending: the subject's key shred waits until nothing sealed
	// under the key must be kept; a later sweep, Release or Forget
	// completes it and records it applied.
	OutcomePending  Outcome = "pending"
	OutcomeDeferred Outcome = "deferred"
	OutcomeHeld     Outcome = "held"
	OutcomeBlocked  Outcome = "blocked"
	OutcomeReplayed Outcome = "replayed"
	OutcomeDryRun   Outcome = "dry-run"
)

// Ledger is the append-only erasure ledger.
type Ledger interface {
	// Append adds entries.
	Append(ctx context.Context, entries ...Entry) error
	// Scan calls fn for every entry in append order.
	Scan(ctx context.Context, fn func(Entry) error) error
}
