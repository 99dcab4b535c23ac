package envelope_test

import (
	"context"
	"encoding/base64"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

var aliceB = envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Record: "c-1", Subject: "alice"}

func watermark(t *testing.T, st envelope.KeyStore, tenant, subject string) uint32 {
	t.Helper()
	r, err := st.Latest(context.Background(), envelope.KindTombstone, tenant, "s:"+subject)
	require.NoError(t, err)
	return r.ID
}

// TestForgetSubjectNewGeneration: after ForgetSubject, values sealed
// before stay ErrShredded for good, in this Sealer and in one with a fresh
// cache, while new values seal under a new key generation (a DEK id above
// every shredded one) and open everywhere.
func TestForgetSubjectNewGeneration(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store, Cache: envelope.CacheLimits{MaxMessages: 2}})
	require.NoError(t, err)
	var old []string
	for range 5 { // three DEKs at two messages each
		ct, err := s.EncryptString(ctx, "old", aliceB)
		require.NoError(t, err)
		old = append(old, ct)
	}
	require.Equal(t, uint32(3), dekIDOf(t, old[4]))
	bob := aliceB
	bob.Subject, bob.Record = "bob", "c-2"
	bobCT, err := s.EncryptString(ctx, "bob's", bob)
	require.NoError(t, err)

	for gen := range 3 {
		require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
		wm := watermark(t, store, "acme", "alice")
		other, err := envelope.New(kp, &envelope.Options{Store: store})
		require.NoError(t, err)
		for _, x := range []*envelope.Sealer{s, other} {
			for _, ct := range old {
				pt, err := x.DecryptString(ctx, ct, aliceB)
				require.ErrorIs(t, err, envelope.ErrShredded, "generation %d", gen)
				require.Empty(t, pt)
			}
			pt, err := x.DecryptString(ctx, bobCT, bob)
			require.NoError(t, err, "other subjects are untouched")
			require.Equal(t, "bob's", pt)
		}
		// New values: a new generation, readable in both Sealers.
		ct, err := s.EncryptString(ctx, "new", aliceB)
		require.NoError(t, err)
		require.Greater(t, dekIDOf(t, ct), wm)
		ct2, err := other.EncryptString(ctx, "new2", aliceB)
		require.NoError(t, err)
		require.Greater(t, dekIDOf(t, ct2), wm)
		for _, x := range []*envelope.Sealer{s, other} {
			pt, err := x.DecryptString(ctx, ct, aliceB)
			require.NoError(t, err)
			require.Equal(t, "new", pt)
			pt, err = x.DecryptString(ctx, ct2, aliceB)
			require.NoError(t, err)
			require.Equal(t, "new2", pt)
		}
		old = append(old, ct, ct2) // shredded by the next round
	}
}

// TestCloseSubject: CloseSubject shreds like ForgetSubject and refuses
// new values with ErrShredded, persistently and in every Sealer sharing
// the store; ForgetSubject afterwards does not reopen the subject.
func TestCloseSubject(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	clk := piitest.NewClock(time.Now())
	warm, err := envelope.New(kp, &envelope.Options{Clock: clk, Store: store, Cache: envelope.CacheLimits{MaxAge: time.Minute}})
	require.NoError(t, err)
	ct, err := s.EncryptString(ctx, "v", aliceB)
	require.NoError(t, err)
	_, err = warm.EncryptString(ctx, "w", aliceB) // warm holds alice's DEK
	require.NoError(t, err)

	require.NoError(t, s.CloseSubject(ctx, "acme", "alice"))
	require.Equal(t, closedWatermark, watermark(t, store, "acme", "alice"))
	require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"), "forgetting a closed subject is fine ...")
	require.Equal(t, closedWatermark, watermark(t, store, "acme", "alice"), "... and keeps it closed")

	fresh, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	clk.Add(2 * time.Minute) // warm's cached DEK expired
	for name, x := range map[string]*envelope.Sealer{"closer": s, "fresh": fresh, "warm after MaxAge": warm} {
		out, err := x.EncryptString(ctx, "new", aliceB)
		require.ErrorIs(t, err, envelope.ErrShredded, name)
		require.Empty(t, out)
		c := sampleCustomer()
		require.ErrorIs(t, x.Seal(ctx, c), envelope.ErrShredded, name)
		_, err = x.DecryptString(ctx, ct, aliceB)
		require.ErrorIs(t, err, envelope.ErrShredded, name)
	}
	// Others in the tenant, and alice in another tenant, are not closed.
	g := aliceB
	g.Tenant = "globex"
	_, err = s.EncryptString(ctx, "v", g)
	require.NoError(t, err)
	require.ErrorContains(t, s.CloseSubject(ctx, "acme", ""), "empty subject")
}

