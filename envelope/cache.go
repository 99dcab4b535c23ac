package envelope

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// The caches of unwrapped DEKs: lookups for encryption and decryption,
// installs that a concurrent ForgetSubject invalidates, eviction and purges.

// encKey returns the DEK to encrypt n bytes under b's scope.
func (s *Sealer) encKey(ctx context.Context, b *Binding, n int) (*dekEntry, error) {
	if s.tooLarge(n) {
		return nil, ErrLimit // before a DEK is spent on it, or made for it
	}
	now := s.clock()
	if e := s.lastEnc.Load(); e != nil && e.ref.tenant == b.Tenant && e.ref.subject == b.Subject && s.reserve(e, n, now) {
		return e, nil
	}
	sr := scopeRef{b.Tenant, b.Subject}
	s.mu.RLock()
	e := s.cur[sr]
	if e != nil && s.reserve(e, n, now) {
		// Set under the read lock: a ForgetSubject (write lock) either
		// runs before, and e is not in the map, or after, and resets it.
		s.lastEnc.Store(e)
		s.mu.RUnlock()
		return e, nil
	}
	s.mu.RUnlock()
	return s.encKeySlow(ctx, sr, n)
}

// maxKeyAttempts bounds the lookups of one key that a concurrent
// ForgetSubject (in this process or another) can force to start again.
const maxKeyAttempts = 8

var errKeyChurn = errors.New("envelope: key scope kept changing during the lookup; try again")

func (s *Sealer) encKeySlow(ctx context.Context, sr scopeRef, n int) (*dekEntry, error) {
	ctx, kc, tx := s.keysFor(ctx)
	if !tx {
		s.createMu.Lock()
		defer s.createMu.Unlock()
	}
	for range maxKeyAttempts {
		ep := s.forgetEpoch(sr)
		now := s.clock()
		s.mu.RLock()
		e := kc.cur[sr]
		if tx && e != nil && e.ep != ep {
			e = nil // kept by this call before a ForgetSubject of the scope
		}
		s.mu.RUnlock()
		if e != nil && s.reserve(e, n, now) {
			return e, nil
		}
		if e != nil && s.needsBlock(e, now) {
			if err := s.extend(ctx, e); err != nil {
				return nil, err
			}
			if !e.spent.Load() {
				continue // a block more: reserve again
			}
		}
		s.st.misses.Add(1)
		ne, _, err := s.nextDEK(ctx, sr, e, now)
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.hook("enc:install")
		if !s.installDEK(kc, ne, true, ep) {
			continue // a ForgetSubject of the scope ran meanwhile: look again
		}
		s.hook("enc:reserve")
		if s.reserve(ne, n, now) {
			return ne, nil
		}
		if s.forgetEpoch(sr) != ep {
			continue // a ForgetSubject since the install marked it spent: look again
		}
		if s.needsBlock(ne, now) {
			continue // found, or made by another process: the next round reserves
		}
		// At its limit already: a DEK found at it, or one made here whose
		// messages concurrent seals (which reserve without createMu) took
		// between install and reserve. The next round makes one.
	}
	return nil, errKeyChurn
}

// installDEK keeps e in kc unless a ForgetSubject of its scope ran since
// the lookup that produced it started (epoch ep); it reports whether it
// did. A DEK kept in a transaction's cache goes to the memo too.
func (s *Sealer) installDEK(kc *keyCache, e *dekEntry, current bool, ep uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := scopeRef{e.ref.tenant, e.ref.subject}
	memo := s.memo.deks.get(e.ref) == e
	if s.forgetEpoch(sr) != ep {
		if !memo { // the memo's entries are purged with their scope
			e.spent.Store(true)
			e.key.wipe()
		}
		return false
	}
	shared := kc == &s.keyCache
	if shared && s.deks.len() >= s.opts.Cache.MaxEntries {
		s.evictLocked()
	}
	if old := kc.deks.get(e.ref); old != nil && old != e {
		if shared {
			s.forgetFront()
		}
		old.key.wipe()
	}
	kc.deks.put(e)
	if shared {
		s.evictQ.push(e, func(x *dekEntry) bool { return s.deks.get(x.ref) == x }, s.deks.len())
	}
	if current {
		kc.cur[sr] = e
	}
	if !shared {
		// No ForgetSubject of the scope since ep: a forget deletes the
		// scope's memo entries, so e, if it came from the memo, is live.
		e.ep = ep
		if !memo {
			s.trimMemoLocked()
			s.memo.deks.put(e)
		}
	}
	return true
}

