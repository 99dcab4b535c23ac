package vault_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/vault"
)

// requirePrefixOnce fails when msg repeats the prefix of this package or
// of keyprovider ("vault: vault: ...", "keyprovider: ... keyprovider: ...").
func requirePrefixOnce(t *testing.T, msg string) {
	t.Helper()
	require.LessOrEqual(t, strings.Count(msg, "vault: "), 1, msg)
	require.LessOrEqual(t, strings.Count(msg, "keyprovider: "), 1, msg)
}

// TestNewProbesAssociatedData: New wraps a probe value with one associated
// data and refuses a server where it also unwraps with another, which
// would leave every wrapped data key unbound from its record.
func TestNewProbesAssociatedData(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     string
		derived bool
	}{
		{"associated_data", "a", false},
		{"context of a derived key", "derived", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t)
			o := &vault.Options{Address: srv.URL(), Token: vaultfake.Token, Derived: tc.derived}

			before := srv.Calls()
			_, err := vault.NewBare(t.Context(), tc.key, o)
			require.NoError(t, err, "a server that honours the binding passes")
			require.Equal(t, int64(4), srv.Calls()-before, "read the key, wrap the probe, unwrap it with the same and with other associated data")

			srv.IgnoreAssociatedData(true)
			p, err := vault.NewBare(t.Context(), tc.key, o)
			require.Nil(t, p)
			require.ErrorContains(t, err, "vault: key transit/keys/"+tc.key+" does not authenticate associated data")
			requirePrefixOnce(t, err.Error())

			// The probe's own failures are returned with their class.
			srv.IgnoreAssociatedData(false)
			srv.Inject(0, 0, vaultfake.Sealed) // read, wrap pass; the unwrap finds Vault sealed
			_, err = vault.NewBare(t.Context(), tc.key, o)
			require.ErrorIs(t, err, keyprovider.ErrUnavailable)
			require.ErrorContains(t, err, "(new)")
			requirePrefixOnce(t, err.Error())
			srv.Inject(0, 0, 0, vaultfake.Forbidden) // the unwrap with other associated data is denied
			_, err = vault.NewBare(t.Context(), tc.key, o)
			require.ErrorIs(t, err, keyprovider.ErrPermission, "only an authentication failure passes the probe")
		})
	}
}

// corruptingProxy forwards to target and replaces the plaintext of every
// successful decrypt response with another value.
func corruptingProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.StatusCode != http.StatusOK || !strings.Contains(r.Request.URL.Path, "/decrypt/") {
			return nil
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return err
		}
		body["data"].(map[string]any)["plaintext"] = base64.StdEncoding.EncodeToString([]byte("not what was wrapped, 32 bytes.."))
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestNewProbeRoundTrip: a server whose decrypt returns something other
// than what was wrapped (while still refusing other associated data) is
// refused too.
func TestNewProbeRoundTrip(t *testing.T) {
	srv := start(t)
	_, err := vault.NewBare(t.Context(), "a", &vault.Options{Address: corruptingProxy(t, srv.URL()), Token: vaultfake.Token})
	require.ErrorContains(t, err, "vault: key transit/keys/a: a probe value did not unwrap to itself")
	requirePrefixOnce(t, err.Error())
}

// TestWarningsRefused: a response with warnings is an error naming the
// operation, never retried, for every request the provider sends.
func TestWarningsRefused(t *testing.T) {
	dk := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("customers/42")
	for _, tc := range []struct {
		op       string // the fake's operation that warns
		call     func(t *testing.T, c *keyprovider.Client, w []byte) error
		provider string // the op the error names
	}{
		{"encrypt", func(t *testing.T, c *keyprovider.Client, _ []byte) error {
			_, _, err := c.Wrap(t.Context(), dk, ad)
			return err
		}, "wrap"},
		{"decrypt", func(t *testing.T, c *keyprovider.Client, w []byte) error {
			got, err := c.Unwrap(t.Context(), w, ad)
			require.Nil(t, got, "no data key from a response with warnings")
			return err
		}, "unwrap"},
		{"decrypt", func(t *testing.T, c *keyprovider.Client, w []byte) error {
			_, _, err := c.Rewrap(t.Context(), w, ad) // in-process rewrap: decrypt then encrypt
			return err
		}, "rewrap"},
		{"rotate", func(t *testing.T, c *keyprovider.Client, _ []byte) error {
			_, err := c.Rotate(t.Context())
			return err
		}, "rotate"},
		{"keys", func(t *testing.T, c *keyprovider.Client, _ []byte) error {
			_, err := c.Versions(t.Context())
			return err
		}, "versions"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			srv := start(t)
			c := keyprovider.NewClient(newProvider(t, srv, "a", nil), nil)
			w, _, err := c.Wrap(t.Context(), dk, ad)
			require.NoError(t, err)
			srv.SetWarnings(func(op string, _ map[string]string) []string {
				if op != tc.op {
					return nil
				}
				return []string{"Endpoint ignored these unrecognized parameters: [associated_data]"}
			})
			before := srv.Calls()
			err = tc.call(t, c, w)
			require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
			require.ErrorContains(t, err, "("+tc.provider+")")
			require.ErrorContains(t, err, "transit/")
			require.ErrorContains(t, err, `"Endpoint ignored these unrecognized parameters: [associated_data]"`)
			requirePrefixOnce(t, err.Error())
			calls := srv.Calls() - before
			require.LessOrEqual(t, calls, int64(1), "a response with warnings is not retried")
		})
	}

	t.Run("new", func(t *testing.T) {
		for _, op := range []string{"keys", "encrypt", "decrypt"} {
			srv := start(t)
			srv.SetWarnings(func(got string, _ map[string]string) []string {
				if got != op {
					return nil
				}
				return []string{"a warning"}
			})
			_, err := vault.NewBare(t.Context(), "a", &vault.Options{Address: srv.URL(), Token: vaultfake.Token})
			require.ErrorIs(t, err, keyprovider.ErrInvalidArgument, op)
			require.ErrorContains(t, err, "(new)")
			require.ErrorContains(t, err, `"a warning"`)
		}
	})
}

// TestWarningsNeverCarryKeyBytes: a server that echoes the data key in a
// warning (raw, hex, base64) does not get it into the error.
func TestWarningsNeverCarryKeyBytes(t *testing.T) {
	dk := []byte("0123456789abcdef0123456789abcdef") // printable, so the raw form is a run too
	forms := []string{
		string(dk),
		hex.EncodeToString(dk),
		base64.StdEncoding.EncodeToString(dk),
		base64.RawURLEncoding.EncodeToString(dk),
	}
	srv := start(t)
	p := newProvider(t, srv, "a", nil)
	w, _, err := p.Wrap(t.Context(), dk, nil)
	require.NoError(t, err)
	srv.SetWarnings(func(op string, body map[string]string) []string {
		ws := []string{"plaintext " + body["plaintext"] + " echoed"}
		for _, f := range forms {
			ws = append(ws, "key="+f+";")
		}
		return ws
	})
	_, _, werr := p.Wrap(t.Context(), dk, nil)
	_, uerr := p.Unwrap(t.Context(), w, nil)
	for _, err := range []error{werr, uerr} {
		require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
		msg := err.Error()
		require.Contains(t, msg, "[REDACTED]")
		require.Contains(t, msg, "and 2 more", "at most three warnings are quoted")
		for _, f := range forms {
			require.NotContains(t, msg, f)
		}
		for i := 0; i+8 <= len(dk); i++ {
			require.NotContains(t, msg, hex.EncodeToString(dk[i:i+8]))
		}
	}
}
