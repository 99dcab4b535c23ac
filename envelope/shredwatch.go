package envelope

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/fieldguard/pii/envelope/internal/shredfeed"
)

// Shred propagation: how a ForgetSubject in one process reaches the
// caches of every other process sharing the KeyStore.
//
// Every cached DEK of a data subject carries the time the KeyStore last
// showed it alive (dekEntry.checked: when its row was read, or the scope's
// watermark was found below it). The hot paths use it only while that is
// less than Cache.ShredCheck ago, or while a feed vouches for the
// time since: past that, one KeyStore read confirms it again (the row is
// still there, byte for byte) or finds the subject forgotten. A feed
// (PostgreSQL LISTEN/NOTIFY: sqlkeystore/pglisten.Follow, through
// internal/shredfeed) delivers each forget as it commits; its bucket's
// cached keys are purged at once, and while the feed keeps confirming that
// it is in sync no entry needs the read.

// shredBuckets is the number of buckets shredfeed.Bucket maps key scopes to.
const shredBuckets = shredfeed.Buckets

// shredWatch is a Sealer's view of its feed. Times are on the Sealer's
// clock (clock(); negative under a test clock).
type shredWatch struct {
	following atomic.Bool
	state     atomic.Pointer[watchState] // nil: no feed vouches
}

// watchState: every forget committed in [floor, synced) was applied.
type watchState struct{ floor, synced int64 }

// covers reports whether the feed vouches, now, for an entry the store
// showed alive at checked: it has delivered everything committed from
// checked to less than ShredCheck ago.
func (w *shredWatch) covers(checked, now, bound int64) bool {
	st := w.state.Load()
	return st != nil && checked >= st.floor && now-st.synced < bound
}

// shredFresh reports whether e may be used without reading the KeyStore
// again: a tenant's key (never forgotten), or a subject's that the store
// showed alive, or the feed vouched for, less than Cache.ShredCheck ago.
func (s *Sealer) shredFresh(e *dekEntry, now int64) bool {
	return e.ref.subject == "" || now-e.checked.Load() < int64(s.opts.Cache.ShredCheck) ||
		s.watch.covers(e.checked.Load(), now, int64(s.opts.Cache.ShredCheck))
}

func init() {
	shredfeed.Follow = func(ctx context.Context, s any, feed shredfeed.Feed) error {
		return s.(*Sealer).follow(ctx, feed)
	}
}

// follow runs feed for s until ctx is done (it then returns nil) or the
// feed fails (shredfeed.Follow, which pglisten.Follow calls). While it
// runs and the feed keeps up, a forget made by another process reaches
// this one's caches as the feed delivers it, and the Sealer reads no
// KeyStore row to confirm the keys it holds. When it stops, or the feed
// falls behind, Cache.ShredCheck applies again. A second concurrent
// follow on the same Sealer is an error.
func (s *Sealer) follow(ctx context.Context, feed shredfeed.Feed) error {
	if feed == nil {
		return errors.New("envelope: follow: nil feed")
	}
	if !s.watch.following.CompareAndSwap(false, true) {
		return errors.New("envelope: this Sealer already follows a feed of forgets")
	}
	defer func() {
		s.watch.state.Store(nil)
		s.watch.following.Store(false)
	}()
	err := feed(ctx, s.store, (*sealerWatcher)(s))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// sealerWatcher is the shredfeed.Watcher a Sealer gives its feed.
type sealerWatcher Sealer

func (w *sealerWatcher) Listening() {
	s := (*Sealer)(w)
	now := s.clock()
	s.watch.state.Store(&watchState{floor: now, synced: now})
}

func (w *sealerWatcher) Shredded(bucket uint16) {
	if bucket >= shredBuckets {
		return // not a bucket: purging one anyway would let any sender churn the cache
	}
	(*Sealer)(w).purgeBucket(int(bucket))
}

func (w *sealerWatcher) Synced(t time.Time) {
	s := (*Sealer)(w)
	at := s.clock() - int64(time.Since(t))
	for {
		old := s.watch.state.Load()
		if old == nil || at <= old.synced || s.watch.state.CompareAndSwap(old, &watchState{floor: old.floor, synced: at}) {
			return
		}
	}
}

// purgeBucket drops every cached DEK of the subjects in bucket b after a
// forget in another process: like purgeScope for each of them, it bumps
// the bucket's forget epoch (lookups in flight do not install what they
// read), marks the entries spent and clears them.
func (s *Sealer) purgeBucket(b int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgets[b].Add(1)
	s.forgetFront()
	inBucket := func(e *dekEntry) bool { return e.ref.subject != "" && int(e.bucket) == b }
	s.deks.delIf(inBucket, retire)
	s.memo.deks.delIf(inBucket, retire)
	for sr, e := range s.cur {
		if sr.subject != "" && int(e.bucket) == b {
			delete(s.cur, sr)
		}
	}
}

// bucketOf returns the shred bucket of a subject's (or tenant's) scope.
func bucketOf(sr scopeRef) uint16 { return shredfeed.Bucket(sr.tenant, scopeName(sr.subject)) }
