package kmsuri

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
)

// withOnly runs f with only the named schemes registered (of those the
// test binary registered), then restores the registry.
func withOnly(t *testing.T, keep []string, f func()) {
	t.Helper()
	mu.Lock()
	saved := maps.Clone(openers)
	for s := range openers {
		if !strings.Contains(","+strings.Join(keep, ",")+",", ","+s+",") {
			delete(openers, s)
		}
	}
	mu.Unlock()
	defer func() {
		mu.Lock()
		openers = saved
		mu.Unlock()
	}()
	f()
}

func TestUnregisteredSchemeNamesThePackage(t *testing.T) {
	tests := []struct {
		uri, pkg string
	}{
		{"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", "github.com/fieldguard/pii/keyprovider/gcpkms"},
		{"aws-kms://alias/a", "github.com/fieldguard/pii/keyprovider/awskms"},
		{"VAULT+HTTP://127.0.0.1:8200/transit/keys/k", "github.com/fieldguard/pii/keyprovider/vault"},
		{"vault://user:hunter2@vault.example/transit/keys/k?token=abc", "github.com/fieldguard/pii/keyprovider/vault"},
	}
	withOnly(t, []string{"local"}, func() {
		for _, tc := range tests {
			_, err := Parse(tc.uri)
			require.ErrorContains(t, err, `is not registered: import _ "`+tc.pkg+`" in your program`, tc.uri)
			require.True(t, strings.HasPrefix(err.Error(), "kmsuri: "), err.Error())
			require.NotContains(t, err.Error(), "hunter2")
			require.NotContains(t, err.Error(), "abc")
			kp, err := Open(t.Context(), tc.uri, nil)
			require.Nil(t, kp)
			require.ErrorContains(t, err, "import _ ")
		}
		_, err := Parse("s3://bucket/key")
		require.ErrorContains(t, err, `unknown scheme "s3" (registered: local)`)
	})
	withOnly(t, nil, func() {
		require.Empty(t, schemes())
		_, err := Parse("nosuch://x")
		require.ErrorContains(t, err, "registered: none; import a backend package")
	})
}

// liar parses every URI as another scheme's, as a buggy backend might.
type liar struct{}

func (liar) ParseURI(_, rest string) (*URI, error) { return &URI{Scheme: "local", Key: rest}, nil }

func (liar) OpenURI(context.Context, *URI, *Options) (keyprovider.KeyProvider, error) {
	return nil, errors.New("never reached")
}

// nilOpener opens nothing and says nothing, as a buggy backend might.
type nilOpener struct{}

func (nilOpener) ParseURI(scheme, rest string) (*URI, error) {
	return &URI{Scheme: scheme, Key: rest}, nil
}

func (nilOpener) OpenURI(context.Context, *URI, *Options) (keyprovider.KeyProvider, error) {
	return nil, nil
}

func TestBuggyOpenersAreCaught(t *testing.T) {
	withOnly(t, nil, func() {
		Register("liar", liar{})
		Register("nil-opener", nilOpener{})
		_, err := Parse("liar://x")
		require.ErrorContains(t, err, "kmsuri: liar://x: the liar backend parsed it as another scheme")
		kp, err := Open(t.Context(), "nil-opener://x", nil)
		require.Nil(t, kp)
		require.ErrorContains(t, err, "kmsuri: nil-opener://x: the nil-opener backend returned no provider")
	})
}
