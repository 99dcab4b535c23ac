package awskms_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/awskms"
	"github.com/fieldguard/pii/keyprovider/awskms/awskmstest"
	"github.com/fieldguard/pii/keyprovider/providertest"
)

func start(t *testing.T) (*awskmstest.Server, string, string) {
	t.Helper()
	srv := awskmstest.Start()
	t.Cleanup(srv.Close)
	return srv, srv.CreateKey("a"), srv.CreateKey("b")
}

func newProvider(t *testing.T, srv *awskmstest.Server, key string) *awskms.Provider {
	t.Helper()
	cfg := srv.Config()
	p, err := awskms.New(t.Context(), key, &awskms.Options{Config: &cfg, Endpoint: srv.URL()})
	require.NoError(t, err)
	return p
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			srv, ka, kb := start(t)
			return newProvider(t, srv, ka), newProvider(t, srv, kb)
		},
	})
}

func TestConformanceThroughClient(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			srv, _, _ := start(t)
			// Aliases this time, and a prebuilt client.
			pa, err := awskms.New(t.Context(), "alias/a", &awskms.Options{Client: srv.Client()})
			require.NoError(t, err)
			pb, err := awskms.New(t.Context(), awskmstest.AliasARN("b"), &awskms.Options{Client: srv.Client()})
			require.NoError(t, err)
			return keyprovider.NewClient(pa, nil), keyprovider.NewClient(pb, nil)
		},
	})
}

func TestKeyIDForms(t *testing.T) {
	srv, ka, _ := start(t)
	dk := []byte("0123456789abcdef0123456789abcdef")
	id := ka[len(ka)-36:]
	for _, ref := range []string{ka, id, "alias/a", awskmstest.AliasARN("a")} {
		t.Run(ref, func(t *testing.T) {
			p := newProvider(t, srv, ref)
			w, kid, err := p.Wrap(t.Context(), dk, []byte("ad"))
			require.NoError(t, err)
			require.Equal(t, keyprovider.KeyID{Key: ka}, kid)
			got, err := p.Unwrap(t.Context(), w, []byte("ad"))
			require.NoError(t, err)
			require.Equal(t, dk, got)
		})
	}
}

func TestNewRejectsBadKeyIDs(t *testing.T) {
	for _, ref := range []string{
		"", "alias/", "arn:aws:kms:eu-west-1:1:key/", "arn:aws:s3:::bucket", "a b",
		"arn:aws:kms::111122223333:key/x", "aws-kms://arn:aws:kms:eu-west-1:1:key/x", "key/x",
	} {
		_, err := awskms.New(t.Context(), ref, &awskms.Options{Region: "eu-west-1"})
		require.ErrorContains(t, err, "awskms: ", "%q", ref)
	}
}

func TestNoRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	_, err := awskms.New(t.Context(), "alias/a", nil)
	require.ErrorContains(t, err, "awskms: no region")
	p, err := awskms.New(t.Context(), awskmstest.KeyARN("k"), nil)
	require.NoError(t, err, "the region comes from the ARN")
	require.NotNil(t, p)
}

func TestErrorClasses(t *testing.T) {
	srv, ka, _ := start(t)
	p := newProvider(t, srv, ka)
	ctx := t.Context()
	dk := []byte("0123456789abcdef")
	w, _, err := p.Wrap(ctx, dk, nil)
	require.NoError(t, err)

	_, _, err = newProvider(t, srv, "alias/missing").Wrap(ctx, dk, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyNotFound)
	var nf *types.NotFoundException
	require.ErrorAs(t, err, &nf, "the SDK's typed error stays reachable")

	require.NoError(t, srv.SetKeyState(ka, "Disabled"))
	_, err = p.Unwrap(ctx, w, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyDisabled)
	require.NoError(t, srv.SetKeyState(ka, "PendingDeletion"))
	_, err = p.Unwrap(ctx, w, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyDestroyed)
	require.NoError(t, srv.SetKeyState(ka, "Enabled"))

	srv.Inject(awskmstest.AccessDenied)
	_, err = p.Unwrap(ctx, w, nil)
	require.ErrorIs(t, err, keyprovider.ErrPermission)
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, "AccessDeniedException", api.ErrorCode())

	srv.Inject(awskmstest.Throttle)
	_, err = p.Unwrap(ctx, w, nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)

	srv.Inject(awskmstest.Garbled)
	got, err := p.Unwrap(ctx, w, nil)
	require.Error(t, err)
	require.Nil(t, got)

	_, err = p.Unwrap(ctx, w, []byte("some ad"))
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)

	// Credentials the server does not know.
	cfg := srv.Config()
	cfg.Credentials = nil
	anon, err := awskms.New(ctx, ka, &awskms.Options{Config: &cfg, Endpoint: srv.URL()})
	require.NoError(t, err)
	_, _, err = anon.Wrap(ctx, dk, nil)
	require.ErrorIs(t, err, keyprovider.ErrPermission)
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	srv, ka, _ := start(t)
	p := newProvider(t, srv, ka)
	srv.Close()
	_, _, err := p.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
}

func repeat(f awskmstest.Fault, n int) []awskmstest.Fault {
	out := make([]awskmstest.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func TestFaults(t *testing.T) {
	dk := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("customer/42")
	tests := []struct {
		name      string
		op        string
		faults    []awskmstest.Fault
		wantClass error
		wantCalls int64
	}{
		{"wrap: one transient recovered", "wrap", []awskmstest.Fault{awskmstest.Unavailable}, nil, 2},
		{"unwrap: one throttle recovered", "unwrap", []awskmstest.Fault{awskmstest.Throttle}, nil, 2},
		{"wrap: four in a row fail", "wrap", repeat(awskmstest.Unavailable, 4), keyprovider.ErrUnavailable, 3},
		{"unwrap: four in a row fail", "unwrap", repeat(awskmstest.Unavailable, 4), keyprovider.ErrUnavailable, 3},
		{"wrap: wrong key id", "wrap", []awskmstest.Fault{awskmstest.WrongKeyID}, keyprovider.ErrInvalidArgument, 1},
		{"unwrap: wrong key id never returns plaintext", "unwrap", []awskmstest.Fault{awskmstest.WrongKeyID}, keyprovider.ErrInvalidArgument, 1},
		{"unwrap: access denied not retried", "unwrap", []awskmstest.Fault{awskmstest.AccessDenied}, keyprovider.ErrPermission, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, ka, _ := start(t)
			c := keyprovider.NewClient(newProvider(t, srv, ka), &keyprovider.ClientOptions{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
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
			require.Nil(t, got)
		})
	}
}

func TestHangRespectsDeadline(t *testing.T) {
	srv, ka, _ := start(t)
	c := keyprovider.NewClient(newProvider(t, srv, ka), nil)
	srv.SetAlways(awskmstest.Hang)
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
	srv, ka, _ := start(t)
	c := keyprovider.NewClient(newProvider(t, srv, ka), &keyprovider.ClientOptions{
		BaseBackoff: time.Microsecond, MaxBackoff: time.Millisecond, BreakerCooldown: 20 * time.Millisecond,
	})
	srv.SetAlways(awskmstest.Unavailable)
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
