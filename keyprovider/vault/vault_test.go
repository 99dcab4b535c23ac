package vault_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/providertest"
	"github.com/fieldguard/pii/keyprovider/vault"
)

func start(t *testing.T) *vaultfake.Server {
	t.Helper()
	srv := vaultfake.Start()
	t.Cleanup(srv.Close)
	srv.CreateKey("transit", "a", vaultfake.KeyOptions{})
	srv.CreateKey("transit", "b", vaultfake.KeyOptions{})
	srv.CreateKey("transit", "derived", vaultfake.KeyOptions{Derived: true})
	srv.CreateKey("transit", "rsa", vaultfake.KeyOptions{Type: "rsa-2048"})
	srv.CreateKey("team/transit", "a", vaultfake.KeyOptions{})
	return srv
}

func newProvider(t *testing.T, srv *vaultfake.Server, name string, o *vault.Options) *vault.Provider {
	t.Helper()
	if o == nil {
		o = &vault.Options{}
	}
	o.Address, o.Token = srv.URL(), vaultfake.Token
	p, err := vault.NewBare(t.Context(), name, o)
	require.NoError(t, err)
	return p
}

// The conformance suite against Vault's own Transit engine lives in the
// nested module internal/vaulttest; this run checks the fake is faithful
// enough for the fault tests below.
func TestConformanceAgainstFake(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			srv := start(t)
			return newProvider(t, srv, "a", nil), newProvider(t, srv, "b", nil)
		},
	})
}

func TestConformanceDerivedAgainstFake(t *testing.T) {
	// Derived keys need non-empty associated data, so only the checks that
	// hold for them are run by hand here.
	srv := start(t)
	p := newProvider(t, srv, "derived", &vault.Options{Derived: true})
	dk := []byte("0123456789abcdef0123456789abcdef")
	w, id, err := p.Wrap(t.Context(), dk, []byte("ctx"))
	require.NoError(t, err)
	require.Equal(t, keyprovider.KeyID{Key: "transit/keys/derived", Version: "1"}, id)
	got, err := p.Unwrap(t.Context(), w, []byte("ctx"))
	require.NoError(t, err)
	require.Equal(t, dk, got)
	_, err = p.Unwrap(t.Context(), w, []byte("other"))
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)
	_, _, err = p.Wrap(t.Context(), dk, nil)
	require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
}

func TestNewChecksKey(t *testing.T) {
	srv := start(t)
	tests := []struct {
		name    string
		key     string
		opts    vault.Options
		wantErr string
	}{
		{"plain", "a", vault.Options{}, ""},
		{"nested mount", "a", vault.Options{Mount: "/team/transit/"}, ""},
		{"derived", "derived", vault.Options{Derived: true}, ""},
		{"derived key used as plain", "derived", vault.Options{}, "derived=true"},
		{"plain key used as derived", "a", vault.Options{Derived: true}, "derived=false"},
		{"non-AEAD type", "rsa", vault.Options{}, "cannot authenticate associated data"},
		{"missing key", "missing", vault.Options{}, "not found"},
		{"slash", "a/b", vault.Options{}, "invalid Transit key name"},
		{"dot dot", "..", vault.Options{}, "invalid Transit key name"},
		{"dot dot inside", "a..b", vault.Options{}, "invalid Transit key name"},
		{"space", "a b", vault.Options{}, "invalid Transit key name"},
		{"newline", "a\n", vault.Options{}, "invalid Transit key name"},
		{"empty", "", vault.Options{}, "invalid Transit key name"},
		{"query", "a?x=1", vault.Options{}, "invalid Transit key name"},
		{"bad mount", "a", vault.Options{Mount: "transit/../sys"}, "invalid mount path"},
		{"bad mount space", "a", vault.Options{Mount: "tran sit"}, "invalid mount path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Address, o.Token = srv.URL(), vaultfake.Token
			p, err := vault.NewBare(t.Context(), tc.key, &o)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, p)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.True(t, strings.HasPrefix(err.Error(), "vault: ") || strings.HasPrefix(err.Error(), "keyprovider: "), err.Error())
		})
	}
}

func TestNewTokenFromEnvironment(t *testing.T) {
	srv := start(t)
	t.Setenv("VAULT_ADDR", srv.URL())
	t.Setenv("VAULT_TOKEN", vaultfake.Token)
	_, err := vault.NewBare(t.Context(), "a", nil)
	require.NoError(t, err)

	t.Setenv("VAULT_TOKEN", "wrong")
	_, err = vault.NewBare(t.Context(), "a", nil)
	require.ErrorIs(t, err, keyprovider.ErrPermission)
	require.NotContains(t, err.Error(), "wrong", "the token never reaches an error")

	t.Setenv("VAULT_TOKEN", "")
	_, err = vault.NewBare(t.Context(), "a", &vault.Options{Address: srv.URL()})
	require.ErrorContains(t, err, "vault: no token")
}

