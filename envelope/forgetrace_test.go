package envelope_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

// txExecutor stands for a caller's transaction: the in-memory store
// ignores it, but the Sealer keeps what it loads under it per call.
type txExecutor struct{ pii.Executor }

var _ pii.Executor = txExecutor{}

func inTx(ctx context.Context) context.Context {
	return pii.WithExecutor(ctx, txExecutor{(*sql.DB)(nil)})
}

// TestForgetBetweenInstallAndUse: a ForgetSubject that lands after a
// lookup cached a new DEK and before the seal uses it marks the DEK spent:
// the seal goes under the next key generation, never under a shredded
// key.
func TestForgetBetweenInstallAndUse(t *testing.T) {
	ctx := context.Background()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(newKP(), &envelope.Options{Store: store})
	require.NoError(t, err)
	fired := false
	envelope.SetTestHook(s, func(p string) {
		if p == "enc:reserve" && !fired {
			fired = true
			require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
		}
	})
	ct, err := s.EncryptString(ctx, "v", aliceB)
	require.NoError(t, err)
	require.True(t, fired)
	require.Equal(t, uint32(1), watermark(t, store, "acme", "alice"))
	require.Equal(t, uint32(2), dekIDOf(t, ct), "sealed under the next generation")
	pt, err := s.DecryptString(ctx, ct, aliceB)
	require.NoError(t, err)
	require.Equal(t, "v", pt)
}

// TestTimeBucketEndsWhileCached: a tenant-scope DEK stops encrypting when
// its time bucket ends, even while its cache entry is still fresh.
func TestTimeBucketEndsWhileCached(t *testing.T) {
	ctx := context.Background()
	clk := piitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Clock: clk,
		BucketPeriod: 24 * time.Hour, Cache: envelope.CacheLimits{MaxAge: time.Hour}})
	require.NoError(t, err)
	b := frozenB
	b.Subject = ""
	ct, err := s.EncryptString(ctx, "day 1", b)
	require.NoError(t, err)
	require.Equal(t, uint32(1), dekIDOf(t, ct))
	clk.Add(23*time.Hour + 30*time.Minute) // the entry expired: reloaded, bucket ends in 30 minutes
	ct, err = s.EncryptString(ctx, "day 1, late", b)
	require.NoError(t, err)
	require.Equal(t, uint32(1), dekIDOf(t, ct))
	clk.Add(45 * time.Minute) // the entry is 45 minutes old, the bucket over
	ct, err = s.EncryptString(ctx, "day 2", b)
	require.NoError(t, err)
	require.Equal(t, uint32(2), dekIDOf(t, ct), "a new bucket, a new DEK")
}

// TestForgetDuringCallInTx: under a transaction a call keeps the keys it
// loads for its own fields; a ForgetSubject that returns during the call
// (here from the ReadCheck, between two fields) stops the call from using
// them, to open or to seal.
func TestForgetDuringCallInTx(t *testing.T) {
	ctx := context.Background()
	type Pair struct {
		ID string `pii:"subject"`
		A  string `pii:"name,encrypt"`
		B  string `pii:"email,encrypt"`
	}
	t.Run("open", func(t *testing.T) {
		kp, store := newKP(), envelope.NewMemoryStore()
		w, err := envelope.New(kp, &envelope.Options{Store: store})
		require.NoError(t, err)
		p := &Pair{ID: "alice", A: "first", B: "second"}
		require.NoError(t, w.Seal(ctx, p))
		// A cold Sealer opens in a transaction: alice's DEK is the call's.
		var s *envelope.Sealer
		forgot := false
		s, err = envelope.New(kp, &envelope.Options{
			Store: store,
			ReadCheck: func(ctx context.Context, _ *pii.Schema, f *pii.Field, _ any) error {
				if f.Path == "B" && !forgot {
					forgot = true
					return s.ForgetSubject(context.Background(), "", "alice")
				}
				return nil
			},
		})
		require.NoError(t, err)
		err = s.Open(inTx(ctx), p)
		require.True(t, forgot)
		require.ErrorIs(t, err, envelope.ErrShredded, "B opened with a key shredded during the call")
		require.Equal(t, "first", p.A)
	})
	t.Run("seal", func(t *testing.T) {
		// The call's DEK for alice is pushed out of the memo (MaxEntries 1)
		// before the forget, so only the call's own check can stop it.
		var s *envelope.Sealer
		var cts []string
		bob := aliceB
		bob.Subject, bob.Record = "bob", "c-2"
		s, err := envelope.New(newKP(), &envelope.Options{
			Store: envelope.NewMemoryStore(),
			Cache: envelope.CacheLimits{MaxEntries: 1},
			ReadCheck: func(ctx context.Context, _ *pii.Schema, f *pii.Field, _ any) error {
				if f.Path != "A" {
					return nil
				}
				for _, step := range []func() error{
					func() error { ct, err := s.EncryptString(ctx, "x", aliceB); cts = append(cts, ct); return err },
					func() error { _, err := s.EncryptString(ctx, "y", bob); return err },
					func() error { return s.ForgetSubject(context.Background(), "acme", "alice") },
					func() error { ct, err := s.EncryptString(ctx, "z", aliceB); cts = append(cts, ct); return err },
				} {
					if err := step(); err != nil {
						return err
					}
				}
				return nil
			},
		})
		require.NoError(t, err)
		p := &Pair{ID: "carol", A: "a"}
		require.NoError(t, s.Seal(ctx, p))
		require.NoError(t, s.Open(inTx(ctx), p))
		require.Len(t, cts, 2)
		require.Equal(t, uint32(1), dekIDOf(t, cts[0]))
		require.Equal(t, uint32(2), dekIDOf(t, cts[1]), "sealed under the next generation, not the shredded DEK")
		pt, err := s.DecryptString(ctx, cts[1], aliceB)
		require.NoError(t, err)
		require.Equal(t, "z", pt)
	})
}
