package retention

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"
)

// Hold is a legal hold: while active it stops every destructive action on
// what it covers, in sweeps and erasure requests alike, and keeps the
// subject's keys from being shredded. It holds only keyed hashes (which
// cover the tenant); its reason must not contain personal data.
type Hold struct {
	// ID is the keyed hash of what the hold covers; placing a second hold
	// on the same target replaces the first.
	ID string
	// Subject is the subject's keyed hash, for a subject hold.
	Subject string
	// Type and Record are the schema name and the record's keyed hash, for
	// a record hold.
	Type, Record string
	Reason       string
	// Until is when the hold lapses by itself; zero means until released.
	Until   time.Time
	Created time.Time
}

// Holds stores legal holds. sqlstore.NewHolds keeps them in a table so that
// sweepers in other processes see them.
type Holds interface {
	Put(ctx context.Context, h Hold) error
	// Delete removes the hold with the id; removing an absent hold is not an error.
	Delete(ctx context.Context, id string) error
	// Active returns the holds in force at now.
	Active(ctx context.Context, now time.Time) ([]Hold, error)
}

// Target is what a hold covers: a data subject or one record, each within
// a tenant.
type Target struct {
	tenant    string
	subject   string
	typ, id   string
	forRecord bool
}

// Subject targets every record of the data subject (tenant, id), in every
// registered type. Types without a pii:"tenant" field belong to the tenant "".
func Subject(tenant, id string) Target { return Target{tenant: tenant, subject: id} }

// RecordTarget targets the record (tenant, id) of the type named typ
// ([pii.Schema.Name]).
func RecordTarget(tenant, typ, id string) Target {
	return Target{tenant: tenant, typ: typ, id: id, forRecord: true}
}

// Hold places a legal hold on t until the given time (zero: until released).
// Sweeps and erasure requests read the holds again for every batch, so a
// hold placed while one runs is honoured from its next batch.
func (m *Manager) Hold(ctx context.Context, t Target, reason string, until time.Time) (Hold, error) {
	if (t.forRecord && (t.id == "" || t.typ == "")) || (!t.forRecord && t.subject == "") {
		return Hold{}, errors.New("retention: Hold: empty target")
	}
	h := Hold{ID: m.Hash(t), Reason: reason, Until: until, Created: m.clock.Now()}
	if t.forRecord {
		h.Type, h.Record = t.typ, h.ID
	} else {
		h.Subject = h.ID
	}
	return h, m.holds.Put(ctx, h)
}

// Release lifts the hold on t and applies at once what became due while it
// held: pending key shreds are completed where nothing must be kept any
// longer (an erasure request that the hold kept waiting finishes without
// being asked again), then the records the hold covered are swept.
func (m *Manager) Release(ctx context.Context, t Target) (p Progress, err error) {
	ctx, span := m.tel.span(ctx, "release")
	defer func() { endSweep(span, p, err) }()
	if err := m.holds.Delete(ctx, m.Hash(t)); err != nil {
		return Progress{}, err
	}
	sw := newSweeper(m, nil)
	var pend Progress
	done := shredSet{}
	if err := sw.settlePending(ctx, &pend, done); err != nil {
		return pend, err
	}
	var st Progress
	if t.forRecord {
		st, err = sw.run(ctx, done, func(s Store) (Query, bool) {
			return Query{Tenant: t.tenant, Record: t.id}, s.Schema().Name == t.typ
		})
	} else {
		st, err = sw.run(ctx, done, func(s Store) (Query, bool) {
			return Query{Tenant: t.tenant, Subject: t.subject}, s.Schema().Subject != nil
		})
	}
	st.Applied += pend.Applied
	st.KeysShredded += pend.KeysShredded
	return st, err
}

// holdSet answers whether a record is held.
type holdSet map[string]Hold

func (m *Manager) activeHolds(ctx context.Context, now time.Time) (holdSet, error) {
	hs, err := m.holds.Active(ctx, now)
	if err != nil {
		return nil, err
	}
	set := holdSet{}
	for _, h := range hs {
		set[h.ID] = h
	}
	return set, nil
}

// held returns the hold covering the record (tenant, key) of type typ,
// whose subject is subject, if any.
func (m *Manager) held(set holdSet, tenant, typ, key, subject string) (Hold, bool) {
	if len(set) == 0 {
		return Hold{}, false
	}
	if h, ok := set[m.recordHash(tenant, typ, key)]; ok {
		return h, true
	}
	if subject != "" {
		if h, ok := set[m.subjectHash(tenant, subject)]; ok {
			return h, true
		}
	}
	return Hold{}, false
}

// NewMemoryHolds returns an empty in-memory hold store, for tests and
// single-process use: holds die with the process. It also keeps the
// pending key shreds (the value implements [PendingShreds]).
func NewMemoryHolds() Holds {
	return &memoryHolds{holds: map[string]Hold{}, pending: map[string]PendingShred{}}
}

type memoryHolds struct {
	mu      sync.Mutex
	holds   map[string]Hold
	pending map[string]PendingShred
}

var _ PendingShreds = (*memoryHolds)(nil)

func (h *memoryHolds) Put(_ context.Context, x Hold) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holds[x.ID] = x
	return nil
}

func (h *memoryHolds) Delete(_ context.Context, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.holds, id)
	return nil
}

func (h *memoryHolds) Active(_ context.Context, now time.Time) ([]Hold, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Hold
	for _, x := range h.holds {
		if x.Until.IsZero() || now.Before(x.Until) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (h *memoryHolds) PutPending(_ context.Context, p PendingShred) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.pending[p.ID]; ok && old.Kind >= p.Kind {
		return nil
	}
	p.Sealed = slices.Clone(p.Sealed)
	h.pending[p.ID] = p
	return nil
}

func (h *memoryHolds) DeletePending(_ context.Context, id string, kind int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.pending[id]; ok && old.Kind <= kind {
		delete(h.pending, id)
	}
	return nil
}

func (h *memoryHolds) Pending(_ context.Context, after string, limit int) ([]PendingShred, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []PendingShred
	for id, p := range h.pending {
		if id > after {
			p.Sealed = slices.Clone(p.Sealed)
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
