package vaulttest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/fieldguard/pii/internal/vaulttest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/providertest"
	"github.com/fieldguard/pii/keyprovider/vault"
)

func start(t *testing.T, mounts ...string) *vaulttest.Server {
	t.Helper()
	srv, err := vaulttest.Start(mounts...)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

// bare is the vault backend without its keyprovider.Client, as the
// conformance suite checks it.
type bare interface {
	keyprovider.KeyProvider
	keyprovider.Rotator
	keyprovider.Describer
	keyprovider.Rewrapper
}

func newProvider(t *testing.T, srv *vaulttest.Server, name string, o *vault.Options) bare {
	t.Helper()
	if o == nil {
		o = &vault.Options{}
	}
	o.Address, o.Token = srv.URL(), srv.Token
	c, err := vault.New(t.Context(), name, o)
	require.NoError(t, err)
	p, ok := c.Backend().(bare)
	require.True(t, ok, "%T", c.Backend())
	return p
}

func TestConformance(t *testing.T) {
	for _, typ := range []string{"aes256-gcm96", "aes128-gcm96", "chacha20-poly1305"} {
		t.Run(typ, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
					srv := start(t)
					require.NoError(t, srv.CreateKey(t.Context(), "transit", "a", typ, false))
					require.NoError(t, srv.CreateKey(t.Context(), "transit", "b", typ, false))
					return newProvider(t, srv, "a", nil), newProvider(t, srv, "b", nil)
				},
			})
		})
	}
}

func TestConformanceThroughClientNestedMount(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			srv := start(t, "team/transit")
			require.NoError(t, srv.CreateKey(t.Context(), "team/transit", "a", "", false))
			require.NoError(t, srv.CreateKey(t.Context(), "team/transit", "b", "", false))
			o := func() *vault.Options { return &vault.Options{Mount: "team/transit"} }
			return keyprovider.NewClient(newProvider(t, srv, "a", o()), nil),
				keyprovider.NewClient(newProvider(t, srv, "b", o()), nil)
		},
	})
}

func TestStartupTypeCheck(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	require.NoError(t, srv.CreateKey(ctx, "transit", "plain", "", false))
	require.NoError(t, srv.CreateKey(ctx, "transit", "derived", "", true))
	require.NoError(t, srv.CreateKey(ctx, "transit", "rsa", "rsa-2048", false))
	_, err := srv.Do(ctx, "transit", logical.UpdateOperation, "keys/convergent",
		map[string]any{"type": "aes256-gcm96", "derived": true, "convergent_encryption": true})
	require.NoError(t, err)

	for _, tc := range []struct {
		key     string
		derived bool
		wantErr string
	}{
		{"plain", false, ""},
		{"derived", true, ""},
		{"plain", true, "derived=false"},
		{"derived", false, "derived=true"},
		{"rsa", false, "cannot authenticate associated data"},
		{"convergent", true, "convergent"},
		{"missing", false, "not found"},
	} {
		_, err := vault.New(ctx, tc.key, &vault.Options{Address: srv.URL(), Token: srv.Token, Derived: tc.derived})
		if tc.wantErr == "" {
			require.NoError(t, err, tc.key)
		} else {
			require.ErrorContains(t, err, tc.wantErr, tc.key)
		}
	}

	_, err = vault.New(ctx, "plain", &vault.Options{Address: srv.URL(), Token: "hvs.wrong"})
	require.ErrorIs(t, err, keyprovider.ErrPermission)
	require.NotContains(t, err.Error(), "hvs.wrong")
	require.NotContains(t, err.Error(), srv.Token)
}

// TestVaultIgnoresTheWrongField shows why the start-up check exists: the
// real engine silently ignores context on a non-derived key, and rewrap
// ignores associated_data (vault#31791).
func TestVaultIgnoresTheWrongField(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	require.NoError(t, srv.CreateKey(ctx, "transit", "plain", "", false))
	pt := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	resp, err := srv.Do(ctx, "transit", logical.UpdateOperation, "encrypt/plain",
		map[string]any{"plaintext": pt, "context": base64.StdEncoding.EncodeToString([]byte("one"))})
	require.NoError(t, err)
	ct := resp.Data["ciphertext"].(string)
	resp, err = srv.Do(ctx, "transit", logical.UpdateOperation, "decrypt/plain",
		map[string]any{"ciphertext": ct, "context": base64.StdEncoding.EncodeToString([]byte("two"))})
	require.NoError(t, err, "context is not authenticated on a non-derived key")
	require.Equal(t, pt, resp.Data["plaintext"])

	ad := base64.StdEncoding.EncodeToString([]byte("customers/42"))
	resp, err = srv.Do(ctx, "transit", logical.UpdateOperation, "encrypt/plain",
		map[string]any{"plaintext": pt, "associated_data": ad})
	require.NoError(t, err)
	ct = resp.Data["ciphertext"].(string)
	_, err = srv.Do(ctx, "transit", logical.UpdateOperation, "rewrap/plain",
		map[string]any{"ciphertext": ct, "associated_data": ad})
	require.Error(t, err, "rewrap drops associated_data, so it cannot open an AD-bound ciphertext")
}

