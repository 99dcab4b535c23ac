package kmsuri_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/kmsfake/awskmstest"
	"github.com/fieldguard/pii/internal/kmsfake/gcpkmstest"
	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/awskms"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/keyprovider/vault"
)

func roundTrip(t *testing.T, kp *keyprovider.Client) keyprovider.KeyID {
	t.Helper()
	dk := []byte("0123456789abcdef0123456789abcdef")
	w, id, err := kp.Wrap(t.Context(), dk, []byte("ad"))
	require.NoError(t, err)
	got, err := kp.Unwrap(t.Context(), w, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, dk, got)
	return id
}

func TestOpenEachBackend(t *testing.T) {
	ctx := t.Context()

	t.Run("gcp-kms", func(t *testing.T) {
		const name = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
		srv, err := gcpkmstest.Start(name)
		require.NoError(t, err)
		defer srv.Close()
		kp, err := kmsuri.Open(ctx, "gcp-kms://"+name, &kmsuri.Options{Backend: []any{
			&vault.Options{Token: "ignored by other backends"},
			&gcpkms.Options{ClientOptions: srv.ClientOptions()},
		}})
		require.NoError(t, err)
		defer kp.Close()
		// The bare gcpkms provider, wrapped once (by Open).
		require.Equal(t, "github.com/fieldguard/pii/keyprovider/gcpkms", reflect.TypeOf(kp.Backend()).Elem().PkgPath())
		require.Equal(t, name, roundTrip(t, kp).Key)
	})

	t.Run("vault+http", func(t *testing.T) {
		srv := vaultfake.Start()
		defer srv.Close()
		srv.CreateKey("team/transit", "k", vaultfake.KeyOptions{})
		srv.CreateKey("transit", "d", vaultfake.KeyOptions{Derived: true})
		u := strings.Replace(srv.URL(), "http://", "vault+http://", 1)
		kp, err := kmsuri.Open(ctx, u+"/team/transit/keys/k", &kmsuri.Options{Backend: []any{&vault.Options{Token: vaultfake.Token}}})
		require.NoError(t, err)
		require.Equal(t, "team/transit/keys/k", roundTrip(t, kp).Key)

		t.Setenv("VAULT_TOKEN", vaultfake.Token)
		kp, err = kmsuri.Open(ctx, u+"/transit/keys/d?derived=true", nil)
		require.NoError(t, err)
		require.Equal(t, "transit/keys/d", roundTrip(t, kp).Key)
	})

	t.Run("aws-kms", func(t *testing.T) {
		srv := awskmstest.Start()
		defer srv.Close()
		arn := srv.CreateKey("k")
		cfg := srv.Config()
		kp, err := kmsuri.Open(ctx, "aws-kms://"+arn, &kmsuri.Options{Backend: []any{&awskms.Options{Config: &cfg, Endpoint: srv.URL()}}})
		require.NoError(t, err)
		require.Equal(t, arn, roundTrip(t, kp).Key)
	})

	t.Run("local", func(t *testing.T) {
		master, err := local.GenerateMasterKey()
		require.NoError(t, err)
		t.Setenv("PII_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
		path := filepath.Join(t.TempDir(), "keyset")
		_, err = kmsuri.Open(ctx, "local://"+path, nil)
		require.ErrorContains(t, err, "kmsuri: local://")
		kp, err := kmsuri.Open(ctx, "local://"+path, &kmsuri.Options{CreateLocal: true})
		require.NoError(t, err)
		id := roundTrip(t, kp)
		kp, err = kmsuri.Open(ctx, "local://"+path, nil)
		require.NoError(t, err)
		require.Equal(t, id, roundTrip(t, kp))

		t.Setenv("PII_MASTER_KEY", "")
		_, err = kmsuri.Open(ctx, "local://"+path, nil)
		require.ErrorContains(t, err, "PII_MASTER_KEY")
	})
}

func TestOpenRejectsBadURIs(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "s.secret-token-value")
	tests := []struct {
		uri  string
		want string
	}{
		{"", "is not a key URI"},
		{"projects/p/locations/l/keyRings/r/cryptoKeys/k", "is not a key URI"},
		{"s3://bucket/key", `unknown scheme "s3" (registered: aws-kms, gcp-kms, local, vault, vault+http)`},
		{"gcp-kms://projects/p/keyRings/r", "want gcp-kms://projects/"},
		{"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1", "want gcp-kms://"},
		{"vault://", "want vault://HOST"},
		{"vault://vault.example:8200/transit", "want vault://HOST[:PORT]/MOUNT/keys/NAME"},
		{"vault://vault.example:8200/keys/k", "want vault://HOST"},
		{"vault://vault.example/transit/keys/a/b", "invalid mount or key name"},
		{"vault://vault.example/transit/keys/..", "invalid mount or key name"},
		{"vault://vault.example/tr%20ansit/keys/k", "invalid mount or key name"},
		{"vault://vault.example/transit/keys/k?token=abc", "unknown or malformed query parameter"},
		{"vault://vault.example/transit/keys/k?derived=maybe", "unknown or malformed query parameter"},
		{"vault://user:hunter2@vault.example/transit/keys/k", "credentials in the URI are not accepted"},
		{"vault://user:hunter2@[::1/transit/keys/k?token=abc", "malformed URI"},
		{"vault+http://vault.example/transit/keys/k", "loopback"},
		{"aws-kms://", "want aws-kms://arn:aws:kms"},
		{"aws-kms://arn:aws:s3:::bucket", "want aws-kms://arn:aws:kms"},
		{"aws-kms://key/with space", "want aws-kms://"},
		{"local://", "want local://PATH"},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			kp, err := kmsuri.Open(t.Context(), tc.uri, nil)
			require.Nil(t, kp)
			require.ErrorContains(t, err, tc.want)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "kmsuri: "), msg)
			require.NotContains(t, msg, "\n")
			require.NotContains(t, msg, "hunter2")
			require.NotContains(t, msg, "abc")
			require.NotContains(t, msg, "secret-token-value")
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want kmsuri.URI
	}{
		{"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", kmsuri.URI{Scheme: "gcp-kms", Key: "projects/p/locations/l/keyRings/r/cryptoKeys/k"}},
		{"GCP-KMS://projects/p/locations/l/keyRings/r/cryptoKeys/k", kmsuri.URI{Scheme: "gcp-kms", Key: "projects/p/locations/l/keyRings/r/cryptoKeys/k"}},
		{"vault://vault.example:8200/transit/keys/k", kmsuri.URI{Scheme: "vault", Host: "vault.example:8200", Mount: "transit", Key: "k"}},
		{"vault://vault.example/team/transit/keys/k?derived=true", kmsuri.URI{Scheme: "vault", Host: "vault.example", Mount: "team/transit", Key: "k", Derived: true}},
		{"vault+http://127.0.0.1:8200/transit/keys/k?derived=false", kmsuri.URI{Scheme: "vault+http", Host: "127.0.0.1:8200", Mount: "transit", Key: "k"}},
		{"vault+http://[::1]:8200/transit/keys/k", kmsuri.URI{Scheme: "vault+http", Host: "[::1]:8200", Mount: "transit", Key: "k"}},
		{"aws-kms://arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", kmsuri.URI{Scheme: "aws-kms", Key: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{"aws-kms://alias/customers", kmsuri.URI{Scheme: "aws-kms", Key: "alias/customers"}},
		{"local:///var/lib/pii/keyset", kmsuri.URI{Scheme: "local", Key: "/var/lib/pii/keyset"}},
		{"local://keyset.json", kmsuri.URI{Scheme: "local", Key: "keyset.json"}},
	}
	for _, tc := range tests {
		u, err := kmsuri.Parse(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, *u)
		again, err := kmsuri.Parse(u.String())
		require.NoError(t, err)
		require.Equal(t, u, again)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
		"vault://vault.example:8200/transit/keys/k?derived=true",
		"vault+http://127.0.0.1:8200/team/transit/keys/k",
		"vault://user:secret@vault.example/transit/keys/k",
		"aws-kms://arn:aws:kms:eu-west-1:111122223333:key/x",
		"aws-kms://alias/a",
		"local:///tmp/keyset",
		"local://",
		"s3://bucket/x?token=secret",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	require.NotEmpty(f, seeds, "the seed corpus must not be empty")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := kmsuri.Parse(s)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "kmsuri: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		// Parse then String then Parse gives the same URI.
		again, err := kmsuri.Parse(u.String())
		require.NoError(t, err, "canonical form %q of %q", u.String(), s)
		require.Equal(t, u, again)
	})
}

