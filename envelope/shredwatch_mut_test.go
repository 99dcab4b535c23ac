package envelope_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/shredfeed"
	"github.com/stretchr/testify/require"
)

// TestShredFeedVouchesOnlyFromListening: a feed vouches for keys the
// store showed alive after it started listening, not for keys cached
// before, whose subjects may have been forgotten while nobody listened.
func TestShredFeedVouchesOnlyFromListening(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Second})
	ct, err := f.b.EncryptString(ctx, "x", alice) // cached before the feed
	require.NoError(t, err)
	require.NoError(t, f.a.ForgetSubject(ctx, "acme", "alice")) // nobody listens yet
	f.clock.Add(500 * time.Millisecond)
	feed := newChanFeed()
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go shredfeed.Follow(fctx, f.b, feed.Follow)
	<-feed.started
	f.clock.Add(600 * time.Millisecond) // past ShredCheck since the key was checked
	feed.send(shredfeed.Bucket("nobody", "s:nobody"))
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.ErrorIs(t, err, envelope.ErrShredded, "a key cached before the feed listened is confirmed by a read")
}

// TestShredFeedRacesLookup: a forget the feed delivers while a lookup of
// the subject's key is between its read of the store and its install
// keeps that lookup from installing what it read.
func TestShredFeedRacesLookup(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{ShredCheck: time.Hour})
	ct, err := f.a.EncryptString(ctx, "x", alice)
	require.NoError(t, err)
	feed := newChanFeed()
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go shredfeed.Follow(fctx, f.b, feed.Follow)
	<-feed.started
	var once sync.Once
	var raced atomic.Bool
	envelope.SetTestHook(f.b, func(point string) {
		if point != "dec:install" {
			return
		}
		once.Do(func() {
			// b read alice's DEK row; now another process forgets her and
			// the feed delivers it before b installs the key.
			require.NoError(t, f.a.ForgetSubject(ctx, "acme", "alice"))
			feed.send(shredfeed.Bucket("acme", "s:alice"))
			raced.Store(true)
		})
	})
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.True(t, raced.Load())
	require.ErrorIs(t, err, envelope.ErrShredded, "the lookup that raced the delivered forget starts again and finds the tombstone")
	_, err = f.b.DecryptString(ctx, ct, alice)
	require.ErrorIs(t, err, envelope.ErrShredded, "and nothing stale was cached")
}

// reserveCounter counts KeyStore.Reserve calls.
type reserveCounter struct {
	envelope.KeyStore
	n atomic.Int64
}

func (r *reserveCounter) Reserve(ctx context.Context, ref envelope.KeyRef, n, limit uint64) (uint64, error) {
	r.n.Add(1)
	return r.KeyStore.Reserve(ctx, ref, n, limit)
}

// TestReloadKeepsReservedBlock: a DEK reloaded after Cache.MaxAge keeps
// the messages this process reserved under it: no new reservation until
// they are used.
func TestReloadKeepsReservedBlock(t *testing.T) {
	ctx := t.Context()
	f := newFleet(t, envelope.CacheLimits{MaxAge: time.Minute, MessageBlock: 100})
	rc := &reserveCounter{KeyStore: f.store}
	s, err := envelope.New(newKP(), &envelope.Options{Store: rc, Clock: f.clock, Cache: envelope.CacheLimits{MaxAge: time.Minute, MessageBlock: 100}})
	require.NoError(t, err)
	for range 10 {
		_, err := s.EncryptString(ctx, "v", alice)
		require.NoError(t, err)
	}
	require.Zero(t, rc.n.Load(), "a new DEK comes with its first block")
	f.clock.Add(2 * time.Minute) // past MaxAge: reloaded
	for range 10 {
		_, err := s.EncryptString(ctx, "v", alice)
		require.NoError(t, err)
	}
	require.Zero(t, rc.n.Load(), "the reloaded DEK keeps the 90 messages still reserved")
}

// lyingReserve answers every Reserve with a count the Sealer did not ask
// for.
type lyingReserve struct {
	envelope.KeyStore
	used func(n, limit uint64) uint64
}

func (l lyingReserve) Reserve(ctx context.Context, ref envelope.KeyRef, n, limit uint64) (uint64, error) {
	if _, err := l.KeyStore.Reserve(ctx, ref, n, limit); err != nil {
		return 0, err
	}
	return l.used(n, limit), nil
}

// TestReserveAnswerChecked: a Reserve answer that cannot be right (past
// the limit, or below the block asked for) is not taken as a block: the
// DEK encrypts nothing more and the error matches ErrDecrypt (a key store
// row other than the one asked for).
func TestReserveAnswerChecked(t *testing.T) {
	for name, used := range map[string]func(n, limit uint64) uint64{
		"past the limit":  func(n, limit uint64) uint64 { return limit + 1 },
		"below the block": func(n, limit uint64) uint64 { return n - 1 },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := lyingReserve{envelope.NewMemoryStore(), used}
			s, err := envelope.New(newKP(), &envelope.Options{Store: st, Cache: envelope.CacheLimits{MaxMessages: 100, MessageBlock: 10}})
			require.NoError(t, err)
			// The first block comes with the new DEK; the second is asked
			// of Reserve.
			for range 10 {
				_, err := s.EncryptString(ctx, "v", alice)
				require.NoError(t, err)
			}
			_, err = s.EncryptString(ctx, "v", alice)
			require.ErrorIs(t, err, envelope.ErrDecrypt)
		})
	}
}
