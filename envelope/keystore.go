package envelope

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// Kind is the kind of a KeyStore record.
type Kind string

// The record kinds.
const (
	// KindBranch is a branch key wrapped by the key provider; ID is its
	// version within the tenant, Scope is empty.
	KindBranch Kind = "branch"
	// KindDEK is a data key wrapped by a branch key; Parent is the branch
	// key version, Scope is "s:<subject>" or "t" (tenant scope).
	KindDEK Kind = "dek"
	// KindSearch is the tenant's search root key (deterministic encryption
	// and blind indexes) wrapped by the key provider; ID is its version (1,
	// then one more per search key rotation), Scope empty. It is never rotated
	// with branch keys, so lookups survive their rotation; its own rotation
	// is in steps, recorded as records of kind "search-state".
	KindSearch Kind = "search"
	// KindTombstone marks a forgotten scope; Wrapped is empty. Its ID is
	// the highest DEK id the Forget that wrote it shredded (0 when none).
	// A scope's tombstones form a history; the one with the highest ID
	// (Latest) is the current watermark. DEK ids at or below it are
	// shredded for good, and new DEKs of the scope take ids above it (a new
	// key generation). A tombstone at the largest DEK id (2^24-1) closes
	// the scope: no new DEK is ever made for it (Sealer.CloseSubject).
	KindTombstone Kind = "tombstone"
)

// closedWatermark is the tombstone ID that closes a scope: it is the
// largest DEK id a ciphertext can name, so every id is shredded and no
// id is left for a new key generation.
const closedWatermark uint32 = format.MaxDEKID

// KeyRef names one record.
type KeyRef struct {
	Kind   Kind
	Tenant string
	Scope  string
	ID     uint32
}

// Record is one stored key. Wrapped is ciphertext; a Record holds no
// secret.
type Record struct {
	KeyRef
	Wrapped []byte
	Parent  uint32    // KindDEK: the branch key version that wraps it
	KEK     string    // KindBranch, KindSearch, KindSecret: keyprovider.KeyID of the wrapping KEK
	Created time.Time // set by the Sealer; stores keep it to the microsecond
	// Used is, for a KindDEK, the messages reserved under it so far, by
	// every process together (see KeyStore.Reserve). Insert stores it as
	// given (a DEK is made with its first block reserved); Replace keeps
	// the stored value.
	Used uint64
}

// ScopeRef names the records of one kind in (tenant, scope), the records
// Latest chooses from.
type ScopeRef struct {
	Kind   Kind
	Tenant string
	Scope  string
}

