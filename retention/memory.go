package retention

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/fieldguard/pii"
)

// MemoryStore is an in-memory [Store], the reference implementation for
// tests and examples. Records are keyed by (tenant, id): [pii.Schema.TenantOf]
// and [pii.Schema.RecordOf], so ids may repeat across tenants. A claim
// holds the store's lock until it commits or rolls back; read-only claims
// take no lock.
type MemoryStore struct {
	schema *pii.Schema
	ledger Ledger
	mu     sync.Mutex // held by an open claim
	dataMu sync.Mutex // guards recs
	recs   map[memKey]memRecord
}

// memKey is a record's key and its position in store order.
type memKey struct{ tenant, id string }

func (k memKey) less(o memKey) bool {
	if k.tenant != o.tenant {
		return k.tenant < o.tenant
	}
	return k.id < o.id
}

type memRecord struct {
	created time.Time
	value   reflect.Value // pointer to a private copy
}

// NewMemoryStore returns an empty store for the struct type of prototype.
// Commits append their ledger entries to ledger (one from
// [NewMemoryLedger], or any other), which may be nil; give the Manager the
// same one as Options.Ledger.
func NewMemoryStore(prototype any, ledger Ledger) (*MemoryStore, error) {
	s, err := pii.SchemaOf(prototype)
	if err != nil {
		return nil, err
	}
	if s.ID == nil && s.Subject == nil {
		return nil, fmt.Errorf("retention: %s has neither an id nor a subject field to key records by", s.Name)
	}
	return &MemoryStore{schema: s, ledger: ledger, recs: map[memKey]memRecord{}}, nil
}

// Schema returns the stored type's schema.
func (ms *MemoryStore) Schema() *pii.Schema { return ms.schema }

// Put stores a copy of the record ptr points to, created at created,
// replacing the record with the same tenant and id.
func (ms *MemoryStore) Put(ptr any, created time.Time) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Type() != ms.schema.Type {
		return fmt.Errorf("retention: MemoryStore.Put: need *%s, got %T", ms.schema.Type, ptr)
	}
	key := memKey{ms.schema.TenantOf(ptr), ms.schema.RecordOf(ptr)}
	ms.dataMu.Lock()
	defer ms.dataMu.Unlock()
	ms.recs[key] = memRecord{created: created, value: deepCopy(rv)}
	return nil
}

// Get returns a copy of the record (tenant, id), or nil.
func (ms *MemoryStore) Get(tenant, id string) any {
	ms.dataMu.Lock()
	defer ms.dataMu.Unlock()
	r, ok := ms.recs[memKey{tenant, id}]
	if !ok {
		return nil
	}
	return deepCopy(r.value).Interface()
}

// Claim returns the next batch of records the query selects.
func (ms *MemoryStore) Claim(ctx context.Context, q Query) (Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !q.ReadOnly {
		ms.mu.Lock()
	}
	ms.dataMu.Lock()
	keys := make([]memKey, 0, len(ms.recs))
	for k := range ms.recs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b memKey) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	after, hasAfter := q.After.(memKey)
	var out []Record
	for _, k := range keys {
		if hasAfter && !after.less(k) {
			continue
		}
		r := ms.recs[k]
		if !ms.matches(q, k, r) {
			continue
		}
		out = append(out, Record{Tenant: k.tenant, Key: k.id, Pos: k, Created: r.created, Value: deepCopy(r.value).Interface()})
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	ms.dataMu.Unlock()
	return &memClaim{ms: ms, recs: out, readOnly: q.ReadOnly}, nil
}

func (ms *MemoryStore) matches(q Query, key memKey, r memRecord) bool {
	switch {
	case q.All:
		return true
	case q.Record != "":
		return key.tenant == q.Tenant && key.id == q.Record
	case q.Subject != "":
		return key.tenant == q.Tenant && ms.schema.SubjectOf(r.value.Interface()) == q.Subject
	}
	for _, c := range q.Clocks {
		t := r.created
		if c.Field != "" {
			t, _ = clockField(r.value.Elem(), c.Field)
		}
		if !t.IsZero() && !t.After(c.Before) {
			return true
		}
	}
	return false
}

type memClaim struct {
	ms       *MemoryStore
	recs     []Record
	readOnly bool
	done     bool
}

func (c *memClaim) Records() []Record { return c.recs }

func (c *memClaim) Commit(ctx context.Context, changes []Change, entries []Entry) error {
	if c.done {
		return fmt.Errorf("retention: claim already closed")
	}
	c.done = true
	if c.readOnly {
		return fmt.Errorf("retention: commit of a read-only claim")
	}
	defer c.ms.mu.Unlock()
	claimed := make(map[memKey]bool, len(c.recs))
	for _, r := range c.recs {
		claimed[memKey{r.Tenant, r.Key}] = true
	}
	for _, ch := range changes {
		if !claimed[memKey{ch.Tenant, ch.Key}] {
			return fmt.Errorf("retention: %s: a change names a record the claim did not select", c.ms.schema.Name)
		}
	}
	c.ms.dataMu.Lock()
	for _, ch := range changes {
		k := memKey{ch.Tenant, ch.Key}
		if ch.Delete {
			delete(c.ms.recs, k)
			continue
		}
		r, ok := c.ms.recs[k]
		if !ok {
			continue // deleted meanwhile: a change never resurrects a record
		}
		r.value = deepCopy(reflect.ValueOf(ch.Value))
		c.ms.recs[k] = r
	}
	c.ms.dataMu.Unlock()
	if c.ms.ledger != nil && len(entries) > 0 {
		return c.ms.ledger.Append(ctx, entries...)
	}
	return nil
}

func (c *memClaim) Rollback() error {
	if !c.done {
		c.done = true
		if !c.readOnly {
			c.ms.mu.Unlock()
		}
	}
	return nil
}

// NewMemoryLedger returns an empty in-memory [Ledger], for tests and
// examples: its entries die with the process.
func NewMemoryLedger() Ledger { return &memoryLedger{} }

type memoryLedger struct {
	mu      sync.Mutex
	entries []Entry
}

func (l *memoryLedger) Append(_ context.Context, entries ...Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, entries...)
	return nil
}

func (l *memoryLedger) Scan(_ context.Context, fn func(Entry) error) error {
	l.mu.Lock()
	es := slices.Clone(l.entries)
	l.mu.Unlock()
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// deepCopy copies v (pointers, structs, slices, maps) so that a claim's
// records share nothing with the store.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v) // copies unexported fields (time.Time) as they are
		for i := 0; i < v.NumField(); i++ {
			if out.Field(i).CanSet() {
				out.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(deepCopy(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			out.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return out
	}
	return v
}
