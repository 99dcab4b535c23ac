package envelope

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fieldguard/pii/internal/searchkeys"
)

// Rotation of a tenant's search root key, the key blind indexes and
// deterministic values are derived from. Unlike a DEK, whose ciphertexts
// name it, a blind index is only ever compared: a lookup must compute it
// under the very key the stored row used. So versions move through steps
// that every process sees before the next one is taken:
//
//	added     lookups compute under it too; nothing is written under it
//	promoted  Seal writes under it; lookups still compute under the old ones
//	(re-index: every row is rewritten under it, by guard's RotateSearchKeys)
//	retired   the old versions: lookups stop computing them
//
// A step may be taken once every process has seen the previous one: a
// process refreshes the versions it knows at most Cache.MaxAge after it
// last read them, so promotion waits MaxAge after the add (until then a
// process may not yet look up under the new version), and re-indexing
// and retirement wait MaxAge after the promotion (until then a process
// may still write under the old one). No lookup misses a row at any
// point: every row is written under a version every process looks up.

// kindSearchState records a step of a search key rotation: Scope
// "promoted" or "retired", ID the version, Wrapped empty. The highest
// promoted ID is the version writes use (1 when none), the highest
// retired ID the newest retired one (every version at or below it is
// retired).
const kindSearchState Kind = "search-state"

const (
	scopePromoted = "promoted"
	scopeRetired  = "retired"
)

// The steps are guard's (Guard.RotateSearchKeys), through
// internal/searchkeys: not public API, since a step taken too early makes
// lookups miss rows.
func init() {
	searchkeys.Of = func(s any) searchkeys.Steps { return (*searchSteps)(s.(*Sealer)) }
}

// searchSteps is a Sealer's searchkeys.Steps.
type searchSteps Sealer

func (x *searchSteps) State(ctx context.Context, tenant string) (searchkeys.State, error) {
	return (*Sealer)(x).searchKeys(ctx, tenant)
}

func (x *searchSteps) Add(ctx context.Context, tenant string) (uint32, error) {
	return (*Sealer)(x).addSearchKey(ctx, tenant)
}

func (x *searchSteps) Promote(ctx context.Context, tenant string, version uint32) error {
	return (*Sealer)(x).promoteSearchKey(ctx, tenant, version)
}

func (x *searchSteps) Retire(ctx context.Context, tenant string) error {
	return (*Sealer)(x).retireSearchKeys(ctx, tenant)
}

func (x *searchSteps) Tenants(ctx context.Context, after string, limit int) ([]string, error) {
	return (*Sealer)(x).searchTenants(ctx, after, limit)
}

// searchVersions is what a process knows of a tenant's search key
// versions.
type searchVersions struct {
	write   uint32   // Seal writes under it
	active  []uint32 // lookups compute under them, newest first
	pending uint32   // added, not yet promoted (0: none)
	newest  uint32   // 0 when the tenant has no search key yet
	// stepped is when the last add or promotion was recorded (zero when
	// the tenant never rotated).
	added, promoted time.Time
	loaded          int64
}

