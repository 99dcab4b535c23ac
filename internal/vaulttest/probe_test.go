package vaulttest_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/vault"
)

// TestStartupProbeOnTransit: Vault's own Transit engine passes the
// associated-data probe New runs, for every AEAD key type, derived or not,
// and a front end that drops the binding makes New refuse the key: the
// engine then authenticates nothing (associated_data dropped silently), or
// warns that it ignored a parameter.
func TestStartupProbeOnTransit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     string
		derived bool
		field   string // the request field that carries the binding
	}{
		{"aes256-gcm96", "aes256-gcm96", false, "associated_data"},
		{"aes128-gcm96", "aes128-gcm96", false, "associated_data"},
		{"chacha20-poly1305", "chacha20-poly1305", false, "associated_data"},
		{"aes256-gcm96 derived", "aes256-gcm96", true, "context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t)
			ctx := t.Context()
			require.NoError(t, srv.CreateKey(ctx, "transit", "k", tc.typ, tc.derived))
			o := func() *vault.Options {
				return &vault.Options{Address: srv.URL(), Token: srv.Token, Derived: tc.derived}
			}
			before := srv.Calls()
			_, err := vault.New(ctx, "k", o())
			require.NoError(t, err)
			require.Equal(t, int64(4), srv.Calls()-before, "read the key, wrap the probe, unwrap it with the same and with other associated data")

			srv.DropParam(tc.field, false)
			_, err = vault.New(ctx, "k", o())
			if tc.derived {
				// The engine needs a context for a derived key: an error
				// either way, never a silent success.
				require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
			} else {
				require.ErrorContains(t, err, "vault: key transit/keys/k does not authenticate associated data")
			}

			srv.DropParam(tc.field, true)
			_, err = vault.New(ctx, "k", o())
			require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
			require.ErrorContains(t, err, "(new)")
			if !tc.derived {
				require.ErrorContains(t, err, "transit/encrypt/k answered with 1 warning(s)")
				require.ErrorContains(t, err, `"Endpoint ignored these unrecognized parameters: [x-associated_data]"`)
			}
			require.Equal(t, 1, strings.Count(err.Error(), "vault: "), err.Error())
			require.Equal(t, 1, strings.Count(err.Error(), "keyprovider: "), err.Error())
		})
	}
}

// TestTransitWarnsOfUnknownParameters shows the behaviour the warnings
// check relies on: the engine accepts a request with a parameter it does
// not know, ignores the parameter and says so only in a warning.
func TestTransitWarnsOfUnknownParameters(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	require.NoError(t, srv.CreateKey(ctx, "transit", "k", "", false))
	resp, err := srv.Do(ctx, "transit", logical.UpdateOperation, "encrypt/k", map[string]any{
		"plaintext":    base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")),
		"x-associated": base64.StdEncoding.EncodeToString([]byte("customers/42")),
	})
	require.NoError(t, err)
	require.Equal(t, []string{"Endpoint ignored these unrecognized parameters: [x-associated]"}, resp.Warnings)
}

// TestWarningsRefusedOnTransit: once running, a provider refuses every
// response with warnings from the real engine, and the Client does not
// retry it.
func TestWarningsRefusedOnTransit(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	require.NoError(t, srv.CreateKey(ctx, "transit", "k", "", false))
	c := keyprovider.NewClient(newProvider(t, srv, "k", nil), nil)
	dk := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("customers/42")
	// A key wrapped without its associated data, as a Vault that ignores
	// associated_data would have wrapped it: its decrypt succeeds, with a
	// warning, once associated_data is unknown to the engine.
	resp, err := srv.Do(ctx, "transit", logical.UpdateOperation, "encrypt/k",
		map[string]any{"plaintext": base64.StdEncoding.EncodeToString(dk)})
	require.NoError(t, err)
	unbound := []byte(resp.Data["ciphertext"].(string))

	srv.DropParam("associated_data", true)
	before := srv.Calls()
	_, _, err = c.Wrap(ctx, dk, ad)
	require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
	require.ErrorContains(t, err, "(wrap)")
	require.ErrorContains(t, err, "[x-associated_data]")
	got, err := c.Unwrap(ctx, unbound, ad)
	require.ErrorIs(t, err, keyprovider.ErrInvalidArgument, "the engine decrypted, but said it ignored the associated data")
	require.ErrorContains(t, err, "(unwrap)")
	require.Nil(t, got)
	require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(dk))
	require.Equal(t, int64(2), srv.Calls()-before, "neither is retried")
}
