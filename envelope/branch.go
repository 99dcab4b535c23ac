package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
)

// Branch keys: one per tenant and rotation period, wrapped by the KEK.

func (s *Sealer) newBranchEntry(tenant string, version uint32, raw, row []byte, now int64) (*branchEntry, error) {
	a, err := newGCM(raw)
	if err != nil {
		clear(raw)
		return nil, err
	}
	return &branchEntry{tenant: tenant, version: version, aead: a, key: newSecret(raw), loaded: now, row: row}, nil
}

// installBranch keeps be in kc (current: as the tenant's newest); a key
// kept in a transaction's cache goes to the memo too.
func (s *Sealer) installBranch(kc *keyCache, be *branchEntry, current bool) {
	s.mu.Lock()
	ref := branchRef{be.tenant, be.version}
	if old := kc.branches[ref]; old != nil && old != be {
		old.key.wipe()
	}
	kc.branches[ref] = be
	if current {
		kc.branchCur[be.tenant] = be
	}
	if kc != &s.keyCache && s.memo.branches[ref] != be {
		s.trimMemoLocked()
		s.memo.branches[ref] = be
	}
	s.mu.Unlock()
}

// branchKey returns branch key version of tenant for unwrapping DEKs.
// stale allows an expired entry during a key provider outage (decrypts).
func (s *Sealer) branchKey(ctx context.Context, tenant string, version uint32, stale bool) (*branchEntry, error) {
	now := s.clock()
	ref := branchRef{tenant, version}
	s.mu.RLock()
	be := s.branches[ref]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	if !tx {
		s.kmsMu.Lock()
		defer s.kmsMu.Unlock()
	}
	s.mu.RLock()
	if tx {
		if ce := kc.branches[ref]; ce != nil && s.fresh(ce.loaded, now) {
			s.mu.RUnlock()
			return ce, nil
		}
	}
	be = s.branches[ref]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	want := KeyRef{Kind: KindBranch, Tenant: tenant, ID: version}
	rec, err := s.store.Get(ctx, want)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrDecrypt
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	nb, err := s.loadBranchLocked(ctx, want, rec, now)
	if err != nil {
		if stale && be != nil && isUnavailable(err) && s.withinGrace(be.loaded, now) {
			s.st.stale.Add(1)
			return be, nil
		}
		return nil, err
	}
	s.installBranch(kc, nb, false)
	return nb, nil
}

// loadBranchLocked unwraps rec, which the key store returned for want (or
// takes the memo's key of that very row). The associated data is built
// from want, never from the row.
func (s *Sealer) loadBranchLocked(ctx context.Context, want KeyRef, rec Record, now int64) (*branchEntry, error) {
	if err := checkRecord(rec, want); err != nil {
		return nil, err
	}
	if m, ok := memoHit(s, s.memo.branches, branchRef{want.Tenant, want.ID}, rec, now); ok {
		return m, nil
	}
	raw, err := s.unwrap(ctx, rec.Wrapped, branchAD(want.Tenant, want.ID))
	if err != nil {
		return nil, err
	}
	return s.newBranchEntry(want.Tenant, want.ID, raw, bytes.Clone(rec.Wrapped), now)
}

// currentBranch returns the tenant's newest branch key, making version 1
// on first use.
func (s *Sealer) currentBranch(ctx context.Context, tenant string) (*branchEntry, error) {
	now := s.clock()
	s.mu.RLock()
	be := s.branchCur[tenant]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	if !tx {
		s.kmsMu.Lock()
		defer s.kmsMu.Unlock()
	}
	s.mu.RLock()
	if ce := kc.branchCur[tenant]; ce != nil && (be == nil || ce.version > be.version) {
		be = ce
	}
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	rec, err := s.store.Latest(ctx, KindBranch, tenant, "")
	if errors.Is(err, ErrNotFound) {
		return s.createBranchLocked(ctx, tenant, 1, now)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	var seen uint32 // branch versions never go back
	if be != nil {
		seen = be.version
	}
	if err := checkLatest(rec, KindBranch, tenant, "", max(seen, 1)); err != nil {
		return nil, err
	}
	if p := s.opts.BranchKeyPeriod; p > 0 && s.now().Sub(rec.Created) >= p {
		return s.createBranchLocked(ctx, tenant, rec.ID+1, now)
	}
	if old := s.branchByRef(kc, branchRef{tenant, rec.ID}); old != nil && s.fresh(old.loaded, now) {
		s.installBranch(kc, old, true)
		return old, nil
	}
	nb, err := s.loadBranchLocked(ctx, KeyRef{Kind: KindBranch, Tenant: tenant, ID: rec.ID}, rec, now)
	if err != nil {
		return nil, err
	}
	s.installBranch(kc, nb, true)
	return nb, nil
}

func (s *Sealer) branchByRef(kc *keyCache, r branchRef) *branchEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return kc.branches[r]
}

// createBranchLocked makes branch key version of tenant and keeps it in
// the cache keysFor(ctx) names.
func (s *Sealer) createBranchLocked(ctx context.Context, tenant string, version uint32, now int64) (*branchEntry, error) {
	ctx, kc, _ := s.keysFor(ctx)
	want := KeyRef{Kind: KindBranch, Tenant: tenant, ID: version}
	raw, w, stored, err := s.insertWrapped(ctx, want, branchAD(tenant, version))
	if err != nil {
		return nil, err
	}
	var be *branchEntry
	if raw != nil {
		be, err = s.newBranchEntry(tenant, version, raw, bytes.Clone(w), now)
	} else {
		be, err = s.loadBranchLocked(ctx, want, stored, now)
	}
	if err != nil {
		return nil, err
	}
	s.installBranch(kc, be, true)
	return be, nil
}

// RotateBranchKey makes a new branch key version for tenant (one wrap
// call) and uses it for new DEKs from now on in this process (other
// processes pick it up within Cache.MaxAge). Existing DEKs stay wrapped
// under the old version until RewrapDEKs; field ciphertexts never change.
func (s *Sealer) RotateBranchKey(ctx context.Context, tenant string) (version uint32, err error) {
	ctx, span := s.tel.span(ctx, "rotate_branch_key")
	defer func() { endSpan(span, err) }()
	if err := s.needStore("RotateBranchKey"); err != nil {
		return 0, err
	}
	ctx = withCall(ctx)
	if pii.ExecutorFrom(ctx, nil) == nil {
		s.kmsMu.Lock()
		defer s.kmsMu.Unlock()
	}
	next := uint32(1)
	rec, err := s.store.Latest(ctx, KindBranch, tenant, "")
	switch {
	case err == nil:
		if err := checkLatest(rec, KindBranch, tenant, "", 1); err != nil {
			return 0, err
		}
		next = rec.ID + 1
	case !errors.Is(err, ErrNotFound):
		return 0, fmt.Errorf("envelope: key store: %w", err)
	}
	be, err := s.createBranchLocked(ctx, tenant, next, s.clock())
	if err != nil {
		return 0, err
	}
	return be.version, nil
}