// searchVersions returns the tenant's live versions, read from the key
// store at most Cache.MaxAge ago.
func (s *Sealer) searchVersions(ctx context.Context, tenant string) (*searchVersions, error) {
	if s.store == nil {
		return nil, unsupported("encrypt=det and index", "need Options.Store (inline mode without a KeyStore)")
	}
	now := s.clock()
	s.mu.RLock()
	sv := s.searchVer[tenant]
	s.mu.RUnlock()
	if sv != nil && s.fresh(sv.loaded, now) {
		return sv, nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	if tx {
		s.mu.RLock()
		cv := kc.searchVer[tenant]
		s.mu.RUnlock()
		if cv != nil && s.fresh(cv.loaded, now) {
			return cv, nil
		}
	}
	nv, err := s.readSearchVersions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	nv.loaded = now
	s.mu.Lock()
	trimMap(kc.searchVer, s.opts.Cache.MaxEntries, func(*searchVersions) {})
	kc.searchVer[tenant] = nv
	s.mu.Unlock()
	return nv, nil
}

// latestID returns the highest ID of (kind, tenant, scope) and its record,
// or 0 when there is none.
func (s *Sealer) latestID(ctx context.Context, kind Kind, tenant, scope string) (uint32, Record, error) {
	rec, err := s.store.Latest(ctx, kind, tenant, scope)
	if errors.Is(err, ErrNotFound) {
		return 0, Record{}, nil
	}
	if err != nil {
		return 0, Record{}, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkLatest(rec, kind, tenant, scope, 1); err != nil {
		return 0, Record{}, err
	}
	return rec.ID, rec, nil
}

// readSearchVersions reads the tenant's versions from the key store.
func (s *Sealer) readSearchVersions(ctx context.Context, tenant string) (*searchVersions, error) {
	n, nrec, err := s.latestID(ctx, KindSearch, tenant, "")
	if err != nil {
		return nil, err
	}
	p, prec, err := s.latestID(ctx, kindSearchState, tenant, scopePromoted)
	if err != nil {
		return nil, err
	}
	r, _, err := s.latestID(ctx, kindSearchState, tenant, scopeRetired)
	if err != nil {
		return nil, err
	}
	sv := &searchVersions{write: max(p, 1), newest: n, promoted: prec.Created}
	// A promotion or retirement of a version the store does not hold, or a
	// retirement of the version writes use, is a store that lies: nothing
	// is computed under such a list.
	if p > n || r >= sv.write {
		return nil, errWrongRecord
	}
	if n > sv.write {
		sv.pending = n
		sv.added = nrec.Created
	}
	for v := max(n, 1); v > r; v-- {
		sv.active = append(sv.active, v)
	}
	return sv, nil
}

// forgetSearchVersions drops the cached versions of tenant, so this
// process sees its own rotation step at once.
func (s *Sealer) forgetSearchVersions(tenant string) {
	s.mu.Lock()
	delete(s.searchVer, tenant)
	s.mu.Unlock()
}

// searchKeys reads the state of tenant's search key rotation from the key
// store (searchkeys.Steps.State).
func (s *Sealer) searchKeys(ctx context.Context, tenant string) (searchkeys.State, error) {
	if err := s.needStore("search key rotation"); err != nil {
		return searchkeys.State{}, err
	}
	sv, err := s.readSearchVersions(ctx, tenant)
	if err != nil {
		return searchkeys.State{}, err
	}
	st := searchkeys.State{Write: sv.write, Lookup: slices.Clone(sv.active), Pending: sv.pending}
	switch {
	case sv.pending != 0:
		st.Ready = sv.added.Add(s.settle())
	case len(sv.active) > 1:
		st.Ready = sv.promoted.Add(s.settle())
	}
	return st, nil
}

// settle is how long a rotation step waits for every process to see the
// previous one: Cache.MaxAge, the longest a process uses what it read of
// the versions, plus a margin for clock skew between processes. Every
// process sharing the key store must use the same or a shorter MaxAge.
func (s *Sealer) settle() time.Duration { return s.opts.Cache.MaxAge + clockSkewMargin }

const clockSkewMargin = 30 * time.Second

func (s *Sealer) tooSoon(op string, ready time.Time) error {
	if wait := ready.Sub(s.now()); wait > 0 {
		return fmt.Errorf("%w: %s: wait %s until every process has seen the previous step (Cache.MaxAge plus a margin for clock skew)", searchkeys.ErrTooSoon, op, wait.Round(time.Second))
	}
	return nil
}

// addSearchKey starts a rotation of tenant's search root key
// (searchkeys.Steps.Add). A rotation already under way is an error:
// promote its version, re-index and retire first.
func (s *Sealer) addSearchKey(ctx context.Context, tenant string) (uint32, error) {
	if err := s.needStore("search key rotation"); err != nil {
		return 0, err
	}
	sv, err := s.readSearchVersions(ctx, tenant)
	if err != nil {
		return 0, err
	}
	switch {
	case sv.newest == 0:
		return 0, fmt.Errorf("envelope: search key rotation: add: the tenant has no search key yet (nothing is indexed under one)")
	case sv.pending != 0:
		return 0, fmt.Errorf("envelope: search key rotation: add: version %d is added and not promoted; promote it and finish that rotation first", sv.pending)
	case len(sv.active) > 1:
		return 0, fmt.Errorf("envelope: search key rotation: add: versions below %d are not retired; re-index and retire them first", sv.write)
	}
	next := sv.newest + 1
	raw := make([]byte, keySize)
	rand.Read(raw)
	defer clear(raw)
	w, kek, err := s.wrap(ctx, raw, searchAD(tenant, next))
	if err != nil {
		return 0, err
	}
	ref := KeyRef{Kind: KindSearch, Tenant: tenant, ID: next}
	stored, _, err := s.store.Insert(ctx, Record{KeyRef: ref, Wrapped: w, KEK: kek.String(), Created: s.now()})
	if err != nil {
		return 0, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkRecord(stored, ref); err != nil {
		return 0, err
	}
	s.forgetSearchVersions(tenant)
	return next, nil
}

// promoteSearchKey makes version, added by addSearchKey, the one Seal
// writes under (searchkeys.Steps.Promote). It fails with searchkeys.ErrTooSoon until
// every process computes lookups under version (Cache.MaxAge after it was
// added, plus a margin).
func (s *Sealer) promoteSearchKey(ctx context.Context, tenant string, version uint32) error {
	if err := s.needStore("search key rotation"); err != nil {
		return err
	}
	sv, err := s.readSearchVersions(ctx, tenant)
	if err != nil {
		return err
	}
	if version == sv.write && sv.pending == 0 {
		return nil // promoted already
	}
	if version != sv.pending || version == 0 {
		return fmt.Errorf("envelope: search key rotation: promote: version %d is not the added version (writes use %d)", version, sv.write)
	}
	if err := s.tooSoon("promote", sv.added.Add(s.settle())); err != nil {
		return err
	}
	if err := s.stepRecord(ctx, tenant, scopePromoted, version); err != nil {
		return err
	}
	s.forgetSearchVersions(tenant)
	return nil
}

// retireSearchKeys ends a rotation (searchkeys.Steps.Retire): lookups
// stop computing the versions below the one writes use. It fails with
// searchkeys.ErrTooSoon before searchKeys' Ready. Other processes stop computing the
// old versions within Cache.MaxAge, which costs them nothing but the work.
func (s *Sealer) retireSearchKeys(ctx context.Context, tenant string) error {
	if err := s.needStore("search key rotation"); err != nil {
		return err
	}
	sv, err := s.readSearchVersions(ctx, tenant)
	if err != nil {
		return err
	}
	if sv.pending != 0 {
		return fmt.Errorf("envelope: search key rotation: retire: version %d is added and not promoted; promote it first", sv.pending)
	}
	if len(sv.active) <= 1 {
		return nil // nothing to retire
	}
	if err := s.tooSoon("retire", sv.promoted.Add(s.settle())); err != nil {
		return err
	}
	if err := s.stepRecord(ctx, tenant, scopeRetired, sv.write-1); err != nil {
		return err
	}
	s.forgetSearchVersions(tenant)
	return nil
}

func (s *Sealer) stepRecord(ctx context.Context, tenant, scope string, version uint32) error {
	ref := KeyRef{Kind: kindSearchState, Tenant: tenant, Scope: scope, ID: version}
	stored, _, err := s.store.Insert(ctx, Record{KeyRef: ref, Wrapped: []byte{}, Created: s.now()})
	if err != nil {
		return fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkRecord(stored, ref); err != nil || len(stored.Wrapped) != 0 {
		return errWrongRecord
	}
	return nil
}

// searchTenants lists the tenants that have a search root key
// (searchkeys.Steps.Tenants), for a rotation of every tenant's.
func (s *Sealer) searchTenants(ctx context.Context, after string, limit int) ([]string, error) {
	if err := s.needStore("search key rotation"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	pos := KeyRef{Kind: KindSearch, Tenant: after, ID: ^uint32(0)}
	if after == "" {
		pos = KeyRef{}
	}
	var out []string
	for len(out) < limit {
		recs, err := s.store.List(ctx, KindSearch, pos, limit)
		if err != nil {
			return nil, fmt.Errorf("envelope: key store: %w", err)
		}
		for _, r := range recs {
			if r.Kind != KindSearch || (pos != (KeyRef{}) && compareRef(r.KeyRef, pos) <= 0) {
				return nil, errWrongRecord
			}
			pos = r.KeyRef
			if len(out) == 0 || out[len(out)-1] != r.Tenant {
				if len(out) == limit {
					return out, nil
				}
				out = append(out, r.Tenant)
			}
		}
		if len(recs) < limit {
			break
		}
	}
	return out, nil
}

// detKeyOf returns the field key of b whose commitment a deterministic
// value carries, among the live search key versions; ErrDecrypt when none
// (a retired version's values no longer open).
func (s *Sealer) detKeyOf(ctx context.Context, b *Binding, commitment []byte) (*fieldKeys, error) {
	sv, err := s.searchVersions(ctx, b.Tenant)
	if err != nil {
		return nil, err
	}
	for _, v := range sv.active {
		fk, err := s.fieldKeys(ctx, b.Tenant, v, b.Type, b.Field, "", true)
		if err != nil {
			return nil, err
		}
		if commitEqual(fk.commit[:], commitment) {
			return fk, nil
		}
	}
	return nil, ErrDecrypt
}
