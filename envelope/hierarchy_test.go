package envelope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

// Ten encrypted fields per record.
type Profile struct {
	Subject string `pii:"subject"`
	F0      string `pii:"name,encrypt"`
	F1      string `pii:"email,encrypt"`
	F2      string `pii:"phone,encrypt"`
	F3      string `pii:"address,encrypt"`
	F4      string `pii:"postcode,encrypt"`
	F5      string `pii:"dob,encrypt"`
	F6      string `pii:"national_id,encrypt"`
	F7      string `pii:"iban,encrypt"`
	F8      string `pii:"ip,encrypt"`
	F9      []byte `pii:"location,encrypt"`
	Tenant  string `pii:"tenant"`
}

func TestKMSCallsGrowWithBranchKeys(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	const subjects = 10_000
	recs := make([]Profile, subjects)
	for i := range recs {
		v := "value-" + strconv.Itoa(i)
		recs[i] = Profile{Subject: "s" + strconv.Itoa(i), Tenant: "acme", F0: v, F1: v, F2: v, F3: v, F4: v, F5: v, F6: v, F7: v, F8: v, F9: []byte(v)}
		require.NoError(t, s.Seal(ctx, &recs[i]))
	}
	require.LessOrEqual(t, kp.Wraps.Load(), int64(2), "wrap calls for 100,000 fields")
	require.Equal(t, int64(0), kp.Unwraps.Load())

	cold, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	for i := range recs {
		require.NoError(t, cold.Open(ctx, &recs[i]))
		require.Equal(t, "value-"+strconv.Itoa(i), recs[i].F3)
	}
	require.LessOrEqual(t, kp.Unwraps.Load(), int64(2), "unwrap calls opening 100,000 fields from a cold cache")
}

func TestConcurrentSealOpen(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		kp := newKP()
		s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline, Cache: envelope.CacheLimits{MaxMessages: 50}})
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					v := fmt.Sprintf("g%d-i%d", g, i)
					p := Profile{Subject: fmt.Sprintf("s%d", i%5), Tenant: fmt.Sprintf("t%d", g%3), F0: v, F5: v, F9: []byte(v)}
					if err := s.Seal(ctx, &p); err != nil {
						errs <- err
						return
					}
					if err := s.Open(ctx, &p); err != nil {
						errs <- err
						return
					}
					if p.F0 != v || string(p.F9) != v {
						errs <- fmt.Errorf("round trip mismatch %q", p.F0)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}

func TestMaxMessagesMakesNewDEK(t *testing.T) {
	ctx := context.Background()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(newKP(), &envelope.Options{Store: store, Cache: envelope.CacheLimits{MaxMessages: 3}})
	require.NoError(t, err)
	b := frozenB
	var cts []string
	for range 10 {
		ct, err := s.EncryptString(ctx, "x", b)
		require.NoError(t, err)
		cts = append(cts, ct)
	}
	recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
	require.NoError(t, err)
	require.Len(t, recs, 4, "10 messages at 3 per DEK")
	for _, ct := range cts {
		pt, err := s.DecryptString(ctx, ct, b)
		require.NoError(t, err)
		require.Equal(t, "x", pt)
	}
}

func TestMaxBytesMakesNewDEK(t *testing.T) {
	ctx := context.Background()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(newKP(), &envelope.Options{Store: store, Cache: envelope.CacheLimits{MaxBytes: 10}})
	require.NoError(t, err)
	for range 3 {
		_, err := s.EncryptString(ctx, "123456", frozenB)
		require.NoError(t, err)
	}
	recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
	require.NoError(t, err)
	require.Len(t, recs, 3, "6 bytes each, 10 per DEK")
}

func TestTimeBucketsForTenantScope(t *testing.T) {
	ctx := context.Background()
	store := envelope.NewMemoryStore()
	clk := piitest.NewClock(time.Now())
	s, err := envelope.New(newKP(), &envelope.Options{Clock: clk, Store: store, BucketPeriod: 24 * time.Hour, Cache: envelope.CacheLimits{MaxAge: time.Hour}})
	require.NoError(t, err)
	b := frozenB
	b.Subject = ""
	old, err := s.EncryptString(ctx, "day 1", b)
	require.NoError(t, err)
	clk.Add(25 * time.Hour)
	_, err = s.EncryptString(ctx, "day 2", b)
	require.NoError(t, err)
	recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "t", recs[0].Scope)
	pt, err := s.DecryptString(ctx, old, b)
	require.NoError(t, err)
	require.Equal(t, "day 1", pt)
}