// TestForgetClearsFrontCaches: the subject's DEK, used through the same
// Sealer right before forgetting (so it sits in the one-entry front
// caches of encrypt and decrypt), is gone when ForgetSubject returns: the
// old value is ErrShredded and no new value is sealed under its id.
func TestForgetClearsFrontCaches(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	ct, err := s.EncryptString(ctx, "v", aliceB)
	require.NoError(t, err)
	_, err = s.DecryptString(ctx, ct, aliceB)
	require.NoError(t, err)
	_, err = s.EncryptString(ctx, "v", aliceB) // front cache hit
	require.NoError(t, err)
	require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
	_, err = s.DecryptString(ctx, ct, aliceB)
	require.ErrorIs(t, err, envelope.ErrShredded)
	ct2, err := s.EncryptString(ctx, "v", aliceB)
	require.NoError(t, err)
	require.Greater(t, dekIDOf(t, ct2), dekIDOf(t, ct), "no seal under the shredded DEK")
	// Bytes too.
	bin, err := s.EncryptBytes(ctx, []byte("v"), aliceB)
	require.NoError(t, err)
	require.Greater(t, uint32(bin[3]), dekIDOf(t, ct))
}

// TestForgetRacesLookups forces ForgetSubject into the window between a
// key lookup and its caching, in encrypt (loading the newest DEK, and
// creating one) and decrypt: nothing loaded before the forget is used or
// cached after it.
func TestForgetRacesLookups(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		point string
		run   func(t *testing.T, s *envelope.Sealer, old string)
	}{
		{"encrypt loads the newest DEK", "enc:install", func(t *testing.T, s *envelope.Sealer, old string) {
			ct, err := s.EncryptString(ctx, "new", aliceB)
			require.NoError(t, err)
			require.Greater(t, dekIDOf(t, ct), dekIDOf(t, old), "sealed under a new generation")
			pt, err := s.DecryptString(ctx, ct, aliceB)
			require.NoError(t, err)
			require.Equal(t, "new", pt)
		}},
		{"decrypt loads the DEK", "dec:install", func(t *testing.T, s *envelope.Sealer, old string) {
			pt, err := s.DecryptString(ctx, old, aliceB)
			require.ErrorIs(t, err, envelope.ErrShredded)
			require.Empty(t, pt)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kp := newKP()
			store := envelope.NewMemoryStore()
			writer, err := envelope.New(kp, &envelope.Options{Store: store})
			require.NoError(t, err)
			old, err := writer.EncryptString(ctx, "old", aliceB)
			require.NoError(t, err)
			s, err := envelope.New(kp, &envelope.Options{Store: store}) // cold
			require.NoError(t, err)
			fired := 0
			envelope.SetTestHook(s, func(p string) {
				if p == tc.point && fired == 0 {
					fired++
					require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
				}
			})
			tc.run(t, s, old)
			require.Equal(t, 1, fired)
			envelope.SetTestHook(s, nil)
			// Afterwards the old value stays shredded through every cache.
			_, err = s.DecryptString(ctx, old, aliceB)
			require.ErrorIs(t, err, envelope.ErrShredded)
		})
	}

	t.Run("encrypt creates a DEK", func(t *testing.T) {
		store := envelope.NewMemoryStore()
		s, err := envelope.New(newKP(), &envelope.Options{Store: store})
		require.NoError(t, err)
		fired := 0
		envelope.SetTestHook(s, func(p string) {
			if p == "enc:install" && fired == 0 {
				fired++
				// The DEK just made (id 1) is shredded before it is cached.
				require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
			}
		})
		ct, err := s.EncryptString(ctx, "new", aliceB)
		require.NoError(t, err)
		require.Equal(t, 1, fired)
		require.Equal(t, uint32(2), dekIDOf(t, ct))
		require.Equal(t, uint32(1), watermark(t, store, "acme", "alice"))
		pt, err := s.DecryptString(ctx, ct, aliceB)
		require.NoError(t, err)
		require.Equal(t, "new", pt)
	})

	t.Run("another process forgets between insert and check", func(t *testing.T) {
		// The writer inserts DEK n; another Sealer forgets the subject
		// before the writer checks the watermark: the writer must not use
		// DEK n (it is shredded everywhere) and makes n+1.
		kp := newKP()
		store := envelope.NewMemoryStore()
		s, err := envelope.New(kp, &envelope.Options{Store: store})
		require.NoError(t, err)
		other, err := envelope.New(kp, &envelope.Options{Store: store})
		require.NoError(t, err)
		st := &swapStore{KeyStore: store}
		w, err := envelope.New(kp, &envelope.Options{Store: st})
		require.NoError(t, err)
		_, err = s.EncryptString(ctx, "x", aliceB)
		require.NoError(t, err)
		fired := false
		st.swap = func(op string, asked envelope.KeyRef) (envelope.Record, bool) {
			if op == "insert" && asked.Kind == envelope.KindDEK && !fired {
				fired = true
				// Runs after the insert, before the Sealer's check.
				require.NoError(t, other.ForgetSubject(ctx, "acme", "alice"))
			}
			return envelope.Record{}, false
		}
		// Make w create a DEK: forget first so that DEK 1 is dead.
		require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
		ct, err := w.EncryptString(ctx, "new", aliceB)
		require.NoError(t, err)
		require.True(t, fired)
		require.Equal(t, uint32(2), watermark(t, store, "acme", "alice"))
		require.Equal(t, uint32(3), dekIDOf(t, ct))
		pt, err := other.DecryptString(ctx, ct, aliceB)
		require.NoError(t, err)
		require.Equal(t, "new", pt)
	})
}

