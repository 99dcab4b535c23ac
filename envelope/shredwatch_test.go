package envelope_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/shredfeed"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

// countingStore counts the reads that confirm a cached key: Get of a DEK
// and Latest of a DEK or tombstone.
type countingStore struct {
	envelope.KeyStore
	reads atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	if ref.Kind == envelope.KindDEK {
		c.reads.Add(1)
	}
	return c.KeyStore.Get(ctx, ref)
}

func (c *countingStore) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	if kind == envelope.KindDEK || kind == envelope.KindTombstone {
		c.reads.Add(1)
	}
	return c.KeyStore.Latest(ctx, kind, tenant, scope)
}

// fleet is two Sealers ("processes") on one KeyStore and one clock.
type fleet struct {
	clock *piitest.Clock
	store *countingStore
	a, b  *envelope.Sealer
}

func newFleet(t *testing.T, cache envelope.CacheLimits) *fleet {
	f := &fleet{clock: piitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), store: &countingStore{KeyStore: envelope.NewMemoryStore()}}
	kp := testkp.New(nil)
	var err error
	f.a, err = envelope.New(kp, &envelope.Options{Store: f.store, Clock: f.clock, Cache: cache})
	require.NoError(t, err)
	f.b, err = envelope.New(kp, &envelope.Options{Store: f.store, Clock: f.clock, Cache: cache})
	require.NoError(t, err)
	return f
}

var alice = envelope.Binding{Tenant: "acme", Type: "Ticket", Field: "Body", Record: "t-1", Subject: "alice"}

// TestShredReachesOtherProcessesWithinShredCheck: after ForgetSubject in
// one process, another that holds the subject's key in its cache refuses
// to decrypt and to encrypt under it once Cache.ShredCheck has passed,
// with no feed: the bound holds on any KeyStore.
func TestShredReachesOtherProcessesWithinShredCheck(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Second})
	ct, err := f.a.EncryptString(ctx, "before", alice)
	require.NoError(t, err)
	_, err = f.b.DecryptString(ctx, ct, alice) // b caches alice's DEK
	require.NoError(t, err)
	ctB, err := f.b.EncryptString(ctx, "by b", alice)
	require.NoError(t, err)

	require.NoError(t, f.a.ForgetSubject(ctx, "acme", "alice"))
	f.clock.Add(999 * time.Millisecond)
	// Within the bound b may still use what it holds (the documented window).
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.NoError(t, err)

	f.clock.Add(time.Millisecond) // the bound
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.ErrorIs(t, err, envelope.ErrShredded)
	_, err = f.b.DecryptString(ctx, ctB, alice)
	require.ErrorIs(t, err, envelope.ErrShredded)
	after, err := f.b.EncryptString(ctx, "after the bound", alice)
	require.NoError(t, err)
	got, err := f.a.DecryptString(ctx, after, alice)
	require.NoError(t, err, "a value sealed after the bound is under the new key generation")
	require.Equal(t, "after the bound", got)
}

// TestShredCheckEncryptPath: the encryption path alone (no decryption in
// between) also re-checks, and moves to the new key generation.
func TestShredCheckEncryptPath(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Second})
	_, err := f.b.EncryptString(ctx, "x", alice)
	require.NoError(t, err)
	require.NoError(t, f.a.ForgetSubject(ctx, "acme", "alice"))
	f.clock.Add(time.Second)
	ct, err := f.b.EncryptString(ctx, "y", alice)
	require.NoError(t, err)
	_, err = f.a.DecryptString(ctx, ct, alice)
	require.NoError(t, err, "sealed under a DEK above the watermark")
}

// TestShredCheckCostsOneReadPerSubjectPerInterval: a live key is
// confirmed by one KeyStore read per ShredCheck, not per call, and not
// unwrapped again.
func TestShredCheckCostsOneReadPerSubjectPerInterval(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Second})
	ct, err := f.b.EncryptString(ctx, "x", alice)
	require.NoError(t, err)
	unwraps := f.b.Stats().Unwraps
	for round := range 3 {
		f.clock.Add(time.Second)
		before := f.store.reads.Load()
		for range 50 {
			_, err = f.b.DecryptString(ctx, ct, alice)
			require.NoError(t, err)
			_, err = f.b.EncryptString(ctx, "y", alice)
			require.NoError(t, err)
		}
		reads := f.store.reads.Load() - before
		require.LessOrEqual(t, reads, int64(3), "round %d: one confirmation (Get, or Latest and the watermark), not one per call", round)
		require.Positive(t, reads, "round %d: the key must be confirmed", round)
	}
	require.Equal(t, unwraps, f.b.Stats().Unwraps, "a confirmed key is not unwrapped again")
}