func TestCacheMaxEntriesEvicts(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore(), Cache: envelope.CacheLimits{MaxEntries: 20}})
	require.NoError(t, err)
	var cts []string
	for i := range 100 {
		b := frozenB
		b.Subject = strconv.Itoa(i)
		ct, err := s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
		cts = append(cts, ct)
	}
	require.Positive(t, s.Stats().Evictions)
	for i, ct := range cts {
		b := frozenB
		b.Subject = strconv.Itoa(i)
		_, err := s.DecryptString(ctx, ct, b)
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), kp.Wraps.Load(), "evicted DEKs come back from the store, not the KMS")
}

// TestCacheEvictsOldestFirst: a full cache evicts the DEK loaded first,
// one per key loaded, and never holds more than MaxEntries. (Map order
// would pick the first subject once in 50 runs.)
func TestCacheEvictsOldestFirst(t *testing.T) {
	ctx := context.Background()
	const max = 50
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Cache: envelope.CacheLimits{MaxEntries: max}})
	require.NoError(t, err)
	seal := func(i int) {
		b := frozenB
		b.Subject = strconv.Itoa(i)
		_, err := s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
	}
	for i := range max {
		seal(i)
	}
	require.Zero(t, s.Stats().Evictions)
	for i := max; i < max+10; i++ {
		seal(i)
		cached, _ := envelope.CacheSizes(s)
		require.LessOrEqual(t, cached, max)
		evicted := i - max // subjects 0..evicted are gone, the rest kept
		for j := 0; j <= i; j++ {
			require.Equal(t, j > evicted, envelope.CachedScope(s, frozenB.Tenant, strconv.Itoa(j)), "subject %d after subject %d", j, i)
		}
	}
	require.Equal(t, uint64(10), s.Stats().Evictions)
}

// TestForgetKeepsOtherTenantsKeys: the same subject id in two tenants is
// two data subjects; forgetting one drops only its cached keys.
func TestForgetKeepsOtherTenantsKeys(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	cts := map[string]string{}
	for _, tenant := range []string{"acme", "globex"} {
		b := frozenB
		b.Tenant, b.Subject = tenant, "alice"
		cts[tenant], err = s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
		require.True(t, envelope.CachedScope(s, tenant, "alice"))
	}
	require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
	require.False(t, envelope.CachedScope(s, "acme", "alice"))
	require.True(t, envelope.CachedScope(s, "globex", "alice"), "the other tenant's alice keeps her cached key")
	b := frozenB
	b.Tenant, b.Subject = "globex", "alice"
	pt, err := s.DecryptString(ctx, cts["globex"], b)
	require.NoError(t, err)
	require.Equal(t, "v", pt)
	b.Tenant = "acme"
	_, err = s.DecryptString(ctx, cts["acme"], b)
	require.ErrorIs(t, err, envelope.ErrShredded)
}

// TestCacheEvictQueueBounded: DEKs dropped from the cache by forgets do
// not pile up in the eviction queue.
func TestCacheEvictQueueBounded(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Cache: envelope.CacheLimits{MaxEntries: 100}})
	require.NoError(t, err)
	for i := range 5000 {
		b := frozenB
		b.Subject = strconv.Itoa(i)
		_, err := s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
		require.NoError(t, s.ForgetSubject(ctx, b.Tenant, b.Subject))
		cached, queued := envelope.CacheSizes(s)
		require.Zero(t, cached)
		require.LessOrEqual(t, queued, 1024)
	}
}

func TestOutageGrace(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		kp := newKP()
		// A Client without retries and breaker: the test is about the
		// Sealer's grace, not the Client's policy.
		c := keyprovider.NewClient(kp, &keyprovider.ClientOptions{MaxAttempts: 1, BreakerThreshold: -1})
		clk := piitest.NewClock(time.Now())
		s, err := envelope.New(c, &envelope.Options{Clock: clk, Store: envelope.NewMemoryStore(), Inline: inline, Cache: envelope.CacheLimits{MaxAge: time.Minute}, OutageGrace: 5 * time.Minute})
		require.NoError(t, err)
		ct, err := s.EncryptString(ctx, "v", frozenB)
		require.NoError(t, err)
		det, err := s.EncryptDeterministic(ctx, "d", frozenB)
		require.NoError(t, err)
		_, err = s.DecryptString(ctx, ct, frozenB)
		require.NoError(t, err)

		kp.SetDown(true)
		clk.Add(3 * time.Minute) // past MaxAge, within MaxAge+grace
		pt, err := s.DecryptString(ctx, ct, frozenB)
		require.NoError(t, err, "inline %v: decrypts keep working during the outage", inline)
		require.Equal(t, "v", pt)
		_, err = s.DecryptString(ctx, det, frozenB)
		require.NoError(t, err)
		_, err = s.EncryptString(ctx, "new", frozenB)
		require.ErrorIs(t, err, keyprovider.ErrUnavailable, "encryption fails closed")
		require.Positive(t, s.Stats().StaleServed)

		clk.Add(4 * time.Minute) // past MaxAge+grace
		_, err = s.DecryptString(ctx, ct, frozenB)
		require.ErrorIs(t, err, keyprovider.ErrUnavailable, "then decrypts fail closed")
		require.NotErrorIs(t, err, envelope.ErrDecrypt)

		kp.SetDown(false)
		_, err = s.DecryptString(ctx, ct, frozenB)
		require.NoError(t, err, "and recover")
	}
}

