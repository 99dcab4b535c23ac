package guard

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/retention"
)

// seedRotation protects and stores customers and tickets of two tenants.
func seedRotation(t *testing.T, f *gfix) (*stores, []gcust) {
	ctx := context.Background()
	st := registerStores(t, f)
	var out []gcust
	for _, tenant := range []string{"acme", "globex"} {
		for _, id := range []string{"c1", "c2", "c3"} {
			c := newCust(tenant, id)
			require.NoError(t, f.g.Protect(ctx, &c))
			st.put(t, &c)
			out = append(out, c)
			k := gticket{ID: "t" + id[1:], Customer: id, Tenant: tenant, Body: "hello " + id, Ref: "REF" + id + "XYZ", CreatedAt: t0}
			require.NoError(t, f.g.Protect(ctx, &k))
			st.put(t, &k)
		}
	}
	return st, out
}

func versionStatus(t *testing.T, f *gfix, v string) (keyprovider.Status, bool) {
	vs, err := f.kp.Versions(context.Background())
	require.NoError(t, err)
	for _, x := range vs {
		if x.ID.Version == v {
			return x.Status, x.Primary
		}
	}
	t.Fatalf("version %s not found", v)
	return "", false
}

func TestRotate(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		_, custs := seedRotation(t, f)
		old := f.kp.Primary()
		var steps []string
		err := f.g.Rotate(ctx, &RotateOptions{DisableOld: true, RotateBranchKeys: true, BatchSize: 2, Progress: func(step string, _, _ int64) {
			if len(steps) == 0 || steps[len(steps)-1] != step {
				steps = append(steps, step)
			}
		}})
		require.NoError(t, err)
		require.Equal(t, []string{"add", "prove", "promote", "prove", "rewrap", "rotate branch keys", "rewrap data keys", "verify", "disable"}, steps)
		now := f.kp.Primary()
		require.NotEqual(t, old.Version, now.Version)
		st, _ := versionStatus(t, f, old.Version)
		require.Equal(t, keyprovider.StatusDisabled, st)

		// Every KMS-wrapped key, the Guard's secrets included, is under
		// the new version, and every data key under a new branch key.
		for _, k := range []envelope.Kind{envelope.KindBranch, envelope.KindSearch, envelope.KindSecret} {
			require.NoError(t, listAll(ctx, f.g.keys, k, func(r envelope.Record) error {
				require.Equal(t, now.String(), r.KEK, "%s %s/%s", r.Kind, r.Tenant, r.Scope)
				return nil
			}))
		}
		require.NoError(t, listAll(ctx, f.g.keys, envelope.KindDEK, func(r envelope.Record) error {
			require.EqualValues(t, 2, r.Parent)
			return nil
		}))

		// A new Guard (cold caches) on the same keys opens everything,
		// with the old version disabled.
		cold := f.g
		if f.db != nil {
			var err error
			cold, err = New(f.kp, f.db, &Options{Clock: f.clock})
			require.NoError(t, err)
		}
		for _, c := range custs {
			o := c
			require.NoError(t, cold.Open(ctx, &o, permitAll))
			require.Equal(t, "Ada Lovelace", o.Name)
			require.Equal(t, "+44 20 7946 0958", o.Phone)
		}

		// A second call starts a new rotation.
		require.NoError(t, f.g.Rotate(ctx, nil))
		require.NotEqual(t, now.Version, f.kp.Primary().Version)
	})
}

// Interrupted in the middle of the rewrap, Rotate resumes where it stopped
// and adds no second version.
func TestRotateResumes(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		seedRotation(t, f)
		before, err := f.kp.Versions(ctx)
		require.NoError(t, err)
		stop := errors.New("killed")
		cctx, cancel := context.WithCancelCause(ctx)
		batches := 0
		err = f.g.Rotate(cctx, &RotateOptions{BatchSize: 1, Progress: func(step string, done, _ int64) {
			if step == "rewrap" {
				batches++
				if batches == 3 {
					cancel(stop)
				}
			}
		}})
		require.Error(t, err)
		cursor, err := f.g.rotState().get(ctx, rsRewrap)
		require.NoError(t, err)
		require.NotEmpty(t, cursor, "the position is kept")

		require.NoError(t, f.g.Rotate(ctx, &RotateOptions{BatchSize: 1, DisableOld: true}))
		after, err := f.kp.Versions(ctx)
		require.NoError(t, err)
		require.Len(t, after, len(before)+1, "one version added in all")
		step, err := f.g.rotState().get(ctx, rsStep)
		require.NoError(t, err)
		require.Equal(t, stepDone, step)
	})
}

