package envelope

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/format"
)

// Seal and Open over a slice of records: the keys of a batch of records
// are looked up, made and loaded with one KeyStore call each (LatestMany,
// InsertMany, GetMany) before the records are walked one by one, which
// then find their keys in the cache. What the batch could not settle (a
// scope forgotten meanwhile, a key at its limit, a stored key that does not
// unwrap) is left to the record's own lookup, which reports it exactly as
// a Seal or Open of that one record would.

// batchSize is the number of records whose keys one KeyStore call serves.
const batchSize = 1000

// sliceOf reports whether x is a slice of structs or of pointers to
// structs ([]T, []*T, or a pointer to either); ok is false for anything
// else, which Seal and Open take as one record.
func sliceOf(x any) (list reflect.Value, ptrs bool, sc *pii.Schema, ok bool, err error) {
	rv := reflect.ValueOf(x)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Slice {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Slice {
		return reflect.Value{}, false, nil, false, nil
	}
	st := rv.Type().Elem()
	if ptrs = st.Kind() == reflect.Pointer; ptrs {
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct {
		return reflect.Value{}, false, nil, true, fmt.Errorf("envelope: need a pointer to a struct, or a slice of structs or of pointers to structs, got %T", x)
	}
	sc, err = pii.SchemaOf(st)
	return rv, ptrs, sc, true, err
}

// many seals or opens every record of list, a batch at a time.
func (s *Sealer) many(ctx context.Context, list reflect.Value, ptrs bool, sc *pii.Schema, seal bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = withCall(ctx) // under a transaction, the whole call shares the keys it loads
	n := list.Len()
	batch := make([]any, 0, min(n, batchSize))
	for start := 0; start < n; start += batchSize {
		batch = batch[:0]
		for i := start; i < min(start+batchSize, n); i++ {
			ev := list.Index(i)
			if !ptrs {
				ev = ev.Addr()
			} else if ev.IsNil() {
				return fmt.Errorf("envelope: record %d of the slice is a nil pointer", i)
			}
			batch = append(batch, ev.Interface())
		}
		var err error
		if seal {
			err = s.prepareSeal(ctx, sc, batch)
		} else {
			err = s.prepareOpen(ctx, sc, batch)
		}
		if err != nil {
			return err
		}
		for _, p := range batch {
			if err := s.walk(ctx, p, seal); err != nil {
				return err
			}
		}
	}
	return nil
}

var errStopWalk = errors.New("envelope: stop")

// prepareSeal makes sure the current DEK of every data subject (or
// tenant, for types without a subject) of batch with a value to seal is
// cached: loaded, or made with one InsertMany for the batch.
func (s *Sealer) prepareSeal(ctx context.Context, sc *pii.Schema, batch []any) error {
	if s.opts.Inline || !slices.ContainsFunc(sc.Fields, func(f *pii.Field) bool { return f.Opts.Encrypt == pii.EncryptRandom }) {
		return nil
	}
	var scopes []scopeRef
	seen := map[scopeRef]bool{}
	sealed := false // a value that looks sealed: resealing opens it first
	for _, p := range batch {
		sr := scopeRef{sc.TenantOf(p), sc.SubjectOf(p)}
		if seen[sr] || (sc.Subject != nil && sr.subject == "") {
			continue // an empty subject is the record's own error (ErrEmptySubject)
		}
		err := sc.Walk(p, func(f *pii.Field, _ string, _, v reflect.Value) error {
			if f.Opts.Encrypt != pii.EncryptRandom {
				return nil
			}
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					return nil
				}
				v = v.Elem()
			}
			if v.Len() == 0 {
				return nil
			}
			if isBytes(v) {
				if _, err := format.Parse(v.Bytes()); err == nil {
					sealed = true // sealed already, most likely: sealField decides
					return nil
				}
			} else if _, ok := format.TextVersion(v.String()); ok {
				sealed = true
				return nil
			}
			return errStopWalk
		})
		if errors.Is(err, errStopWalk) {
			seen[sr] = true
			scopes = append(scopes, sr)
		}
	}
	if sealed {
		if err := s.prepareOpen(ctx, sc, batch); err != nil {
			return err
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	if !tx {
		s.createMu.Lock()
		defer s.createMu.Unlock()
	}
	now := s.clock()
	need := scopes[:0]
	for _, sr := range scopes {
		s.mu.RLock()
		shared := s.cur[sr]
		s.mu.RUnlock()
		if s.usable(shared, now) || (tx && s.usable(s.curDEK(kc, tx, sr), now)) {
			continue // encKey finds it
		}
		need = append(need, sr)
	}
	if len(need) == 0 {
		return nil
	}
	return s.encKeys(ctx, kc, need, now)
}

// curDEK returns the current DEK of sr that encKeySlow starts from: the
// call's under a transaction (if no ForgetSubject of the scope ran since
// it was kept), else the shared one.
func (s *Sealer) curDEK(kc *keyCache, tx bool, sr scopeRef) *dekEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := kc.cur[sr]
	if tx && e != nil && e.ep != s.forgetEpoch(sr) {
		return nil
	}
	return e
}

// encKeys caches a current DEK for each scope of need (distinct scopes,
// none with a usable cached DEK): one LatestMany reads their newest DEKs
// and watermarks, the live ones are unwrapped locally, and the DEKs of
// the others are made, wrapped locally and written with one InsertMany.
// A DEK an insert lost to another writer is the stored one. As in
// createDEK, the watermarks are read again after the insert, so no DEK a
// concurrent ForgetSubject shredded is used.
func (s *Sealer) encKeys(ctx context.Context, kc *keyCache, need []scopeRef, now int64) error {
	eps := make(map[scopeRef]uint64, len(need))
	asks := make([]ScopeRef, 0, 2*len(need))
	for _, sr := range need {
		eps[sr] = s.forgetEpoch(sr) // before the store is read, as in encKeySlow
		scope := scopeName(sr.subject)
		asks = append(asks, ScopeRef{KindDEK, sr.tenant, scope})
		if sr.subject != "" {
			asks = append(asks, ScopeRef{KindTombstone, sr.tenant, scope})
		}
	}
	latest, err := s.latestMany(ctx, asks)
	if err != nil {
		return err
	}
	type pending struct {
		sr  scopeRef
		rec Record
		raw []byte
	}
	var creates []pending
	defer func() {
		for _, c := range creates {
			clear(c.raw) // a no-op for keys an entry took
		}
	}()
	for _, sr := range need {
		scope := scopeName(sr.subject)
		rec, found := latest[ScopeRef{KindDEK, sr.tenant, scope}]
		wm := latest[ScopeRef{KindTombstone, sr.tenant, scope}].ID
		e := s.curDEK(kc, kc != &s.keyCache, sr)
		next, err := s.planDEK(sr, rec, found, wm, e)
		switch {
		case errors.Is(err, ErrShredded), errors.Is(err, ErrLimit):
			continue // the record's own lookup reports it
		case err != nil:
			return err
		case next == 0:
			ne, err := s.loadDEK(ctx, rec.KeyRef, rec, sr.subject, false)
			if err != nil {
				return err
			}
			if e != nil && e.ref.id == rec.ID {
				carryCounts(ne, e)
			}
			s.installDEK(kc, ne, true, eps[sr])
		default:
			creates = append(creates, pending{sr: sr, rec: Record{KeyRef: KeyRef{KindDEK, sr.tenant, scope, next}}})
		}
	}
	if len(creates) == 0 {
		return nil
	}
	// One order for every writer, so two transactions inserting
	// overlapping batches take their row locks in the same order.
	slices.SortFunc(creates, func(a, b pending) int { return compareRef(a.rec.KeyRef, b.rec.KeyRef) })
	recs := make([]Record, len(creates))
	for i := range creates {
		c := &creates[i]
		br, err := s.currentBranch(ctx, c.sr.tenant)
		if err != nil {
			return err
		}
		c.rec, c.raw = s.wrapDEK(br, c.rec.KeyRef)
		recs[i] = c.rec
	}
	stored, inserted, err := s.store.InsertMany(ctx, recs)
	if err != nil {
		return fmt.Errorf("envelope: key store: %w", err)
	}
	if len(stored) != len(recs) || len(inserted) != len(recs) {
		return errWrongRecord
	}
	entries := make([]*dekEntry, len(creates))
	defer func() {
		for _, ne := range entries {
			if ne != nil {
				ne.key.wipe() // not installed
			}
		}
	}()
	var tombs []ScopeRef
	for i, c := range creates {
		raw := c.raw
		creates[i].raw = nil // storedDEK keeps or clears it
		ne, err := s.storedDEK(ctx, c.sr, c.rec, raw, stored[i], inserted[i], now)
		if err != nil {
			return err
		}
		entries[i] = ne
		if c.sr.subject != "" {
			tombs = append(tombs, ScopeRef{KindTombstone, c.sr.tenant, c.rec.Scope})
		}
	}
	wms := map[ScopeRef]Record{}
	if len(tombs) > 0 {
		if wms, err = s.latestMany(ctx, tombs); err != nil {
			return err
		}
	}
	for i, c := range creates {
		ne := entries[i]
		if c.sr.subject != "" && shreddedSince(ne, wms[ScopeRef{KindTombstone, c.sr.tenant, c.rec.Scope}].ID) != nil {
			entries[i] = nil // wiped: the record's own lookup looks again
			continue
		}
		if s.installDEK(kc, ne, true, eps[c.sr]) {
			entries[i] = nil
		}
	}
	return nil
}

// latestMany asks the store for the newest record of each scope of asks
// (distinct) and checks every row it returns against them: of a scope
// asked, once, with an id of at least 1 (DEKs, branch keys) or 0
// (tombstones).
func (s *Sealer) latestMany(ctx context.Context, asks []ScopeRef) (map[ScopeRef]Record, error) {
	rows, err := s.store.LatestMany(ctx, asks)
	if err != nil {
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	asked := make(map[ScopeRef]bool, len(asks))
	for _, a := range asks {
		asked[a] = true
	}
	out := make(map[ScopeRef]Record, len(rows))
	for _, r := range rows {
		sc := scopeOf(r.KeyRef)
		minID := uint32(1)
		if sc.Kind == KindTombstone {
			minID = 0
		}
		if _, dup := out[sc]; dup || !asked[sc] || checkLatest(r, sc.Kind, sc.Tenant, sc.Scope, minID) != nil {
			return nil, errWrongRecord
		}
		out[sc] = r
	}
	return out, nil
}

// prepareOpen loads, with one GetMany for the batch, the DEKs that the
// v1 values of batch name and the cache does not hold, and unwraps them
// locally (their branch keys are few, and cached).
func (s *Sealer) prepareOpen(ctx context.Context, sc *pii.Schema, batch []any) error {
	if s.store == nil {
		return nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	now := s.clock()
	var refs []dekRef
	seen := map[dekRef]bool{}
	for _, p := range batch {
		tenant, subject := sc.TenantOf(p), sc.SubjectOf(p)
		_ = sc.Walk(p, func(f *pii.Field, _ string, _, v reflect.Value) error {
			if f.Opts.Encrypt != pii.EncryptRandom {
				return nil
			}
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					return nil
				}
				v = v.Elem()
			}
			var id uint32
			var ok bool
			if isBytes(v) {
				id, ok = format.DEKIDOf(v.Bytes(), false)
			} else {
				id, ok = format.DEKIDOf(v.String(), true)
			}
			ref := dekRef{tenant, subject, id}
			if ok && !seen[ref] {
				seen[ref] = true
				if !s.haveDEK(kc, tx, ref, now) {
					refs = append(refs, ref)
				}
			}
			return nil
		})
	}
	if len(refs) == 0 {
		return nil
	}
	return s.decKeys(ctx, kc, refs)
}

// haveDEK reports whether a fresh entry for ref is cached: in the shared
// cache, or, under a transaction, in the call's (if no ForgetSubject of
// its scope ran since it was kept).
func (s *Sealer) haveDEK(kc *keyCache, tx bool, ref dekRef, now int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.deks.get(ref); e != nil && s.fresh(e.loaded, now) {
		return true
	}
	e := kc.deks.get(ref)
	return tx && e != nil && e.ep == s.forgetEpoch(scopeRef{ref.tenant, ref.subject}) && s.fresh(e.loaded, now)
}

// decKeys reads the DEKs refs name (distinct) with one GetMany, checks
// every row against the request, unwraps them and caches them. A DEK that
// is missing or does not unwrap is left to the value's own lookup.
func (s *Sealer) decKeys(ctx context.Context, kc *keyCache, refs []dekRef) error {
	wants := make(map[KeyRef]dekRef, len(refs))
	asks := make([]KeyRef, len(refs))
	eps := make(map[dekRef]uint64, len(refs))
	for i, r := range refs {
		eps[r] = s.forgetEpoch(scopeRef{r.tenant, r.subject}) // before the store is read
		asks[i] = KeyRef{Kind: KindDEK, Tenant: r.tenant, Scope: scopeName(r.subject), ID: r.id}
		wants[asks[i]] = r
	}
	rows, err := s.store.GetMany(ctx, asks)
	if err != nil {
		return fmt.Errorf("envelope: key store: %w", err)
	}
	got := make(map[KeyRef]bool, len(rows))
	for _, rec := range rows {
		if _, ok := wants[rec.KeyRef]; !ok || got[rec.KeyRef] {
			return errWrongRecord
		}
		got[rec.KeyRef] = true
	}
	tx := kc != &s.keyCache
	for _, rec := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		ref := wants[rec.KeyRef]
		ne, err := s.loadDEK(ctx, rec.KeyRef, rec, ref.subject, true)
		if err != nil {
			continue // the value's own lookup reports it (or serves a stale key during an outage)
		}
		sr := scopeRef{ref.tenant, ref.subject}
		s.mu.RLock()
		e := s.deks.get(ref)
		cur := e != nil && s.cur[sr] == e && !tx
		s.mu.RUnlock()
		if e != nil {
			carryCounts(ne, e)
		}
		s.installDEK(kc, ne, cur, eps[ref])
	}
	return nil
}
