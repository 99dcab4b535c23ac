package awskms_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/kmsfake/awskmstest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/awskms"
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
	p, err := awskms.NewBare(t.Context(), key, &awskms.Options{Config: &cfg, Endpoint: srv.URL()})
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
			pa, err := awskms.NewBare(t.Context(), "alias/a", &awskms.Options{Client: srv.Client()})
			require.NoError(t, err)
			pb, err := awskms.NewBare(t.Context(), awskmstest.AliasARN("b"), &awskms.Options{Client: srv.Client()})
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
		_, err := awskms.NewBare(t.Context(), ref, &awskms.Options{Region: "eu-west-1"})
		require.ErrorContains(t, err, "awskms: ", "%q", ref)
	}
}

func TestNoRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	_, err := awskms.NewBare(t.Context(), "alias/a", nil)
	require.ErrorContains(t, err, "awskms: no region")
	p, err := awskms.NewBare(t.Context(), awskmstest.KeyARN("k"), nil)
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
	anon, err := awskms.NewBare(ctx, ka, &awskms.Options{Config: &cfg, Endpoint: srv.URL()})
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

// TestFaults drives the provider through the portable client against
// injected faults: the shared retry, hang and breaker checks, then a
// response naming another key.
func TestFaults(t *testing.T) {
	providertest.RunFaults(t, providertest.FaultHarness[awskmstest.Fault]{
		New: func(t *testing.T) (keyprovider.KeyProvider, providertest.Faults[awskmstest.Fault]) {
			srv, ka, _ := start(t)
			return newProvider(t, srv, ka), srv
		},
		Transient: map[string]awskmstest.Fault{
			"Unavailable": awskmstest.Unavailable,
			"Throttle":    awskmstest.Throttle,
		},
		Denied: awskmstest.AccessDenied,
		Hang:   awskmstest.Hang,
		Extra: []providertest.FaultCase[awskmstest.Fault]{
			{Name: "wrap/WrongKeyID/NotRetried", Op: providertest.Wrap, Faults: []awskmstest.Fault{awskmstest.WrongKeyID}, Want: keyprovider.ErrInvalidArgument, Calls: 1},
			// RunFaults checks that no bytes come back with the error: no plaintext.
			{Name: "unwrap/WrongKeyID/NotRetried", Op: providertest.Unwrap, Faults: []awskmstest.Fault{awskmstest.WrongKeyID}, Want: keyprovider.ErrInvalidArgument, Calls: 1},
		},
	})
}

// New hands out the backend only inside a keyprovider.Client, configured by
// Options.Calls.
func TestNewReturnsClient(t *testing.T) {
	srv, ka, _ := start(t)
	cfg := srv.Config()
	kp, err := awskms.New(t.Context(), ka, &awskms.Options{Config: &cfg, Endpoint: srv.URL(),
		Calls: &keyprovider.ClientOptions{MaxAttempts: 1}})
	require.NoError(t, err)
	require.IsType(t, &awskms.Provider{}, kp.Backend())
	w, _, err := kp.Wrap(t.Context(), make([]byte, 32), []byte("ad"))
	require.NoError(t, err)
	_, err = kp.Unwrap(t.Context(), w, []byte("ad"))
	require.NoError(t, err)
	_, err = awskms.New(t.Context(), "", nil)
	require.Error(t, err)
}
