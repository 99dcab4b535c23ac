package keystoretest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/fieldguard/pii/envelope"
)

// flaws break a reference store one way each.
type flaws struct {
	forgetIgnoresTenant   bool // Forget deletes the scope's DEKs in every tenant
	forgetDeletesAllKinds bool // Forget deletes every kind in the scope
	forgetNotAtomic       bool // Forget reads the watermark, then deletes, then writes it
	forgetCountWatermark  bool // the tombstone's ID is the number of DEKs deleted
	forgetDropsHistory    bool // Forget replaces the scope's tombstones by one
	latestLower           bool // Latest returns the lowest ID
	latestAnyScope        bool // Latest ignores the scope
	replaceNoCompare      bool // Replace does not compare Wrapped
	replaceCreates        bool // Replace of a missing record creates it
	getIgnoresTenant      bool // Get matches kind, scope and id only
	joinedKeys            bool // records are keyed by tenant+":"+scope, so names collide
	insertOverwrites      bool // Insert replaces an existing record
	insertReturnsArg      bool // Insert returns the caller's record, not the stored one
	insertNotAtomic       bool // Insert checks, then writes, without holding the lock
	dropsKEK              bool // Insert does not keep KEK
	createdSeconds        bool // Created kept to the second
	aliases               bool // keeps and returns the caller's slices
	ignoresCtx            bool // never checks the context
	listIgnoresAfter      bool // List starts at the beginning every time
	listUnsorted          bool // List returns records in map order
	missingNoError        bool // Get and Latest return a zero Record, not ErrNotFound
	getManyRepeats        bool // GetMany returns a record once per time it is asked
	getManyAnyTenant      bool // GetMany matches kind, scope and id in every tenant
	latestManyLower       bool // LatestMany returns the lowest ID of each scope
	latestManyAnyTenant   bool // LatestMany matches kind and scope in every tenant
	insertManyMisaligned  bool // InsertMany returns its results in another order
	insertManyReportsAll  bool // InsertMany reports every record inserted
	insertManyOverwrites  bool // InsertMany replaces existing records
	insertManyNotAtomic   bool // InsertMany checks every record, then writes them, without holding the lock
	reserveNotAtomic      bool // Reserve reads Used, then writes Used+n, without holding the lock
	reserveNoLimit        bool // Reserve never refuses
	reserveIgnoresTenant  bool // Reserve counts against the first DEK of that scope and id in any tenant
	reserveMissingIsLimit bool // Reserve of a missing DEK is ErrLimit
	insertDropsUsed       bool // Insert stores Used 0
	replaceResetsUsed     bool // Replace takes Used from the caller's record
}

// refStore is a correct in-memory KeyStore, unless its flaws say
// otherwise. It is written apart from envelope.NewMemoryStore so that the
// suite is tested against something it was not written around.
type refStore struct {
	f    flaws
	mu   sync.Mutex
	recs map[envelope.KeyRef]envelope.Record

	// The racy flaws hold their window open until another call comes in
	// (or a while passes), so the suite's races find them under any load.
	checked  int           // insertNotAtomic, insertManyNotAtomic: callers past the check
	inserted chan struct{} // forgetNotAtomic: closed by the next Insert
	reading  int           // reserveNotAtomic: callers past the read
}

// window waits until ready is closed or a short while passes.
func window(ready <-chan struct{}) {
	select {
	case <-ready:
	case <-time.After(50 * time.Millisecond):
	}
}

func newRef(f flaws) *refStore { return &refStore{f: f, recs: map[envelope.KeyRef]envelope.Record{}} }

var _ envelope.KeyStore = (*refStore)(nil)

func (s *refStore) key(r envelope.KeyRef) envelope.KeyRef {
	if s.f.joinedKeys {
		return envelope.KeyRef{Kind: r.Kind, Tenant: r.Tenant + ":" + r.Scope, ID: r.ID}
	}
	return r
}

func (s *refStore) out(r envelope.Record) envelope.Record {
	if !s.f.aliases {
		r.Wrapped = bytes.Clone(r.Wrapped)
	}
	return r
}

func (s *refStore) notFound() error {
	if s.f.missingNoError {
		return nil
	}
	return envelope.ErrNotFound
}

func (s *refStore) ctxErr(ctx context.Context) error {
	if s.f.ignoresCtx {
		return nil
	}
	return ctx.Err()
}

func (s *refStore) Get(ctx context.Context, r envelope.KeyRef) (envelope.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return envelope.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.getIgnoresTenant {
		for k, v := range s.recs {
			if k.Kind == r.Kind && v.Scope == r.Scope && k.ID == r.ID {
				return s.out(v), nil
			}
		}
		return envelope.Record{}, envelope.ErrNotFound
	}
	v, ok := s.recs[s.key(r)]
	if !ok {
		return envelope.Record{}, s.notFound()
	}
	return s.out(v), nil
}