func TestRotateRewrapVersions(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	require.NoError(t, srv.CreateKey(ctx, "transit", "plain", "", false))
	require.NoError(t, srv.CreateKey(ctx, "transit", "derived", "", true))
	for _, tc := range []struct {
		key     string
		derived bool
		ad      []byte
	}{
		{"plain", false, []byte("customers/42")},
		{"plain", false, nil},
		{"derived", true, []byte("customers/42")},
	} {
		name := tc.key + "/ad=" + string(tc.ad)
		t.Run(name, func(t *testing.T) {
			p := newProvider(t, srv, tc.key, &vault.Options{Derived: tc.derived})
			c := keyprovider.NewClient(p, nil)
			dk := make([]byte, 32)
			_, _ = rand.Read(dk)
			w1, id1, err := c.Wrap(ctx, dk, tc.ad)
			require.NoError(t, err)
			id2, err := c.Rotate(ctx)
			require.NoError(t, err)
			require.NotEqual(t, id1.Version, id2.Version)
			w2, id3, err := c.Rewrap(ctx, w1, tc.ad)
			require.NoError(t, err)
			require.Equal(t, id2, id3)
			require.True(t, strings.HasPrefix(string(w2), "vault:v"+id2.Version+":"))
			got, err := c.Unwrap(ctx, w2, tc.ad)
			require.NoError(t, err)
			require.Equal(t, dk, got)
			if len(tc.ad) > 0 {
				_, err = c.Unwrap(ctx, w2, []byte("customers/43"))
				require.ErrorIs(t, err, keyprovider.ErrAuthentication)
			}
			vs, err := c.Versions(ctx)
			require.NoError(t, err)
			require.True(t, vs[len(vs)-1].Primary)
			require.Equal(t, id2, vs[len(vs)-1].ID)
		})
	}

	// min_decryption_version disables old versions.
	p := newProvider(t, srv, "plain", nil)
	dk := []byte("0123456789abcdef")
	w, _, err := p.Wrap(ctx, dk, nil)
	require.NoError(t, err)
	id, err := p.Rotate(ctx)
	require.NoError(t, err)
	_, err = srv.Do(ctx, "transit", logical.UpdateOperation, "keys/plain/config",
		map[string]any{"min_decryption_version": id.Version})
	require.NoError(t, err)
	_, err = p.Unwrap(ctx, w, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyDisabled)
	vs, err := p.Versions(ctx)
	require.NoError(t, err)
	require.Equal(t, keyprovider.StatusDisabled, vs[0].Status)
}

// TestFaults drives the provider through the portable client against
// faults injected in front of Vault's own Transit engine.
func TestFaults(t *testing.T) {
	providertest.RunFaults(t, providertest.FaultHarness[vaultfake.Fault]{
		New: func(t *testing.T) (keyprovider.KeyProvider, providertest.Faults[vaultfake.Fault]) {
			srv := start(t)
			require.NoError(t, srv.CreateKey(t.Context(), "transit", "a", "", false))
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

// TestLive runs the conformance suite against a real Vault when VAULT_ADDR
// and VAULT_TOKEN are set. It creates two aes256-gcm96 keys with random
// names in the Transit mount VAULT_TRANSIT_MOUNT (default "transit") and
// deletes them afterwards. The token needs to create, configure and delete
// keys there.
func TestLive(t *testing.T) {
	if os.Getenv("VAULT_ADDR") == "" || os.Getenv("VAULT_TOKEN") == "" {
		t.Skip("set VAULT_ADDR and VAULT_TOKEN to run against a real Vault")
	}
	mountPath := os.Getenv("VAULT_TRANSIT_MOUNT")
	if mountPath == "" {
		mountPath = "transit"
	}
	client, err := api.NewClient(api.DefaultConfig())
	require.NoError(t, err)
	newKey := func(t *testing.T) string {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name := "pii-live-" + hex.EncodeToString(b)
		_, err := client.Logical().WriteWithContext(t.Context(), mountPath+"/keys/"+name, map[string]any{"type": "aes256-gcm96"})
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx := context.Background()
			_, _ = client.Logical().WriteWithContext(ctx, mountPath+"/keys/"+name+"/config", map[string]any{"deletion_allowed": true})
			_, _ = client.Logical().DeleteWithContext(ctx, mountPath+"/keys/"+name)
		})
		return name
	}
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			pa, err := vault.New(t.Context(), newKey(t), &vault.Options{Mount: mountPath})
			require.NoError(t, err)
			pb, err := vault.New(t.Context(), newKey(t), &vault.Options{Mount: mountPath})
			require.NoError(t, err)
			return pa, pb // vault.New returns the keyprovider.Client
		},
	})
}