// forgetEpoch returns the count of forgets (this process's ForgetSubject
// calls, and those of other processes a feed reported) whose scope
// shares sr's shred bucket. A lookup reads it before it reads the key
// store and installs its result only if it has not changed: so no key
// loaded before a forget is cached after it. Striping by bucket keeps a
// sweep forgetting many subjects from restarting every other scope's
// lookups.
func (s *Sealer) forgetEpoch(sr scopeRef) uint64 {
	return s.forgets[s.stripe(sr)].Load()
}

func (s *Sealer) stripe(sr scopeRef) int { return int(bucketOf(sr)) }

func (s *Sealer) hook(point string) {
	if s.testHook != nil {
		s.testHook(point)
	}
}

// evictLocked frees room for one entry in the shared DEK cache, evicting
// the oldest (see evictQueue).
func (s *Sealer) evictLocked() {
	n := s.evictQ.evict(s.deks.len, s.opts.Cache.MaxEntries,
		func(e *dekEntry) bool { return s.deks.get(e.ref) == e },
		func(e *dekEntry) {
			s.forgetFront()
			s.deks.del(e.ref)
			sr := scopeRef{e.ref.tenant, e.ref.subject}
			if s.cur[sr] == e {
				delete(s.cur, sr)
			}
		})
	s.st.evictions.Add(n)
}

// evictQueue holds a cache's DEK entries in install order, so a full
// cache evicts the entries installed first, which are the oldest loaded:
// the expired ones go first. Each eviction is constant time (the queue,
// not a scan of the map), so a full cache costs one eviction per install.
// An entry dropped from the cache by another path stays queued until it
// is reached or the queue is compacted, which happens once it holds twice
// the live entries: pushes stay amortised constant time and the queue
// bounded.
type evictQueue struct {
	q    []*dekEntry
	head int
}

// push queues e, just installed; live reports whether an entry is still
// in the cache, which holds n entries.
func (eq *evictQueue) push(e *dekEntry, live func(*dekEntry) bool, n int) {
	if queued := len(eq.q) - eq.head; queued >= 1024 && queued >= 2*n {
		kept := eq.q[:0]
		for _, x := range eq.q[eq.head:] {
			if live(x) {
				kept = append(kept, x)
			}
		}
		clear(eq.q[len(kept):])
		eq.q, eq.head = kept, 0
	}
	eq.q = append(eq.q, e)
}

// evict removes the oldest entries still in the cache (live) with drop
// and clears their keys, until size() is below max; it returns how many
// it evicted.
func (eq *evictQueue) evict(size func() int, max int, live func(*dekEntry) bool, drop func(*dekEntry)) (n uint64) {
	for size() >= max {
		e := eq.pop()
		if e == nil {
			return n // unreachable: every cached entry was queued when installed
		}
		if !live(e) {
			continue // dropped since (purged, forgotten or replaced)
		}
		drop(e)
		e.key.wipe()
		n++
	}
	return n
}

func (eq *evictQueue) pop() *dekEntry {
	if eq.head == len(eq.q) {
		return nil
	}
	e := eq.q[eq.head]
	eq.q[eq.head] = nil
	eq.head++
	if eq.head == len(eq.q) {
		eq.q, eq.head = eq.q[:0], 0
	} else if eq.head >= 1024 && eq.head*2 >= len(eq.q) {
		n := copy(eq.q, eq.q[eq.head:])
		clear(eq.q[n:])
		eq.q, eq.head = eq.q[:n], 0
	}
	return e
}

// decKey returns the DEK id of b's scope for decryption.
func (s *Sealer) decKey(ctx context.Context, b *Binding, id uint32) (*dekEntry, error) {
	now := s.clock()
	if e := s.lastDec.Load(); e != nil && e.ref.id == id && e.ref.tenant == b.Tenant && e.ref.subject == b.Subject && s.fresh(e.loaded, now) && s.shredFresh(e, now) {
		return e, nil
	}
	ref := dekRef{b.Tenant, b.Subject, id}
	s.mu.RLock()
	e := s.deks.get(ref)
	if e != nil && s.fresh(e.loaded, now) && s.shredFresh(e, now) {
		s.lastDec.Store(e) // under the read lock, as in encKey
		s.mu.RUnlock()
		return e, nil
	}
	s.mu.RUnlock()
	return s.decKeySlow(ctx, ref, e, now)
}