func TestRedaction(t *testing.T) {
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	_, err = s.EncryptString(context.Background(), "x", frozenB)
	require.NoError(t, err)
	// %p and %T print the address and the type name, never contents.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%o", "%b", "%e", "%8.3v", "%-10s"} {
		require.Contains(t, fmt.Sprintf(verb, s), "[REDACTED]", verb)
		require.Contains(t, fmt.Sprintf(verb, []any{s}), "[REDACTED]", verb)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "sealer", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "sealer", s)
	require.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("[REDACTED]")))
	j, err := json.Marshal(struct{ S *envelope.Sealer }{s})
	require.NoError(t, err)
	require.Contains(t, string(j), "[REDACTED]")
	envelope.CheckSecretRedaction(t)
}

// TestKeySpentBeforeReserve: seals that reserve without the creation lock
// may take every message of a DEK another seal has just made, between its
// install and its own reserve. That seal then makes the next DEK; it does
// not fail with ErrLimit (which TestConcurrentSealOpen hit now and then).
func TestKeySpentBeforeReserve(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		inline bool
		point  string
	}{{false, "enc:reserve"}, {true, "inline:reserve"}} {
		t.Run(tc.point, func(t *testing.T) {
			kp := newKP()
			store := envelope.NewMemoryStore()
			s, err := envelope.New(kp, &envelope.Options{Store: store, Inline: tc.inline,
				Cache: envelope.CacheLimits{MaxMessages: 2, MessageBlock: 2}})
			require.NoError(t, err)
			fired := 0
			envelope.SetTestHook(s, func(p string) {
				if p != tc.point || fired > 0 {
					return
				}
				fired++
				for range 2 { // the new DEK's two messages, taken first
					_, err := s.EncryptString(ctx, "other", aliceB)
					require.NoError(t, err)
				}
			})
			ct, err := s.EncryptString(ctx, "v", aliceB)
			require.NoError(t, err)
			require.Equal(t, 1, fired)
			if tc.inline { // inline DEKs are wrapped by the key provider
				require.Equal(t, int64(2), kp.Wraps.Load(), "a second DEK was made")
			} else {
				recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
				require.NoError(t, err)
				require.Len(t, recs, 2, "a second DEK was made")
			}
			pt, err := s.DecryptString(ctx, ct, aliceB)
			require.NoError(t, err)
			require.Equal(t, "v", pt)
		})
	}
}

// TestValueLongerThanMaxBytes: a value no DEK may encrypt fails with
// ErrLimit before any key is made or spent on it.
func TestValueLongerThanMaxBytes(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		kp := newKP()
		store := envelope.NewMemoryStore()
		s, err := envelope.New(kp, &envelope.Options{Store: store, Inline: inline, Cache: envelope.CacheLimits{MaxBytes: 10}})
		require.NoError(t, err)
		_, err = s.EncryptString(ctx, "eleven char", aliceB)
		require.ErrorIs(t, err, envelope.ErrLimit)
		require.Zero(t, kp.Wraps.Load(), "no key made")
		recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
		require.NoError(t, err)
		require.Empty(t, recs)
		ct, err := s.EncryptString(ctx, "ten chars!", aliceB)
		require.NoError(t, err)
		wraps := kp.Wraps.Load()
		_, err = s.EncryptString(ctx, "eleven char", aliceB)
		require.ErrorIs(t, err, envelope.ErrLimit)
		_, err = s.EncryptString(ctx, "", aliceB)
		require.NoError(t, err)
		require.Equal(t, wraps, kp.Wraps.Load(), "the current key was not spent on a value it cannot take")
		recs, err = store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
		require.NoError(t, err)
		require.LessOrEqual(t, len(recs), 1)
		pt, err := s.DecryptString(ctx, ct, aliceB)
		require.NoError(t, err)
		require.Equal(t, "ten chars!", pt)
	}
}