// TestForgetStopsWritesConcurrently: sealers and openers run while the
// subject is forgotten again and again; every seal that starts after a
// ForgetSubject returned names a DEK above that forget's watermark.
// Run under -race.
func TestForgetStopsWritesConcurrently(t *testing.T) {
	ctx := context.Background()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(newKP(), &envelope.Options{Store: store})
	require.NoError(t, err)
	var published atomic.Uint32 // watermark of the last forget that returned
	var seals atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				wm := published.Load()
				ct, err := s.EncryptString(ctx, "v", aliceB)
				if err != nil {
					errs <- err
					return
				}
				b, _ := base64.RawURLEncoding.DecodeString(ct[5:])
				if id := uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]); id <= wm {
					errs <- &idError{id, wm}
					return
				}
				_, _ = s.DecryptString(ctx, ct, aliceB) // opens, or is shredded meanwhile
				seals.Add(1)
			}
		}()
	}
	for range 30 {
		require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
		published.Store(watermark(t, store, "acme", "alice"))
		for n := seals.Load(); seals.Load() < n+4; {
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

type idError struct{ id, wm uint32 }

func (e *idError) Error() string { return "sealed under a shredded DEK id" }

// TestDEKAtWatermarkNotUsed: a DEK row at or below the watermark (left by
// a writer that raced a Forget, or put back by hand) is never used to
// seal: the next value takes a new generation.
func TestDEKAtWatermarkNotUsed(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	_, err = s.EncryptString(ctx, "old", aliceB)
	require.NoError(t, err)
	row, err := store.Get(ctx, dek("acme", "alice", 1))
	require.NoError(t, err)
	require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
	_, inserted, err := store.Insert(ctx, row)
	require.NoError(t, err)
	require.True(t, inserted)
	fresh, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	for _, x := range []*envelope.Sealer{s, fresh} {
		ct, err := x.EncryptString(ctx, "new", aliceB)
		require.NoError(t, err)
		require.Equal(t, uint32(2), dekIDOf(t, ct), "not the DEK at the watermark")
	}
}

// closedWatermark is the tombstone id of a closed subject: the largest DEK
// id (2^24-1).
const closedWatermark uint32 = 1<<24 - 1