// chanFeed is a feed fed by the test: each bucket sent is delivered,
// then the feed says it is in sync.
type chanFeed struct {
	ch      chan uint16
	started chan struct{}
	once    sync.Once
}

func newChanFeed() *chanFeed { return &chanFeed{ch: make(chan uint16), started: make(chan struct{})} }

func (c *chanFeed) Follow(ctx context.Context, _ any, w shredfeed.Watcher) error {
	w.Listening()
	w.Synced(time.Now())
	c.once.Do(func() { close(c.started) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-c.ch:
			w.Shredded(b)
			w.Synced(time.Now())
		}
	}
}

// send delivers a bucket and waits until the feed has applied it (the
// unbuffered send returns once Follow took it; a second send, of a bucket
// nobody uses, returns once the first was applied).
func (c *chanFeed) send(b uint16) {
	c.ch <- b
	c.ch <- (b + 1) % 4096
}

// TestShredFeed: with a feed, a forget reaches the other process as soon
// as it is delivered (no clock movement), and while the feed keeps up the
// cached keys need no KeyStore read.
func TestShredFeed(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Second})
	feed := newChanFeed()
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- shredfeed.Follow(fctx, f.b, feed.Follow) }()
	<-feed.started
	// A second feed is refused before it runs: with a done ctx, one that
	// ran would return nil.
	done2, cancel2 := context.WithCancel(ctx)
	cancel2()
	require.Error(t, shredfeed.Follow(done2, f.b, feed.Follow), "one feed per Sealer")

	ct, err := f.b.EncryptString(ctx, "x", alice)
	require.NoError(t, err)
	bob := alice
	bob.Subject = "bob"
	ctBob, err := f.b.EncryptString(ctx, "y", bob)
	require.NoError(t, err)

	// The feed vouches: past ShredCheck, no confirmation reads.
	f.clock.Add(2 * time.Second)
	feed.send(shredfeed.Bucket("nobody", "s:nobody")) // a sync after the clock moved
	before := f.store.reads.Load()
	for range 20 {
		_, err = f.b.DecryptString(ctx, ct, alice)
		require.NoError(t, err)
	}
	require.Equal(t, before, f.store.reads.Load(), "the feed is in sync: no KeyStore read")

	require.NoError(t, f.a.ForgetSubject(ctx, "acme", "alice"))
	feed.send(shredfeed.Bucket("acme", "s:alice") + 4096)
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.NoError(t, err, "a number of 4096 or more is not a bucket: ignored")
	require.Equal(t, before, f.store.reads.Load(), "nothing purged, no KeyStore read")
	feed.send(shredfeed.Bucket("acme", "s:alice"))
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.ErrorIs(t, err, envelope.ErrShredded, "delivered: refused at once")
	_, err = f.b.DecryptString(ctx, ctBob, bob)
	require.NoError(t, err, "another subject is untouched")

	// The feed stops: ShredCheck applies again.
	cancel()
	require.NoError(t, <-done)
	f.clock.Add(2 * time.Second)
	before = f.store.reads.Load()
	_, err = f.b.DecryptString(ctx, ctBob, bob)
	require.NoError(t, err)
	require.Greater(t, f.store.reads.Load(), before, "without a feed the key is confirmed by a read")
}

// TestShredFeedFallsBehind: a feed that stops confirming it is in sync
// no longer vouches once ShredCheck passes.
func TestShredFeedFallsBehind(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Second})
	feed := newChanFeed()
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go shredfeed.Follow(fctx, f.b, feed.Follow)
	<-feed.started
	ct, err := f.b.EncryptString(ctx, "x", alice)
	require.NoError(t, err)
	require.NoError(t, f.a.ForgetSubject(ctx, "acme", "alice"))
	// The feed never delivers the forget nor syncs again.
	f.clock.Add(time.Second)
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.ErrorIs(t, err, envelope.ErrShredded)
}