// TestUnknownSchemeListsRegistered: the error for a scheme nobody
// registered lists every registered one, sorted.
func TestUnknownSchemeListsRegistered(t *testing.T) {
	_, err := kmsuri.Parse("s3://bucket/key")
	require.ErrorContains(t, err, `unknown scheme "s3" (registered: aws-kms, gcp-kms, local, vault, vault+http)`)
}

func TestRegisterRefusesMisuse(t *testing.T) {
	tests := []struct {
		name   string
		scheme string
		o      kmsuri.Opener
		want   string
	}{
		{"duplicate", "vault", fakeOpener{}, "Register called twice for vault"},
		{"nil opener", "nil-opener", nil, "nil Opener"},
		{"upper case", "Vault2", fakeOpener{}, "invalid scheme"},
		{"empty", "", fakeOpener{}, "invalid scheme"},
		{"separator", "a://b", fakeOpener{}, "invalid scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, panicText(t, tc.scheme, tc.o), tc.want)
		})
	}
}

// panicText returns what Register panics with.
func panicText(t *testing.T, scheme string, o kmsuri.Opener) (v string) {
	t.Helper()
	defer func() { v, _ = recover().(string) }()
	kmsuri.Register(scheme, o)
	return "Register did not panic"
}

type fakeOpener struct{}

func (fakeOpener) ParseURI(scheme, rest string) (*kmsuri.URI, error) {
	return &kmsuri.URI{Scheme: scheme, Key: rest}, nil
}

func (fakeOpener) OpenURI(context.Context, *kmsuri.URI, *kmsuri.Options) (keyprovider.KeyProvider, error) {
	return nil, nil
}

func TestVaultURIRefusesOptionsItSets(t *testing.T) {
	srv := vaultfake.Start()
	defer srv.Close()
	srv.CreateKey("transit", "k", vaultfake.KeyOptions{})
	u := strings.Replace(srv.URL(), "http://", "vault+http://", 1) + "/transit/keys/k"
	for name, o := range map[string]*vault.Options{
		"Address": {Token: vaultfake.Token, Address: "http://127.0.0.1:1"},
		"Mount":   {Token: vaultfake.Token, Mount: "other"},
		"Derived": {Token: vaultfake.Token, Derived: true},
	} {
		t.Run(name, func(t *testing.T) {
			kp, err := kmsuri.Open(t.Context(), u, &kmsuri.Options{Backend: []any{o}})
			require.Nil(t, kp)
			require.ErrorContains(t, err, "cannot be used with a key URI")
			require.True(t, strings.HasPrefix(err.Error(), "kmsuri: vault+http://"), err.Error())
		})
	}
}
