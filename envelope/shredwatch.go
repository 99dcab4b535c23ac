package envelope

import (
	"context"
	"errors"
	"hash/fnv"
	"sync/atomic"
	"time"
)

// Shred propagation: how a ForgetSubject in one process reaches the
// caches of every other process sharing the KeyStore.
//
// Every cached DEK of a data subject carries the time the KeyStore last
// showed it alive (dekEntry.checked: when its row was read, or the scope's
// watermark was found below it). The hot paths use it only while that is
// less than Cache.ShredCheck ago, or while a ShredFeed vouches for the
// time since: past that, one KeyStore read confirms it again (the row is
// still there, byte for byte) or finds the subject forgotten. A ShredFeed
// (PostgreSQL LISTEN/NOTIFY, see sqlkeystore/pglisten) delivers each
// forget as it commits; its bucket's cached keys are purged at once, and
// while the feed keeps confirming that it is in sync no entry needs the
// read.

// shredBuckets is the number of buckets ShredBucket maps key scopes to.
const shredBuckets = 4096

// ShredBucket returns the bucket (below 4096) of the key scope
// (tenant, scope), for a KeyStore that tells other processes about its
// Forgets (a ShredFeed): the notification carries the bucket, not the
// scope, so whoever can listen learns next to nothing about whom was
// forgotten (a bucket holds one in 4096 subjects), and a process purges
// the cached keys of that bucket's subjects. The hash is FNV-1a of the
// length-prefixed tenant and scope: fixed, so every process agrees.
func ShredBucket(tenant, scope string) uint16 {
	h := fnv.New32a()
	h.Write(appendLP(appendLP(nil, tenant), scope))
	return uint16(h.Sum32() % shredBuckets)
}

// A ShredFeed tells a Sealer about forgets made by any process sharing its
// KeyStore as they commit, so that it need not read the KeyStore to
// confirm its cached keys (Cache.ShredCheck). sqlkeystore/pglisten is
// one, on PostgreSQL's LISTEN/NOTIFY.
type ShredFeed interface {
	// Follow reports to w until ctx is done, then returns nil, or returns
	// an error when it cannot go on. It calls w.Listening once it
	// receives every forget committed from then on (and again after it
	// reconnected, having possibly missed some), w.Shredded for each
	// forget, and w.Synced(t) whenever it knows that every forget
	// committed before t (and after the last Listening) was passed to
	// w.Shredded.
	Follow(ctx context.Context, w ShredWatcher) error
}

// ShredWatcher is what a ShredFeed reports to (see ShredFeed.Follow).
// Shredded takes a bucket as ShredBucket returns it; one of 4096 or more
// is not a bucket and is ignored.
type ShredWatcher interface {
	Listening()
	Shredded(bucket uint16)
	Synced(t time.Time)
}

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

// Follow runs feed for s until ctx is done (it then returns nil) or the
// feed fails. Run it in a goroutine of its own, one per Sealer:
//
//	go func() { err := sealer.Follow(ctx, feed) ... }()
//
// While it runs and the feed keeps up, a forget made by another process
// reaches this one's caches as the feed delivers it, and the Sealer reads
// no KeyStore row to confirm the keys it holds. When it stops, or the feed
// falls behind, Cache.ShredCheck applies again. A second concurrent
// Follow on the same Sealer is an error.
func (s *Sealer) Follow(ctx context.Context, feed ShredFeed) error {
	if feed == nil {
		return errors.New("envelope: Follow: nil ShredFeed")
	}
	if !s.watch.following.CompareAndSwap(false, true) {
		return errors.New("envelope: Follow: this Sealer already follows a ShredFeed")
	}
	defer func() {
		s.watch.state.Store(nil)
		s.watch.following.Store(false)
	}()
	err := feed.Follow(ctx, (*sealerWatcher)(s))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// sealerWatcher is the ShredWatcher a Sealer gives its feed.
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
func bucketOf(sr scopeRef) uint16 { return ShredBucket(sr.tenant, scopeName(sr.subject)) }
