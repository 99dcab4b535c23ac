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
	// then one more per AddSearchKey), Scope empty. It is never rotated
	// with branch keys, so lookups survive their rotation; its own rotation
	// is in steps (KindSearchState).
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
}

// KeyStore keeps wrapped keys. Implementations must be safe for concurrent
// use by several processes: Insert is insert-if-absent, Replace is
// compare-and-swap. NewMemoryStore and sqlkeystore.Store implement it;
// envelope/keystoretest is the conformance suite.
type KeyStore interface {
	// Get returns the record ref names, or ErrNotFound.
	Get(ctx context.Context, ref KeyRef) (Record, error)
	// Latest returns the record with the highest ID of kind in (tenant,
	// scope), or ErrNotFound.
	Latest(ctx context.Context, kind Kind, tenant, scope string) (Record, error)
	// Insert stores rec unless a record with its KeyRef exists; it returns
	// the stored record and whether rec was inserted.
	Insert(ctx context.Context, rec Record) (stored Record, inserted bool, err error)
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
}

// memoryStore is the KeyStore NewMemoryStore returns.
type memoryStore struct {
	mu   sync.Mutex
	recs map[KeyRef]Record
}

var _ KeyStore = (*memoryStore)(nil)

// NewMemoryStore returns an empty in-memory KeyStore, for tests, examples
// and single-process use: its keys are lost when the process exits, and
// with them every value sealed under them. It is safe for concurrent use
// and passes envelope/keystoretest.
func NewMemoryStore() KeyStore { return &memoryStore{recs: map[KeyRef]Record{}} }

func cloneRecord(r Record) Record {
	r.Wrapped = bytes.Clone(r.Wrapped)
	return r
}

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

func (m *memoryStore) Latest(ctx context.Context, kind Kind, tenant, scope string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var best Record
	found := false
	for k, r := range m.recs {
		if k.Kind == kind && k.Tenant == tenant && k.Scope == scope && (!found || k.ID > best.ID) {
			best, found = r, true
		}
	}
	if !found {
		return Record{}, ErrNotFound
	}
	return cloneRecord(best), nil
}

func (m *memoryStore) Insert(ctx context.Context, rec Record) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[rec.KeyRef]; ok {
		return cloneRecord(r), false, nil
	}
	rec = cloneRecord(rec)
	rec.Created = rec.Created.Truncate(time.Microsecond)
	m.recs[rec.KeyRef] = rec
	return cloneRecord(rec), true, nil
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
	rec.Created = cur.Created
	m.recs[rec.KeyRef] = rec
	return nil
}

func (m *memoryStore) Forget(ctx context.Context, tenant, scope string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	var wm uint32
	for k := range m.recs {
		if k.Kind == KindDEK && k.Tenant == tenant && k.Scope == scope {
			delete(m.recs, k)
			n++
			wm = max(wm, k.ID)
		}
	}
	t := KeyRef{Kind: KindTombstone, Tenant: tenant, Scope: scope, ID: wm}
	if _, ok := m.recs[t]; !ok {
		m.recs[t] = Record{KeyRef: t, Wrapped: []byte{}, Created: time.Now().Truncate(time.Microsecond)}
	}
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
