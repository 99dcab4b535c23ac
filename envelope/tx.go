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
	if pii.ExecutorFrom(ctx, nil) == nil || ctx.Value(callKeysKey{}) != nil {
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
	if pii.ExecutorFrom(ctx, nil) == nil {
		return ctx, &s.keyCache, false
	}
	if kc, ok := ctx.Value(callKeysKey{}).(*keyCache); ok {
		return ctx, kc, true
	}
	kc = new(keyCache)
	*kc = newKeyCache()
	return context.WithValue(ctx, callKeysKey{}, kc), kc, true
}

// memoEntry is an unwrapped key the memo keeps, with the stored row it
// came from and when it was unwrapped; ok is false for a nil entry.
type memoEntry interface {
	origin() (row []byte, loaded int64, ok bool)
}

func (e *dekEntry) origin() ([]byte, int64, bool) {
	if e == nil {
		return nil, 0, false
	}
	return e.row, e.loaded, true
}

func (e *branchEntry) origin() ([]byte, int64, bool) {
	if e == nil {
		return nil, 0, false
	}
	return e.row, e.loaded, true
}

func (e *rootEntry) origin() ([]byte, int64, bool) {
	if e == nil {
		return nil, 0, false
	}
	return e.row, e.loaded, true
}

// memoHit returns the memo's entry m[k] (a DEK, branch key or search root)
// when it came from the very row rec and is fresh. A ForgetSubject deletes
// its scope's entries from the memo (purgeScope), and one that races the
// lookup makes installDEK refuse the entry.
func memoHit[K comparable, E memoEntry](s *Sealer, m map[K]E, k K, rec Record, now int64) (E, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var zero E
	e := m[k]
	row, loaded, ok := e.origin()
	if !ok || !bytes.Equal(row, rec.Wrapped) || !s.fresh(loaded, now) {
		return zero, false
	}
	return e, true
}

// trimMemoLocked makes room in the memo's maps: past Cache.MaxEntries an
// arbitrary tenth goes (map order). Evicted DEKs and branch keys are
// cleared; root keys are left to the garbage collector (see fieldKeys).
func (s *Sealer) trimMemoLocked() {
	n := s.opts.Cache.MaxEntries
	s.memo.deks.trim(n, func(e *dekEntry) { e.key.wipe() })
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
