package retention

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Hold is a legal hold: while active it stops every destructive action on
// what it covers, in sweeps and erasure requests alike. It holds only keyed
// hashes; its reason must not contain personal data.
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

// Holds stores legal holds. sqlstore.Holds keeps them in a table so that
// sweepers in other processes see them.
type Holds interface {
	Put(ctx context.Context, h Hold) error
	// Delete removes the hold with the id; removing an absent hold is not an error.
	Delete(ctx context.Context, id string) error
	// Active returns the holds in force at now.
	Active(ctx context.Context, now time.Time) ([]Hold, error)
}

// Target is what a hold covers: a subject or one record.
type Target struct {
	subject   string
	typ, id   string
	forRecord bool
}

// Subject targets every record of a data subject.
func Subject(id string) Target { return Target{subject: id} }

// RecordTarget targets one record of the type named typ ([pii.Schema.Name]).
func RecordTarget(typ, id string) Target { return Target{typ: typ, id: id, forRecord: true} }

// Hold places a legal hold on t until the given time (zero: until released).
func (m *Manager) Hold(ctx context.Context, t Target, reason string, until time.Time) (Hold, error) {
	if t.subject == "" && t.id == "" {
		return Hold{}, errors.New("retention: Hold: empty target")
	}
	h := Hold{Reason: reason, Until: until, Created: m.clock.Now()}
	if t.forRecord {
		h.Type, h.Record = t.typ, m.RecordHash(t.typ, t.id)
		h.ID = h.Record
	} else {
		h.Subject = m.SubjectHash(t.subject)
		h.ID = h.Subject
	}
	return h, m.holds.Put(ctx, h)
}

// Release lifts the hold on t and applies at once what became due while it
// held: the records it covered are swept. A Forget refused because of the
// hold must be asked again.
func (m *Manager) Release(ctx context.Context, t Target) (Stats, error) {
	id := m.SubjectHash(t.subject)
	if t.forRecord {
		id = m.RecordHash(t.typ, t.id)
	}
	if err := m.holds.Delete(ctx, id); err != nil {
		return Stats{}, err
	}
	sw := NewSweeper(m, nil)
	if t.forRecord {
		return sw.run(ctx, func(st Store) (Query, bool) {
			return Query{Record: t.id}, st.Schema().Name == t.typ
		})
	}
	return sw.run(ctx, func(st Store) (Query, bool) {
		return Query{Subject: t.subject}, st.Schema().Subject != nil
	})
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

// held returns the hold covering the record, if any.
func (m *Manager) held(set holdSet, typ, key, subject string) (Hold, bool) {
	if len(set) == 0 {
		return Hold{}, false
	}
	if h, ok := set[m.RecordHash(typ, key)]; ok {
		return h, true
	}
	if subject != "" {
		if h, ok := set[m.SubjectHash(subject)]; ok {
			return h, true
		}
	}
	return Hold{}, false
}

// MemoryHolds keeps holds in memory, for tests and single-process use.
type MemoryHolds struct {
	mu    sync.Mutex
	holds map[string]Hold
}

// NewMemoryHolds returns an empty in-memory hold store.
func NewMemoryHolds() *MemoryHolds { return &MemoryHolds{holds: map[string]Hold{}} }

func (h *MemoryHolds) Put(_ context.Context, x Hold) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holds[x.ID] = x
	return nil
}

func (h *MemoryHolds) Delete(_ context.Context, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.holds, id)
	return nil
}

func (h *MemoryHolds) Active(_ context.Context, now time.Time) ([]Hold, error) {
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
