package gcpkms_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fieldguard/pii/internal/kmsfake/gcpkmstest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
	"github.com/fieldguard/pii/keyprovider/providertest"
)

const (
	keyA = "projects/p/locations/global/keyRings/r/cryptoKeys/a"
	keyB = "projects/p/locations/global/keyRings/r/cryptoKeys/b"
)

func start(t *testing.T) *gcpkmstest.Server {
	t.Helper()
	srv, err := gcpkmstest.Start(keyA, keyB)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

func newProvider(t *testing.T, srv *gcpkmstest.Server, key string) *gcpkms.Provider {
	t.Helper()
	p, err := gcpkms.NewBare(t.Context(), key, &gcpkms.Options{ClientOptions: srv.ClientOptions()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			srv := start(t)
			return newProvider(t, srv, keyA), newProvider(t, srv, keyB)
		},
	})
}

func TestConformanceThroughClient(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			srv := start(t)
			return keyprovider.NewClient(newProvider(t, srv, keyA), nil),
				keyprovider.NewClient(newProvider(t, srv, keyB), nil)
		},
	})
}

func TestNewRejectsBadKeyNames(t *testing.T) {
	for _, name := range []string{
		"",
		"projects/p/locations/global/keyRings/r",
		"projects/p/locations/global/keyRings/r/cryptoKeys/a/cryptoKeyVersions/1",
		"projects/p/locations/global/keyRings/r/cryptoKeys/",
		"projects/p/locations/global/keyRings/r/cryptoKeys/a b",
		"gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/a",
	} {
		_, err := gcpkms.NewBare(t.Context(), name, nil)
		require.ErrorContains(t, err, "gcpkms: ", "%q", name)
	}
}

func TestKeyVersionsAndRotation(t *testing.T) {
	srv := start(t)
	p := newProvider(t, srv, keyA)
	ctx := t.Context()
	dk := []byte("0123456789abcdef0123456789abcdef")

	w1, id1, err := p.Wrap(ctx, dk, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, keyprovider.KeyID{Key: keyA, Version: "1"}, id1)

	_, err = srv.Rotate(keyA)
	require.NoError(t, err)
	w2, id2, err := p.Wrap(ctx, dk, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, "2", id2.Version)

	for _, w := range [][]byte{w1, w2} {
		got, err := p.Unwrap(ctx, w, []byte("ad"))
		require.NoError(t, err)
		require.Equal(t, dk, got)
	}

	require.NoError(t, srv.SetVersionState(keyA, 1, "DISABLED"))
	_, err = p.Unwrap(ctx, w1, []byte("ad"))
	require.ErrorIs(t, err, keyprovider.ErrKeyDisabled)
	require.NoError(t, srv.SetVersionState(keyA, 1, "DESTROYED"))
	_, err = p.Unwrap(ctx, w1, []byte("ad"))
	require.ErrorIs(t, err, keyprovider.ErrKeyDestroyed)

	// The gRPC status stays reachable.
	st, ok := status.FromError(err)
	require.True(t, ok)
	require.Equal(t, codes.FailedPrecondition, st.Code())
}

func TestErrorClasses(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	missing := newProvider(t, srv, "projects/p/locations/global/keyRings/r/cryptoKeys/missing")
	_, _, err := missing.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyNotFound)

	p := newProvider(t, srv, keyA)
	srv.Inject(gcpkmstest.PermissionDenied)
	_, _, err = p.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, keyprovider.ErrPermission)
	srv.Inject(gcpkmstest.ResourceExhausted)
	_, _, err = p.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
}