func TestRotateVersionsRewrap(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		key     string
		derived bool
		ad      []byte
	}{
		{"plain with ad (in-process rewrap)", "a", false, []byte("customers/42")},
		{"plain without ad (server rewrap)", "b", false, nil},
		{"derived (server rewrap)", "derived", true, []byte("customers/42")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, srv, tc.key, &vault.Options{Derived: tc.derived})
			dk := []byte("0123456789abcdef0123456789abcdef")
			w1, id1, err := p.Wrap(ctx, dk, tc.ad)
			require.NoError(t, err)
			id2, err := p.Rotate(ctx)
			require.NoError(t, err)
			require.Equal(t, id1.Key, id2.Key)
			require.NotEqual(t, id1.Version, id2.Version)

			w2, id3, err := p.Rewrap(ctx, w1, tc.ad)
			require.NoError(t, err)
			require.Equal(t, id2, id3)
			require.True(t, strings.HasPrefix(string(w2), "vault:v"+id2.Version+":"))
			got, err := p.Unwrap(ctx, w2, tc.ad)
			require.NoError(t, err)
			require.Equal(t, dk, got)
			if len(tc.ad) > 0 {
				_, err = p.Unwrap(ctx, w2, []byte("other"))
				require.ErrorIs(t, err, keyprovider.ErrAuthentication, "rewrapped key stays bound to its associated data")
				_, _, err = p.Rewrap(ctx, w1, []byte("other"))
				require.ErrorIs(t, err, keyprovider.ErrAuthentication)
			}

			vs, err := p.Versions(ctx)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(vs), 2)
			last := vs[len(vs)-1]
			require.True(t, last.Primary)
			require.Equal(t, id2, last.ID)
			require.False(t, last.Created.IsZero())

			srv.SetMinDecryptionVersion("transit", tc.key, 2)
			_, err = p.Unwrap(ctx, w1, tc.ad)
			require.ErrorIs(t, err, keyprovider.ErrKeyDisabled)
			vs, err = p.Versions(ctx)
			require.NoError(t, err)
			require.Equal(t, keyprovider.StatusDisabled, vs[0].Status)
		})
	}
}

func TestErrorClasses(t *testing.T) {
	srv := start(t)
	p := newProvider(t, srv, "a", nil)
	ctx := t.Context()
	w, _, err := p.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		fault vaultfake.Fault
		want  error
	}{
		{vaultfake.Sealed, keyprovider.ErrUnavailable},
		{vaultfake.Throttle, keyprovider.ErrUnavailable},
		{vaultfake.Internal, keyprovider.ErrUnavailable},
		{vaultfake.Forbidden, keyprovider.ErrPermission},
	} {
		srv.Inject(tc.fault)
		_, err := p.Unwrap(ctx, w, nil)
		require.ErrorIs(t, err, tc.want)
		var re *api.ResponseError
		require.ErrorAs(t, err, &re, "the vault/api error stays reachable")
	}
	_, err = p.Unwrap(ctx, []byte("not a vault ciphertext"), nil)
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)

	srv.Close()
	_, _, err = p.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
}

// TestFaults drives the provider through the portable client against
// injected faults. Which Vault answers are transient and which are a
// permission failure is checked with the vault/api error in
// TestErrorClasses.
func TestFaults(t *testing.T) {
	providertest.RunFaults(t, providertest.FaultHarness[vaultfake.Fault]{
		New: func(t *testing.T) (keyprovider.KeyProvider, providertest.Faults[vaultfake.Fault]) {
			srv := start(t)
			return newProvider(t, srv, "a", nil), srv
		},
		Transient: map[string]vaultfake.Fault{
			"Sealed":   vaultfake.Sealed,
			"Throttle": vaultfake.Throttle,
			"Internal": vaultfake.Internal,
		},
		Denied: vaultfake.Forbidden,
		Hang:   vaultfake.Hang,
	})
}

// New hands out the backend only inside a keyprovider.Client, configured by
// Options.Calls.
func TestNewReturnsClient(t *testing.T) {
	srv := start(t)
	kp, err := vault.New(t.Context(), "a", &vault.Options{Address: srv.URL(), Token: vaultfake.Token,
		Calls: &keyprovider.ClientOptions{MaxAttempts: 1}})
	require.NoError(t, err)
	require.IsType(t, &vault.Provider{}, kp.Backend())
	w, _, err := kp.Wrap(t.Context(), make([]byte, 32), []byte("ad"))
	require.NoError(t, err)
	_, err = kp.Unwrap(t.Context(), w, []byte("ad"))
	require.NoError(t, err)
	_, err = vault.New(t.Context(), "a/../b", nil)
	require.Error(t, err)
}