// KeyStore keeps wrapped keys. Implementations must be safe for concurrent
// use by several processes: Insert is insert-if-absent, Replace is
// compare-and-swap. NewMemoryStore and sqlkeystore.Store implement it;
// envelope/keystoretest is the conformance suite.
//
// The ...Many methods serve a Seal or Open over a slice of records: one
// call (one query, for a SQL store) for a whole batch of data subjects
// rather than one per subject. Whatever they return is checked against
// what was asked, as for the single-record methods.
type KeyStore interface {
	// Get returns the record ref names, or ErrNotFound.
	Get(ctx context.Context, ref KeyRef) (Record, error)
	// Latest returns the record with the highest ID of kind in (tenant,
	// scope), or ErrNotFound.
	Latest(ctx context.Context, kind Kind, tenant, scope string) (Record, error)
	// Insert stores rec unless a record with its KeyRef exists; it returns
	// the stored record and whether rec was inserted.
	Insert(ctx context.Context, rec Record) (stored Record, inserted bool, err error)
	// GetMany returns the records refs name that exist, each once, in any
	// order; missing ones are left out (they are not an error).
	GetMany(ctx context.Context, refs []KeyRef) ([]Record, error)
	// LatestMany returns, for each scope that has records, the one Latest
	// returns, each once, in any order; scopes without records are left
	// out.
	LatestMany(ctx context.Context, scopes []ScopeRef) ([]Record, error)
	// InsertMany is Insert for each of recs, whose KeyRefs are distinct:
	// stored[i] and inserted[i] are what Insert(recs[i]) returns. Each
	// record is inserted if absent on its own; under pii.WithExecutor the
	// caller's transaction makes them commit or roll back together.
	InsertMany(ctx context.Context, recs []Record) (stored []Record, inserted []bool, err error)
	// Replace overwrites old with rec (same KeyRef) if the stored Wrapped
	// still equals old.Wrapped, else returns ErrConflict.
	Replace(ctx context.Context, old, rec Record) error
	// Forget deletes every KindDEK record of (tenant, scope) and, in the
	// same transaction, inserts (if absent) a KindTombstone record whose
	// ID is the highest DEK id it deleted (0 when it deleted none). It
	// returns the number of DEKs deleted. Tombstones are never deleted, so
	// the highest one (Latest) is the scope's watermark: forgetting a
	// forgotten scope deletes nothing and keeps it.
	Forget(ctx context.Context, tenant, scope string) (int, error)
	// List returns up to limit records of kind ordered by (Tenant, Scope,
	// ID), strictly after the position after (a zero KeyRef starts at the
	// beginning). It is the cursor the rewrap jobs resume from.
	List(ctx context.Context, kind Kind, after KeyRef, limit int) ([]Record, error)
	// Reserve takes a block of n messages from the budget of the DEK ref
	// names, for the fleet-wide message limit: atomically, if the
	// record's Used plus n is at most limit, it adds n and returns the new
	// Used (the caller's block is the n messages below it); otherwise it
	// changes nothing and returns ErrLimit. A missing record is
	// ErrNotFound. Reserve should commit at once, outside any transaction
	// ctx carries (pii.WithExecutor), so that a rollback never hands out
	// again messages that were used. A store that cannot write outside
	// the caller's transaction either joins it and says so (sqlkeystore
	// on SQLite, whose one writer may be that transaction) or returns an
	// error matching ErrInTransaction; the Sealer then makes a new DEK in
	// the transaction, with its first block reserved by the Insert
	// (Record.Used).
	Reserve(ctx context.Context, ref KeyRef, n, limit uint64) (used uint64, err error)
}

// memoryStore is the KeyStore NewMemoryStore returns. Besides the records
// it keeps, for each (kind, tenant, scope), the ids it holds and the
// highest, so Get, Latest and Insert take constant time and Forget time
// proportional to the scope's keys, whatever the number of subjects.
type memoryStore struct {
	mu     sync.Mutex
	recs   map[KeyRef]Record
	scopes map[ScopeRef]*scopeIDs
}

// scopeIDs are the ids stored in one (kind, tenant, scope).
type scopeIDs struct {
	ids []uint32
	max uint32
}

var _ KeyStore = (*memoryStore)(nil)

// NewMemoryStore returns an empty in-memory KeyStore, for tests, examples
// and single-process use: its keys are lost when the process exits, and
// with them every value sealed under them. It is safe for concurrent use,
// answers Get, Latest and Insert in constant time, and passes
// envelope/keystoretest.
func NewMemoryStore() KeyStore {
	return &memoryStore{recs: map[KeyRef]Record{}, scopes: map[ScopeRef]*scopeIDs{}}
}

func cloneRecord(r Record) Record {
	r.Wrapped = bytes.Clone(r.Wrapped)
	return r
}

func scopeOf(r KeyRef) ScopeRef { return ScopeRef{r.Kind, r.Tenant, r.Scope} }

func (m *memoryStore) Get(ctx context.Context, ref KeyRef) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[ref]
	if !ok {
		return Record{}, ErrNotFound
	}
	return cloneRecord(r), nil
}

func (m *memoryStore) GetMany(ctx context.Context, refs []KeyRef) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Record, 0, len(refs))
	seen := make(map[KeyRef]bool, len(refs))
	for _, ref := range refs {
		if r, ok := m.recs[ref]; ok && !seen[ref] {
			seen[ref] = true
			out = append(out, cloneRecord(r))
		}
	}
	return out, nil
}

