package gcpkms_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
	"github.com/fieldguard/pii/keyprovider/gcpkms/gcpkmstest"
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
	p, err := gcpkms.New(t.Context(), key, &gcpkms.Options{ClientOptions: srv.ClientOptions()})
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
		_, err := gcpkms.New(t.Context(), name, nil)
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
	require.True(t, keyprovider.Retryable(err))
}

// TestFaults drives the provider through the portable client against
// injected faults.
func TestFaults(t *testing.T) {
	dk := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("customer/42")
	opts := func() *keyprovider.ClientOptions {
		return &keyprovider.ClientOptions{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	}
	tests := []struct {
		name      string
		op        string // "wrap" or "unwrap"
		faults    []gcpkmstest.Fault
		wantClass error // nil: success
		wantCalls int64
	}{
		{"wrap: one transient recovered", "wrap", []gcpkmstest.Fault{gcpkmstest.Unavailable}, nil, 2},
		{"unwrap: one transient recovered", "unwrap", []gcpkmstest.Fault{gcpkmstest.Unavailable}, nil, 2},
		{"wrap: four in a row fail", "wrap", repeat(gcpkmstest.Unavailable, 4), keyprovider.ErrUnavailable, 3},
		{"unwrap: four in a row fail", "unwrap", repeat(gcpkmstest.Unavailable, 4), keyprovider.ErrUnavailable, 3},
		{"wrap: corrupted CRC once recovered", "wrap", []gcpkmstest.Fault{gcpkmstest.CorruptCRC}, nil, 2},
		{"wrap: corrupted CRC persistent", "wrap", repeat(gcpkmstest.CorruptCRC, 4), keyprovider.ErrUnavailable, 3},
		{"unwrap: corrupted CRC persistent", "unwrap", repeat(gcpkmstest.CorruptCRC, 4), keyprovider.ErrUnavailable, 3},
		{"wrap: unverified checksum", "wrap", repeat(gcpkmstest.Unverified, 4), keyprovider.ErrUnavailable, 3},
		{"wrap: wrong key name not retried", "wrap", []gcpkmstest.Fault{gcpkmstest.WrongKeyName}, keyprovider.ErrInvalidArgument, 1},
		{"unwrap: permission not retried", "unwrap", []gcpkmstest.Fault{gcpkmstest.PermissionDenied}, keyprovider.ErrPermission, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t)
			c := keyprovider.NewClient(newProvider(t, srv, keyA), opts())
			var w []byte
			if tc.op == "unwrap" {
				var err error
				w, _, err = c.Wrap(t.Context(), dk, ad)
				require.NoError(t, err)
			}
			before := srv.Calls()
			srv.Inject(tc.faults...)
			var got []byte
			var err error
			if tc.op == "wrap" {
				got, _, err = c.Wrap(t.Context(), dk, ad)
			} else {
				got, err = c.Unwrap(t.Context(), w, ad)
			}
			require.Equal(t, tc.wantCalls, srv.Calls()-before)
			if tc.wantClass == nil {
				require.NoError(t, err)
				if tc.op == "unwrap" {
					require.Equal(t, dk, got)
				}
				return
			}
			require.ErrorIs(t, err, tc.wantClass)
			require.Nil(t, got, "no plaintext or ciphertext on error")
		})
	}
}

func repeat(f gcpkmstest.Fault, n int) []gcpkmstest.Fault {
	out := make([]gcpkmstest.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func TestHangRespectsDeadline(t *testing.T) {
	srv := start(t)
	c := keyprovider.NewClient(newProvider(t, srv, keyA), nil)
	srv.SetAlways(gcpkmstest.Hang)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Wrap(ctx, []byte("0123456789abcdef"), nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	case <-time.After(5 * time.Second): // watchdog, not a timing assertion
		t.Fatal("Wrap did not return after its deadline")
	}
}

func TestBreakerLimitsTraffic(t *testing.T) {
	srv := start(t)
	c := keyprovider.NewClient(newProvider(t, srv, keyA), &keyprovider.ClientOptions{
		BaseBackoff: time.Microsecond, MaxBackoff: time.Millisecond, BreakerCooldown: 20 * time.Millisecond,
	})
	srv.SetAlways(gcpkmstest.Unavailable)
	const n = 500
	for range n {
		_, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
		require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	}
	require.LessOrEqual(t, srv.Calls(), int64(n/10), "calls that reached the KMS")

	srv.SetAlways(0)
	require.Eventually(t, func() bool {
		_, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
		return err == nil
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, keyprovider.BreakerClosed, c.State())
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