// A second reader that cannot unwrap under the new version stops the
// rotation before anything is rewrapped, with the old version primary.
func TestRotateSecondReaderFails(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	seedRotation(t, f)
	old := f.kp.Primary()
	err := f.g.Rotate(ctx, &RotateOptions{SecondReader: func(context.Context) (keyprovider.KeyProvider, error) {
		return blind{}, nil
	}})
	require.ErrorContains(t, err, "second reader cannot unwrap")
	require.Equal(t, old.Version, f.kp.Primary().Version, "the old version is primary again")
	require.NoError(t, listAll(ctx, f.g.keys, envelope.KindBranch, func(r envelope.Record) error {
		require.Equal(t, old.String(), r.KEK)
		return nil
	}))
}

type blind struct{}

func (blind) Wrap(context.Context, []byte, []byte) ([]byte, keyprovider.KeyID, error) {
	return nil, keyprovider.KeyID{}, errors.New("no")
}
func (blind) Unwrap(context.Context, []byte, []byte) ([]byte, error) {
	return nil, keyprovider.ErrKeyNotFound
}

// A record that does not open after the rewrap keeps the old version.
func TestRotateVerifyFailureKeepsOld(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	seedRotation(t, f)
	bad := newCust("acme", "c9")
	require.NoError(t, f.g.Protect(ctx, &bad))
	bad.Name = bad.Email // sealed for another field: does not open
	ms, err := newMemStore(f)
	require.NoError(t, err)
	require.NoError(t, ms.Put(&bad, t0))
	old := f.kp.Primary()
	err = f.g.Rotate(ctx, &RotateOptions{DisableOld: true})
	require.ErrorIs(t, err, ErrRotateVerify)
	st, _ := versionStatus(t, f, old.Version)
	require.Equal(t, keyprovider.StatusEnabled, st)
}

func newMemStore(f *gfix) (*retention.MemoryStore, error) {
	ms, err := retention.NewMemoryStore(&gcust{}, nil)
	if err != nil {
		return nil, err
	}
	return ms, f.g.Register(ms)
}

// lossyStore loses the replacement of search root keys (a Replace that
// reports success and changes nothing) and can lie on Get.
type lossyStore struct {
	envelope.KeyStore
	lie bool
}

func (l *lossyStore) Replace(ctx context.Context, old, rec envelope.Record) error {
	if rec.Kind == envelope.KindSearch {
		return nil
	}
	return l.KeyStore.Replace(ctx, old, rec)
}

func (l *lossyStore) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	r, err := l.KeyStore.Get(ctx, ref)
	if l.lie && err == nil {
		r.ID++
	}
	return r, err
}

// memGuardOn builds a memory Guard over the key store ks.
func memGuardOn(t *testing.T, wrap func(envelope.KeyStore) envelope.KeyStore) *gfix {
	f := memGuard(t)
	f.g.keys = wrap(f.g.keys)
	var err error
	f.g.seal, err = envelope.New(f.g.kp, &envelope.Options{Store: f.g.keys, Clock: f.clock, ReadCheck: f.g.readCheck})
	require.NoError(t, err)
	return f
}

// A key the rewrap did not move (a lost update) fails the verification:
// the old version is kept.
func TestRotateVerifiesKEKs(t *testing.T) {
	ctx := context.Background()
	f := memGuardOn(t, func(ks envelope.KeyStore) envelope.KeyStore { return &lossyStore{KeyStore: ks} })
	seedRotation(t, f)
	old := f.kp.Primary()
	err := f.g.Rotate(ctx, &RotateOptions{DisableOld: true})
	require.ErrorIs(t, err, ErrRotateVerify)
	require.ErrorContains(t, err, "KMS-wrapped keys are not under")
	st, _ := versionStatus(t, f, old.Version)
	require.Equal(t, keyprovider.StatusEnabled, st)
}

// BreachReport checks the data key row it reads.
func TestBreachChecksKeyRows(t *testing.T) {
	ctx := context.Background()
	ls := &lossyStore{}
	f := memGuardOn(t, func(ks envelope.KeyStore) envelope.KeyStore { ls.KeyStore = ks; return ls })
	c := newCust("acme", "c1")
	require.NoError(t, f.g.Protect(ctx, &c))
	dek, err := f.g.keys.Latest(ctx, envelope.KindDEK, "acme", "s:c1")
	require.NoError(t, err)
	ls.lie = true
	_, err = f.g.BreachReport(ctx, Compromised{Key: &envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:c1", ID: dek.ID}})
	require.ErrorContains(t, err, "other than the one asked for")
}

// A second reader that does not know the new version stops the rotation
// before the version is promoted.
func TestRotateSecondReaderMustListVersion(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	seedRotation(t, f)
	old := f.kp.Primary()
	stale := testKP(t) // another keyset: it does not have the new version
	err := f.g.Rotate(ctx, &RotateOptions{SecondReader: func(context.Context) (keyprovider.KeyProvider, error) { return stale, nil }})
	require.ErrorContains(t, err, "does not see version")
	require.Equal(t, old.Version, f.kp.Primary().Version, "not promoted")
}