// latestLocked returns the record with the highest id of sc.
func (m *memoryStore) latestLocked(sc ScopeRef) (Record, bool) {
	ids := m.scopes[sc]
	if ids == nil {
		return Record{}, false
	}
	r, ok := m.recs[KeyRef{sc.Kind, sc.Tenant, sc.Scope, ids.max}]
	return r, ok
}

func (m *memoryStore) Latest(ctx context.Context, kind Kind, tenant, scope string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.latestLocked(ScopeRef{kind, tenant, scope})
	if !ok {
		return Record{}, ErrNotFound
	}
	return cloneRecord(r), nil
}

func (m *memoryStore) LatestMany(ctx context.Context, scopes []ScopeRef) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Record, 0, len(scopes))
	seen := make(map[ScopeRef]bool, len(scopes))
	for _, sc := range scopes {
		if r, ok := m.latestLocked(sc); ok && !seen[sc] {
			seen[sc] = true
			out = append(out, cloneRecord(r))
		}
	}
	return out, nil
}

// insertLocked stores rec unless its KeyRef exists, and returns the
// stored record.
func (m *memoryStore) insertLocked(rec Record) (Record, bool) {
	if r, ok := m.recs[rec.KeyRef]; ok {
		return cloneRecord(r), false
	}
	rec = cloneRecord(rec)
	rec.Created = rec.Created.Truncate(time.Microsecond)
	m.recs[rec.KeyRef] = rec
	sc := scopeOf(rec.KeyRef)
	ids := m.scopes[sc]
	if ids == nil {
		ids = &scopeIDs{max: rec.ID}
		m.scopes[sc] = ids
	}
	ids.ids = append(ids.ids, rec.ID)
	ids.max = max(ids.max, rec.ID)
	return cloneRecord(rec), true
}

func (m *memoryStore) Insert(ctx context.Context, rec Record) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, inserted := m.insertLocked(rec)
	return r, inserted, nil
}

func (m *memoryStore) InsertMany(ctx context.Context, recs []Record) ([]Record, []bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stored := make([]Record, len(recs))
	inserted := make([]bool, len(recs))
	for i, rec := range recs {
		stored[i], inserted[i] = m.insertLocked(rec)
	}
	return stored, inserted, nil
}

func (m *memoryStore) Replace(ctx context.Context, old, rec Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if old.KeyRef != rec.KeyRef {
		return ErrConflict
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.recs[old.KeyRef]
	if !ok || !bytes.Equal(cur.Wrapped, old.Wrapped) {
		return ErrConflict
	}
	rec = cloneRecord(rec)
	rec.Created, rec.Used = cur.Created, cur.Used
	m.recs[rec.KeyRef] = rec
	return nil
}

func (m *memoryStore) Forget(ctx context.Context, tenant, scope string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sc := ScopeRef{KindDEK, tenant, scope}
	var wm uint32
	n := 0
	if ids := m.scopes[sc]; ids != nil {
		for _, id := range ids.ids {
			delete(m.recs, KeyRef{KindDEK, tenant, scope, id})
			wm = max(wm, id)
		}
		n = len(ids.ids)
		delete(m.scopes, sc)
	}
	m.insertLocked(Record{KeyRef: KeyRef{KindTombstone, tenant, scope, wm}, Wrapped: []byte{}, Created: time.Now()})
	return n, nil
}

func (m *memoryStore) List(ctx context.Context, kind Kind, after KeyRef, limit int) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := after.Kind != kind || after == (KeyRef{})
	m.mu.Lock()
	var out []Record
	for k, r := range m.recs {
		if k.Kind == kind && (all || compareRef(k, after) > 0) {
			out = append(out, cloneRecord(r))
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int { return compareRef(a.KeyRef, b.KeyRef) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// compareRef orders refs by (Tenant, Scope, ID), the List order.
func compareRef(a, b KeyRef) int {
	if c := cmp.Compare(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Scope, b.Scope); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
