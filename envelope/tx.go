package envelope

import (
	"bytes"
	"context"

	"github.com/fieldguard/pii"
)

// Keys and the caller's transaction.
//
// Under pii.WithExecutor the KeyStore reads and writes through the caller's
// transaction, so a key row the Sealer reads or makes there may vanish with
// a rollback. Nothing loaded under an executor goes into the shared caches
// (s.keyCache), which later calls use without reading the store: a Seal
// after a rollback would otherwise go under a DEK whose row does not
// exist, and its value would never open. Instead:
//
//   - a call keeps what it loads in its own keyCache, dropped when it
//     returns: for Seal, Open and the rotation jobs the whole call (see
//     withCall), for the byte-level functions the one lookup;
//   - the memo keeps those keys by the row they came from, so that a later
//     lookup that reads the same row again (same ref, same wrapped bytes)
//     reuses the key, and its message counts, rather than unwrap it again
//     (for a branch or search root key, a KMS call). A row removed by a
//     rollback is never read again, and a new row for the same ref has new
//     wrapped bytes (a random nonce), so the memo cannot bring back a key
//     that does not exist.
//
// The shared caches are still read under an executor: what they hold was
// read outside any transaction. The process-wide locks that keep misses
// from multiplying KMS calls are not taken under an executor: a lookup
// may wait there on a row lock another transaction holds, and must not
// make every other lookup of the process wait with it.

type callKeysKey struct{}

// withCall returns ctx carrying a keyCache for the whole call when ctx
// carries an executor and no call's keys yet.
func withCall(ctx context.Context) context.Context {
	if !pii.InExecutor(ctx) || ctx.Value(callKeysKey{}) != nil {
		return ctx
	}
	kc := newKeyCache()
	return context.WithValue(ctx, callKeysKey{}, &kc)
}

// keysFor returns the cache a lookup under ctx finds and keeps keys in:
// the shared one outside a transaction (tx false), else the call's, or a
// fresh one attached to the returned ctx for the lookup's own nested
// lookups.
func (s *Sealer) keysFor(ctx context.Context) (_ context.Context, kc *keyCache, tx bool) {
	if !pii.InExecutor(ctx) {
		return ctx, &s.keyCache, false
	}
	if kc, ok := ctx.Value(callKeysKey{}).(*keyCache); ok {
		return ctx, kc, true
	}
	kc = new(keyCache)
	*kc = newKeyCache()
	return context.WithValue(ctx, callKeysKey{}, kc), kc, true
}

// memoDEK returns the memo's entry for the DEK rec (read for ref), when it
// came from that very row and is fresh. A ForgetSubject deletes its
// scope's entries from the memo (purgeScope), and one that races the
// lookup makes installDEK refuse the entry.
func (s *Sealer) memoDEK(ref dekRef, rec Record, now int64) *dekEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.memo.deks[ref]
	if e == nil || !bytes.Equal(e.row, rec.Wrapped) || !s.fresh(e.loaded, now) {
		return nil
	}
	return e
}

// memoBranch is memoDEK for branch keys.
func (s *Sealer) memoBranch(ref branchRef, rec Record, now int64) *branchEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.memo.branches[ref]
	if e == nil || !bytes.Equal(e.row, rec.Wrapped) || !s.fresh(e.loaded, now) {
		return nil
	}
	return e
}

// memoRoot is memoDEK for search root keys.
func (s *Sealer) memoRoot(tenant string, rec Record, now int64) *rootEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.memo.roots[tenant]
	if e == nil || !bytes.Equal(e.row, rec.Wrapped) || !s.fresh(e.loaded, now) {
		return nil
	}
	return e
}

// trimMemoLocked makes room in the memo's maps: past Cache.MaxEntries an
// arbitrary tenth goes (map order). Evicted DEKs and branch keys are
// cleared; root keys are left to the garbage collector (see fieldKeys).
func (s *Sealer) trimMemoLocked() {
	n := s.opts.Cache.MaxEntries
	trimMap(s.memo.deks, n, func(e *dekEntry) { e.key.wipe() })
	trimMap(s.memo.branches, n, func(e *branchEntry) { e.key.wipe() })
	trimMap(s.memo.roots, n, func(*rootEntry) {})
}

// trimMap deletes arbitrary entries of m, once it holds limit or more,
// down to 90% of limit, calling drop on each.
func trimMap[K comparable, V any](m map[K]V, limit int, drop func(V)) {
	if len(m) < limit {
		return
	}
	for k, v := range m {
		delete(m, k)
		drop(v)
		if len(m) < limit*9/10 {
			return
		}
	}
}