// TestFaults drives the provider through the portable client against
// injected faults: the shared retry, hang and breaker checks, then the
// checksum and key-name faults only Cloud KMS has.
func TestFaults(t *testing.T) {
	providertest.RunFaults(t, providertest.FaultHarness[gcpkmstest.Fault]{
		New: func(t *testing.T) (keyprovider.KeyProvider, providertest.Faults[gcpkmstest.Fault]) {
			srv := start(t)
			return newProvider(t, srv, keyA), srv
		},
		Transient: map[string]gcpkmstest.Fault{
			"Unavailable":       gcpkmstest.Unavailable,
			"ResourceExhausted": gcpkmstest.ResourceExhausted,
		},
		Denied: gcpkmstest.PermissionDenied,
		Hang:   gcpkmstest.Hang,
		Extra: []providertest.FaultCase[gcpkmstest.Fault]{
			{Name: "wrap/CorruptCRC/OnceRecovered", Op: providertest.Wrap, Faults: []gcpkmstest.Fault{gcpkmstest.CorruptCRC}, Calls: 2},
			{Name: "unwrap/CorruptCRC/OnceRecovered", Op: providertest.Unwrap, Faults: []gcpkmstest.Fault{gcpkmstest.CorruptCRC}, Calls: 2},
			{Name: "wrap/CorruptCRC/PersistentFails", Op: providertest.Wrap, Faults: slices.Repeat([]gcpkmstest.Fault{gcpkmstest.CorruptCRC}, 4), Want: keyprovider.ErrUnavailable, Calls: 3},
			{Name: "unwrap/CorruptCRC/PersistentFails", Op: providertest.Unwrap, Faults: slices.Repeat([]gcpkmstest.Fault{gcpkmstest.CorruptCRC}, 4), Want: keyprovider.ErrUnavailable, Calls: 3},
			{Name: "wrap/Unverified/PersistentFails", Op: providertest.Wrap, Faults: slices.Repeat([]gcpkmstest.Fault{gcpkmstest.Unverified}, 4), Want: keyprovider.ErrUnavailable, Calls: 3},
			{Name: "wrap/UnverifiedAAD/PersistentFails", Op: providertest.Wrap, Faults: slices.Repeat([]gcpkmstest.Fault{gcpkmstest.UnverifiedAAD}, 4), Want: keyprovider.ErrUnavailable, Calls: 3},
			{Name: "wrap/WrongKeyName/NotRetried", Op: providertest.Wrap, Faults: []gcpkmstest.Fault{gcpkmstest.WrongKeyName}, Want: keyprovider.ErrInvalidArgument, Calls: 1},
		},
	})
}

func TestRotateAndVersions(t *testing.T) {
	srv := start(t)
	c := keyprovider.NewClient(newProvider(t, srv, keyA), nil)
	ctx := t.Context()
	dk := []byte("0123456789abcdef0123456789abcdef")
	w1, id1, err := c.Wrap(ctx, dk, nil)
	require.NoError(t, err)

	id2, err := c.Rotate(ctx)
	require.NoError(t, err)
	require.Equal(t, keyprovider.KeyID{Key: keyA, Version: "2"}, id2)
	_, id3, err := c.Wrap(ctx, dk, nil)
	require.NoError(t, err)
	require.Equal(t, id2, id3)

	// Rewrap falls back to unwrap + wrap (Cloud KMS has no rewrap).
	w2, id4, err := c.Rewrap(ctx, w1, nil)
	require.NoError(t, err)
	require.Equal(t, id2, id4)
	got, err := c.Unwrap(ctx, w2, nil)
	require.NoError(t, err)
	require.Equal(t, dk, got)

	require.NoError(t, srv.SetVersionState(keyA, 1, "DESTROY_SCHEDULED"))
	vs, err := c.Versions(ctx)
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, id1, vs[0].ID)
	require.Equal(t, keyprovider.StatusDestroyed, vs[0].Status)
	require.False(t, vs[0].Primary)
	require.Equal(t, keyprovider.StatusEnabled, vs[1].Status)
	require.True(t, vs[1].Primary)
	require.False(t, vs[1].Created.IsZero())

	srv.Inject(gcpkmstest.PermissionDenied)
	_, err = c.Rotate(ctx)
	require.ErrorIs(t, err, keyprovider.ErrPermission)
}

// New hands out the backend only inside a keyprovider.Client, configured by
// Options.Calls.
func TestNewReturnsClient(t *testing.T) {
	srv := start(t)
	kp, err := gcpkms.New(t.Context(), keyA, &gcpkms.Options{ClientOptions: srv.ClientOptions(),
		Calls: &keyprovider.ClientOptions{MaxAttempts: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, kp.Close()) })
	require.IsType(t, &gcpkms.Provider{}, kp.Backend())
	w, id, err := kp.Wrap(t.Context(), make([]byte, 32), []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, keyA, id.Key)
	_, err = kp.Unwrap(t.Context(), w, []byte("ad"))
	require.NoError(t, err)
	_, err = gcpkms.New(t.Context(), "not a key name", nil)
	require.Error(t, err)
}