func (s *Sealer) decKeySlow(ctx context.Context, ref dekRef, e *dekEntry, now int64) (*dekEntry, error) {
	sr := scopeRef{ref.tenant, ref.subject}
	scope := scopeName(ref.subject)
	want := KeyRef{Kind: KindDEK, Tenant: ref.tenant, Scope: scope, ID: ref.id}
	ctx, kc, tx := s.keysFor(ctx)
	if tx {
		s.mu.RLock()
		ce := kc.deks.get(ref)
		ok := ce != nil && ce.ep == s.forgetEpoch(sr) && s.fresh(ce.loaded, now) && s.shredFresh(ce, now)
		s.mu.RUnlock()
		if ok {
			return ce, nil
		}
	}
	for range maxKeyAttempts {
		ep := s.forgetEpoch(sr)
		if e != nil && !s.cached(ref, e) {
			e = nil // purged meanwhile: never serve it stale
		}
		s.st.misses.Add(1)
		rec, err := s.store.Get(ctx, want)
		if errors.Is(err, ErrNotFound) {
			s.purgeDEK(ref)
			if ref.subject != "" {
				wm, found, werr := s.watermark(ctx, ref.tenant, scope)
				if werr != nil {
					return nil, werr
				}
				if found && ref.id <= wm {
					return nil, ErrShredded
				}
			}
			return nil, ErrDecrypt
		}
		if err != nil {
			return nil, fmt.Errorf("envelope: key store: %w", err)
		}
		if e != nil && s.stillLive(e, want, rec, now) && s.forgetEpoch(sr) == ep && s.cached(ref, e) {
			return e, nil // past Cache.ShredCheck: its row is still there
		}
		ne, err := s.loadDEK(ctx, want, rec, ref.subject, true)
		if err != nil {
			if e != nil && isUnavailable(err) && s.withinGrace(e.loaded, now) && s.forgetEpoch(sr) == ep {
				s.st.stale.Add(1)
				return e, nil
			}
			return nil, err
		}
		if e != nil && e.ref.id == ne.ref.id {
			carryCounts(ne, e)
		}
		s.mu.RLock()
		cur := e != nil && s.cur[sr] == e && !tx
		s.mu.RUnlock()
		s.hook("dec:install")
		if s.installDEK(kc, ne, cur, ep) {
			return ne, nil
		}
	}
	return nil, errKeyChurn
}

// carryCounts raises ne's message and byte counts, and the messages
// reserved, to those of e, an older entry of the same DEK, so a reload
// neither resets its limits nor forgets the blocks this process holds.
func carryCounts(ne, e *dekEntry) {
	if ne == e {
		return
	}
	raise := func(a *atomic.Uint64, v uint64) {
		for {
			old := a.Load()
			if old >= v || a.CompareAndSwap(old, v) {
				return
			}
		}
	}
	raise(&ne.msgs, e.msgs.Load())
	raise(&ne.bytes, e.bytes.Load())
	raise(&ne.granted, e.granted.Load())
}

// cached reports whether e is still ref's cache entry.
func (s *Sealer) cached(ref dekRef, e *dekEntry) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.deks.get(ref) == e
}

// forgetFront empties the front caches; call it with mu held whenever an
// entry leaves the maps.
func (s *Sealer) forgetFront() {
	s.lastEnc.Store(nil)
	s.lastDec.Store(nil)
}

func (s *Sealer) purgeDEK(ref dekRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.deks.del(ref); e != nil {
		s.forgetFront()
		sr := scopeRef{ref.tenant, ref.subject}
		if s.cur[sr] == e {
			delete(s.cur, sr)
		}
		e.key.wipe()
	}
}

// purgeScope drops every cached DEK of (tenant, subject) after a
// ForgetSubject: it bumps the scope's forget epoch (so lookups in flight
// do not install what they loaded), marks the entries spent (so a caller
// still holding one cannot take it for a new seal), empties the front
// caches and clears the keys.
func (s *Sealer) purgeScope(tenant, subject string) {
	sr := scopeRef{tenant, subject}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgets[s.stripe(sr)].Add(1)
	s.forgetFront()
	s.deks.delScope(sr, retire)
	s.memo.deks.delScope(sr, retire)
	delete(s.cur, sr)
}