func (s *refStore) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return envelope.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var best envelope.Record
	found := false
	for _, v := range s.recs {
		if v.Kind != kind || v.Tenant != tenant || (v.Scope != scope && !s.f.latestAnyScope) {
			continue
		}
		better := v.ID > best.ID
		if s.f.latestLower {
			better = v.ID < best.ID
		}
		if !found || better {
			best, found = v, true
		}
	}
	if !found {
		return envelope.Record{}, s.notFound()
	}
	return s.out(best), nil
}

func (s *refStore) Insert(ctx context.Context, r envelope.Record) (envelope.Record, bool, error) {
	if err := s.ctxErr(ctx); err != nil {
		return envelope.Record{}, false, err
	}
	in := r
	if !s.f.aliases {
		r.Wrapped = bytes.Clone(r.Wrapped)
	}
	if s.f.dropsKEK {
		r.KEK = ""
	}
	r.Created = r.Created.Truncate(time.Microsecond)
	if s.f.insertDropsUsed {
		r.Used = 0
	}
	if s.f.createdSeconds {
		r.Created = r.Created.Truncate(time.Second)
	}
	if s.f.insertNotAtomic {
		s.mu.Lock()
		_, ok := s.recs[s.key(r.KeyRef)]
		s.checked++
		s.mu.Unlock()
		// Wait for a second caller to pass the check too.
		for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
			s.mu.Lock()
			n := s.checked
			s.mu.Unlock()
			if n >= 2 {
				break
			}
		}
		if ok {
			got, err := s.Get(ctx, r.KeyRef)
			return got, false, err
		}
		s.mu.Lock()
		s.recs[s.key(r.KeyRef)] = r
		s.mu.Unlock()
		return s.out(r), true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inserted != nil {
		defer func() { close(s.inserted); s.inserted = nil }()
	}
	if old, ok := s.recs[s.key(r.KeyRef)]; ok && !s.f.insertOverwrites {
		if s.f.insertReturnsArg {
			return in, false, nil
		}
		return s.out(old), false, nil
	}
	s.recs[s.key(r.KeyRef)] = r
	return s.out(r), true, nil
}

func (s *refStore) Replace(ctx context.Context, old, r envelope.Record) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	if old.KeyRef != r.KeyRef {
		return envelope.ErrConflict
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[s.key(old.KeyRef)]
	if !ok && !s.f.replaceCreates {
		return envelope.ErrConflict
	}
	if ok && !s.f.replaceNoCompare && !bytes.Equal(cur.Wrapped, old.Wrapped) {
		return envelope.ErrConflict
	}
	if !s.f.aliases {
		r.Wrapped = bytes.Clone(r.Wrapped)
	}
	if ok {
		r.Created = cur.Created
		if !s.f.replaceResetsUsed {
			r.Used = cur.Used
		}
	}
	s.recs[s.key(r.KeyRef)] = r
	return nil
}

func (s *refStore) Reserve(ctx context.Context, r envelope.KeyRef, n, limit uint64) (uint64, error) {
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	find := func() (envelope.KeyRef, envelope.Record, bool) {
		if s.f.reserveIgnoresTenant {
			for k, v := range s.recs {
				if k.Kind == r.Kind && v.Scope == r.Scope && k.ID == r.ID {
					return k, v, true
				}
			}
			return envelope.KeyRef{}, envelope.Record{}, false
		}
		v, ok := s.recs[s.key(r)]
		return s.key(r), v, ok
	}
	s.mu.Lock()
	k, v, ok := find()
	if s.f.reserveNotAtomic {
		s.reading++
		s.mu.Unlock()
		// Hold the window between the read and the write open until a
		// second caller has read too.
		for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
			s.mu.Lock()
			m := s.reading
			s.mu.Unlock()
			if m >= 2 {
				break
			}
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if !ok || r.Kind != envelope.KindDEK {
		if s.f.reserveMissingIsLimit {
			return 0, envelope.ErrLimit
		}
		return 0, envelope.ErrNotFound
	}
	if !s.f.reserveNoLimit && (v.Used > limit || n > limit-v.Used) {
		return 0, envelope.ErrLimit
	}
	v.Used += n
	s.recs[k] = v
	return v.Used, nil
}

func (s *refStore) Forget(ctx context.Context, tenant, scope string) (int, error) {
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	match := func(v envelope.Record) bool {
		return (v.Kind == envelope.KindDEK || s.f.forgetDeletesAllKinds && v.Kind != envelope.KindTombstone) &&
			(v.Tenant == tenant || s.f.forgetIgnoresTenant) && v.Scope == scope
	}
	var wm uint32
	if s.f.forgetNotAtomic {
		s.mu.Lock()
		for _, v := range s.recs {
			if match(v) {
				wm = max(wm, v.ID)
			}
		}
		ready := make(chan struct{})
		s.inserted = ready
		s.mu.Unlock()
		window(ready) // until an Insert lands between the read and the delete
		s.mu.Lock()
		if s.inserted == ready {
			s.inserted = nil
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	var deleted uint32
	for k, v := range s.recs {
		if match(v) {
			delete(s.recs, k)
			n++
			deleted = max(deleted, v.ID)
		}
	}
	if !s.f.forgetNotAtomic {
		wm = deleted
	}
	if s.f.forgetCountWatermark {
		wm = uint32(n)
	}
	if s.f.forgetDropsHistory {
		for k, v := range s.recs {
			if v.Kind == envelope.KindTombstone && v.Tenant == tenant && v.Scope == scope {
				delete(s.recs, k)
			}
		}
	}
	t := envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: tenant, Scope: scope, ID: wm}
	if _, ok := s.recs[s.key(t)]; !ok {
		s.recs[s.key(t)] = envelope.Record{KeyRef: t, Wrapped: []byte{}, Created: time.Now().Truncate(time.Microsecond)}
	}
	return n, nil
}

func (s *refStore) List(ctx context.Context, kind envelope.Kind, after envelope.KeyRef, limit int) ([]envelope.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	order := func(a, b envelope.KeyRef) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.ID, b.ID))
	}
	all := after == (envelope.KeyRef{}) || after.Kind != kind || s.f.listIgnoresAfter
	s.mu.Lock()
	var out []envelope.Record
	for _, v := range s.recs {
		if v.Kind == kind && (all || order(v.KeyRef, after) > 0) {
			out = append(out, s.out(v))
		}
	}
	s.mu.Unlock()
	if !s.f.listUnsorted {
		slices.SortFunc(out, func(a, b envelope.Record) int { return order(a.KeyRef, b.KeyRef) })
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *refStore) GetMany(ctx context.Context, refs []envelope.KeyRef) ([]envelope.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	var out []envelope.Record
	seen := map[envelope.KeyRef]bool{}
	for _, r := range refs {
		if seen[r] && !s.f.getManyRepeats {
			continue
		}
		seen[r] = true
		if s.f.getManyAnyTenant {
			s.mu.Lock()
			for _, v := range s.recs {
				if v.Kind == r.Kind && v.Scope == r.Scope && v.ID == r.ID {
					out = append(out, s.out(v))
				}
			}
			s.mu.Unlock()
			continue
		}
		v, err := s.Get(ctx, r)
		if errors.Is(err, envelope.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *refStore) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	var out []envelope.Record
	seen := map[envelope.ScopeRef]bool{}
	for _, sc := range scopes {
		if seen[sc] {
			continue
		}
		seen[sc] = true
		if s.f.latestManyLower || s.f.latestManyAnyTenant {
			s.mu.Lock()
			var best envelope.Record
			found := false
			for _, v := range s.recs {
				if v.Kind != sc.Kind || v.Scope != sc.Scope || (v.Tenant != sc.Tenant && !s.f.latestManyAnyTenant) {
					continue
				}
				better := v.ID > best.ID
				if s.f.latestManyLower {
					better = v.ID < best.ID
				}
				if !found || better {
					best, found = v, true
				}
			}
			s.mu.Unlock()
			if found {
				out = append(out, s.out(best))
			}
			continue
		}
		v, err := s.Latest(ctx, sc.Kind, sc.Tenant, sc.Scope)
		if errors.Is(err, envelope.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *refStore) InsertMany(ctx context.Context, recs []envelope.Record) ([]envelope.Record, []bool, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, nil, err
	}
	stored := make([]envelope.Record, len(recs))
	inserted := make([]bool, len(recs))
	switch {
	case s.f.insertManyNotAtomic:
		s.mu.Lock()
		exists := make([]bool, len(recs))
		for i, r := range recs {
			_, exists[i] = s.recs[s.key(r.KeyRef)]
		}
		s.checked++
		s.mu.Unlock()
		// Wait for a second caller to pass the check too.
		for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
			s.mu.Lock()
			n := s.checked
			s.mu.Unlock()
			if n >= 2 {
				break
			}
		}
		s.mu.Lock()
		for i, r := range recs {
			r.Wrapped = bytes.Clone(r.Wrapped)
			r.Created = r.Created.Truncate(time.Microsecond)
			if !exists[i] {
				s.recs[s.key(r.KeyRef)] = r
			}
			stored[i], inserted[i] = s.out(s.recs[s.key(r.KeyRef)]), !exists[i]
		}
		s.mu.Unlock()
		return stored, inserted, nil
	case s.f.insertManyOverwrites:
		s.mu.Lock()
		for i, r := range recs {
			r.Wrapped = bytes.Clone(r.Wrapped)
			r.Created = r.Created.Truncate(time.Microsecond)
			s.recs[s.key(r.KeyRef)] = r
			stored[i], inserted[i] = s.out(r), true
		}
		s.mu.Unlock()
		return stored, inserted, nil
	}
	for i, r := range recs {
		var err error
		if stored[i], inserted[i], err = s.Insert(ctx, r); err != nil {
			return nil, nil, err
		}
		inserted[i] = inserted[i] || s.f.insertManyReportsAll
	}
	if s.f.insertManyMisaligned {
		slices.Reverse(stored)
		slices.Reverse(inserted)
	}
	return stored, inserted, nil
}
