package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/providertest"
)

// testMaster returns a fresh master key. Test keys only: real master keys
// must never be hard-coded.
func testMaster(t testing.TB) []byte {
	t.Helper()
	m, err := GenerateMasterKey()
	require.NoError(t, err)
	return m
}

func newTestProvider(t testing.TB) (*Provider, string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyset.json")
	master := testMaster(t)
	p, err := Create(path, master)
	require.NoError(t, err)
	return p, path, master
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
		pa, _, _ := newTestProvider(t)
		pb, _, _ := newTestProvider(t)
		return pa, pb
	}})
}

// TestConformanceRotatedReopened runs the suite on keysets that have been
// rotated (several versions, one disabled) and re-opened from disk.
func TestConformanceRotatedReopened(t *testing.T) {
	providertest.Run(t, providertest.Harness{New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
		mk := func() keyprovider.KeyProvider {
			p, path, master := newTestProvider(t)
			old := p.Primary()
			_, err := p.Rotate(t.Context())
			require.NoError(t, err)
			_, err = p.AddVersion(t.Context())
			require.NoError(t, err)
			require.NoError(t, p.Disable(t.Context(), old.Version))
			q, err := Open(path, master)
			require.NoError(t, err)
			return q
		}
		return mk(), mk()
	}})
}

func TestCreate(t *testing.T) {
	p, path, master := newTestProvider(t)

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	vs, err := p.Versions(t.Context())
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.True(t, vs[0].Primary)
	require.Equal(t, keyprovider.StatusEnabled, vs[0].Status)
	require.False(t, vs[0].Created.IsZero())
	require.Equal(t, p.Primary(), vs[0].ID)
	require.True(t, strings.HasPrefix(vs[0].ID.Key, "local/"))

	before, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = Create(path, master)
	require.ErrorContains(t, err, "refusing to overwrite")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused Create must not touch the file")

	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := Create(filepath.Join(t.TempDir(), "k.json"), make([]byte, n))
		require.ErrorContains(t, err, "master key must be 32 bytes", "size %d", n)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")
}

func TestOpen(t *testing.T) {
	p, path, master := newTestProvider(t)
	wrapped, kek, err := p.Wrap(t.Context(), []byte("0123456789abcdef"), []byte("ad"))
	require.NoError(t, err)

	q, err := Open(path, master)
	require.NoError(t, err)
	require.Equal(t, p.Primary(), q.Primary())
	got, err := q.Unwrap(t.Context(), wrapped, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, []byte("0123456789abcdef"), got)
	require.Equal(t, kek, q.Primary())

	_, err = Open(path, testMaster(t))
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)
	require.ErrorContains(t, err, "wrong master key")

	_, err = Open(filepath.Join(t.TempDir(), "missing.json"), master)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestOpenRejectsModifiedFiles(t *testing.T) {
	_, path, master := newTestProvider(t)
	orig, err := os.ReadFile(path)
	require.NoError(t, err)

	var doc struct {
		Header map[string]any  `json:"header"`
		Keyset json.RawMessage `json:"keyset"`
	}
	require.NoError(t, json.Unmarshal(orig, &doc))
	editHeader := func(f func(h map[string]any)) []byte {
		var d struct {
			Header map[string]any  `json:"header"`
			Keyset json.RawMessage `json:"keyset"`
		}
		require.NoError(t, json.Unmarshal(orig, &d))
		f(d.Header)
		out, err := json.Marshal(d)
		require.NoError(t, err)
		return out
	}
	reindented := func() []byte {
		var b bytes.Buffer
		require.NoError(t, json.Compact(&b, orig))
		return b.Bytes()
	}

	tests := []struct {
		name    string
		data    []byte
		wantErr error  // nil: opens fine
		wantMsg string // substring
	}{
		{"white space changed", reindented(), nil, ""},
		{"creation time edited", editHeader(func(h map[string]any) {
			h["versions"].([]any)[0].(map[string]any)["created"] = "2001-01-01T00:00:00Z"
		}), keyprovider.ErrAuthentication, "wrong master key, or the keyset file was modified"},
		{"generation edited", editHeader(func(h map[string]any) { h["generation"] = 99 }), keyprovider.ErrAuthentication, "modified"},
		{"name edited", editHeader(func(h map[string]any) { h["name"] = "local/0000000000000000" }), keyprovider.ErrAuthentication, "modified"},
		{"unknown format", editHeader(func(h map[string]any) { h["format"] = "something/v9" }), nil, "unsupported keyset file format"},
		{"not JSON", []byte("hello"), nil, "not a keyset file"},
		{"empty", []byte{}, nil, "not a keyset file"},
		{"no keyset", []byte(`{"header":{"format":"fieldguard.pii/local-keyset/v1"}}`), nil, "not a keyset file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "keyset.json")
			require.NoError(t, os.WriteFile(p, tt.data, 0o600))
			_, err := Open(p, master)
			if tt.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantMsg)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

// TestOpenTruncatedFile opens every prefix of a keyset file: each fails
// with an error (a torn write can never load as a keyset).
func TestOpenTruncatedFile(t *testing.T) {
	p, path, master := newTestProvider(t)
	_, err := p.Rotate(t.Context())
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dir := t.TempDir()
	// The file ends in "}\n": dropping the newline leaves valid JSON, so
	// stop one byte earlier.
	for n := range len(data) - 1 {
		torn := filepath.Join(dir, "torn.json")
		require.NoError(t, os.WriteFile(torn, data[:n], 0o600))
		_, err := Open(torn, master)
		require.Error(t, err, "prefix of %d bytes", n)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := t.Context()
	p, path, master := newTestProvider(t)
	v1 := p.Primary()
	k1 := []byte("data key one....")
	w1, kek, err := p.Wrap(ctx, k1, nil)
	require.NoError(t, err)
	require.Equal(t, v1, kek)
	require.Equal(t, v1.Version, strconv.FormatUint(uint64(binary.BigEndian.Uint32(w1[1:5])), 10), "the prefix names the version")

	v2, err := p.AddVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, v1, p.Primary(), "AddVersion does not promote")
	_, kek, err = p.Wrap(ctx, k1, nil)
	require.NoError(t, err)
	require.Equal(t, v1, kek)

	require.NoError(t, p.Promote(ctx, v2.Version))
	require.Equal(t, v2, p.Primary())
	k2 := []byte("data key two....")
	w2, kek, err := p.Wrap(ctx, k2, nil)
	require.NoError(t, err)
	require.Equal(t, v2, kek)

	got, err := p.Unwrap(ctx, w1, nil)
	require.NoError(t, err, "old versions keep unwrapping")
	require.Equal(t, k1, got)

	require.NoError(t, p.Disable(ctx, v1.Version))
	_, err = p.Unwrap(ctx, w1, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyDisabled)
	require.NoError(t, p.Disable(ctx, v1.Version), "disabling twice is a no-op")

	require.NoError(t, p.Enable(ctx, v1.Version))
	got, err = p.Unwrap(ctx, w1, nil)
	require.NoError(t, err)
	require.Equal(t, k1, got)

	require.NoError(t, p.Disable(ctx, v1.Version))
	require.NoError(t, p.Destroy(ctx, v1.Version))
	_, err = p.Unwrap(ctx, w1, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyDestroyed)
	require.NoError(t, p.Destroy(ctx, v1.Version), "destroying twice is a no-op")
	require.ErrorIs(t, p.Enable(ctx, v1.Version), keyprovider.ErrKeyDestroyed)
	require.ErrorIs(t, p.Promote(ctx, v1.Version), keyprovider.ErrKeyDestroyed)

	got, err = p.Unwrap(ctx, w2, nil)
	require.NoError(t, err)
	require.Equal(t, k2, got)

	want, err := p.Versions(ctx)
	require.NoError(t, err)
	require.Len(t, want, 2)
	require.Equal(t, v1, want[0].ID)
	require.Equal(t, keyprovider.StatusDestroyed, want[0].Status)
	require.False(t, want[0].Primary)
	require.Equal(t, v2, want[1].ID)
	require.Equal(t, keyprovider.StatusEnabled, want[1].Status)
	require.True(t, want[1].Primary)

	// Everything survives a re-open, creation times included.
	q, err := Open(path, master)
	require.NoError(t, err)
	have, err := q.Versions(ctx)
	require.NoError(t, err)
	require.Len(t, have, len(want))
	for i := range want {
		require.Equal(t, want[i].ID, have[i].ID)
		require.Equal(t, want[i].Status, have[i].Status)
		require.Equal(t, want[i].Primary, have[i].Primary)
		require.True(t, want[i].Created.Equal(have[i].Created))
	}
	_, err = q.Unwrap(ctx, w1, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyDestroyed)

	// The destroyed key material is gone from the file: the keyset holds
	// one key.
	require.Equal(t, 1, q.st.Load().handle.Len())
}

func TestRefusedChanges(t *testing.T) {
	ctx := t.Context()
	p, _, _ := newTestProvider(t)
	primary := p.Primary()
	other, err := p.AddVersion(ctx)
	require.NoError(t, err)
	disabled, err := p.AddVersion(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Disable(ctx, disabled.Version))

	single, _, _ := newTestProvider(t)

	tests := []struct {
		name    string
		call    func() error
		class   error
		message string
	}{
		{"disable the primary", func() error { return p.Disable(ctx, primary.Version) }, keyprovider.ErrInvalidArgument, "is the primary"},
		{"destroy the primary", func() error { return p.Destroy(ctx, primary.Version) }, keyprovider.ErrInvalidArgument, "is the primary"},
		{"destroy the only version", func() error { return single.Destroy(ctx, single.Primary().Version) }, keyprovider.ErrInvalidArgument, "refusing to destroy"},
		{"promote a disabled version", func() error { return p.Promote(ctx, disabled.Version) }, keyprovider.ErrInvalidArgument, "enable it first"},
		{"unknown version", func() error { return p.Promote(ctx, "12345") }, keyprovider.ErrKeyNotFound, "has no version 12345"},
		{"malformed version", func() error { return p.Disable(ctx, "v1") }, keyprovider.ErrInvalidArgument, "malformed version id"},
		{"negative version", func() error { return p.Destroy(ctx, "-1") }, keyprovider.ErrInvalidArgument, "malformed version id"},
		{"cancelled context", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return p.Destroy(c, other.Version)
		}, context.Canceled, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, tt.class)
			require.ErrorContains(t, err, tt.message)
		})
	}

	// Nothing changed.
	require.Equal(t, primary, p.Primary())
	vs, err := p.Versions(ctx)
	require.NoError(t, err)
	require.Len(t, vs, 3)
	require.Equal(t, []keyprovider.Status{keyprovider.StatusEnabled, keyprovider.StatusEnabled, keyprovider.StatusDisabled},
		[]keyprovider.Status{vs[0].Status, vs[1].Status, vs[2].Status})

	// Destroying an enabled, non-primary version is allowed.
	require.NoError(t, p.Destroy(ctx, other.Version))
}

func TestSecondProcessReloads(t *testing.T) {
	ctx := t.Context()
	p1, path, master := newTestProvider(t)
	p2, err := Open(path, master)
	require.NoError(t, err)

	v2, err := p1.Rotate(ctx)
	require.NoError(t, err)
	w, kek, err := p1.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.NoError(t, err)
	require.Equal(t, v2, kek)

	// p2 has not reloaded: it does not know v2.
	_, err = p2.Unwrap(ctx, w, nil)
	require.ErrorIs(t, err, keyprovider.ErrKeyNotFound)
	_, err = p2.Rotate(ctx)
	require.ErrorIs(t, err, ErrStale, "a change on a stale view is refused, not a lost update")

	require.NoError(t, p2.Reload())
	require.Equal(t, v2, p2.Primary())
	got, err := p2.Unwrap(ctx, w, nil)
	require.NoError(t, err)
	require.Equal(t, []byte("0123456789abcdef"), got)

	// A third, fresh Open sees the promotion too.
	p3, err := Open(path, master)
	require.NoError(t, err)
	require.Equal(t, v2, p3.Primary())

	// Reload refuses a file that now holds another keyset.
	otherPath := filepath.Join(t.TempDir(), "other.json")
	_, err = Create(otherPath, master)
	require.NoError(t, err)
	other, err := os.ReadFile(otherPath)
	require.NoError(t, err)
	saved, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, other, 0o600))
	require.ErrorContains(t, p3.Reload(), "now holds keyset")
	require.Equal(t, v2, p3.Primary())
	require.NoError(t, os.WriteFile(path, saved, 0o600))

	// Reload of a damaged file keeps the current keyset.
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	require.Error(t, p3.Reload())
	require.Equal(t, v2, p3.Primary())
}

func TestRewrap(t *testing.T) {
	ctx := t.Context()
	p, _, _ := newTestProvider(t)
	old := p.Primary()
	key := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("Customer.Email")
	w, _, err := p.Wrap(ctx, key, ad)
	require.NoError(t, err)
	newID, err := p.Rotate(ctx)
	require.NoError(t, err)

	w2, kek, err := p.Rewrap(ctx, w, ad)
	require.NoError(t, err)
	require.Equal(t, newID, kek)
	require.NoError(t, p.Disable(ctx, old.Version))
	got, err := p.Unwrap(ctx, w2, ad)
	require.NoError(t, err)
	require.Equal(t, key, got)

	_, _, err = p.Rewrap(ctx, w2, []byte("other"))
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)
	require.Contains(t, err.Error(), " (rewrap): local: ", "classed once, for the rewrap")
	_, _, err = p.Rewrap(ctx, w, ad)
	require.ErrorIs(t, err, keyprovider.ErrKeyDisabled)
}

func TestConcurrentRotateAndWrap(t *testing.T) {
	ctx := t.Context()
	p, path, master := newTestProvider(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			ad := fmt.Appendf(nil, "goroutine %d", g)
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := make([]byte, 32)
				_, _ = rand.Read(key)
				w, _, err := p.Wrap(ctx, key, ad)
				if err != nil {
					errs <- err
					return
				}
				got, err := p.Unwrap(ctx, w, ad)
				if err != nil || !bytes.Equal(got, key) {
					errs <- fmt.Errorf("round trip failed: %v", err)
					return
				}
				_, _ = p.Versions(ctx)
			}
		})
	}
	for range 10 {
		_, err := p.Rotate(ctx)
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	q, err := Open(path, master)
	require.NoError(t, err)
	vs, err := q.Versions(ctx)
	require.NoError(t, err)
	require.Len(t, vs, 11)
}

func TestLeftoverTempFileIsIgnored(t *testing.T) {
	p, path, master := newTestProvider(t)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// What a crash in the middle of a write leaves behind.
	stale := filepath.Join(filepath.Dir(path), ".keyset.json.tmp123")
	require.NoError(t, os.WriteFile(stale, data[:len(data)/2], 0o600))
	_, err = p.Rotate(t.Context())
	require.NoError(t, err)
	_, err = Open(path, master)
	require.NoError(t, err)
}

func TestProviderPrintsNoSecrets(t *testing.T) {
	p, path, master := newTestProvider(t)
	forms := []string{
		string(master), hex.EncodeToString(master), strings.ToUpper(hex.EncodeToString(master)),
		base64.StdEncoding.EncodeToString(master), base64.RawURLEncoding.EncodeToString(master),
		strings.Trim(fmt.Sprint(master), "[]"),
	}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, p))
	}
	outs = append(outs, fmt.Sprint(p), fmt.Sprintf("%v", []any{p}), fmt.Sprintf("%+v", struct{ P *Provider }{p}))
	js, err := json.Marshal(struct{ P *Provider }{p})
	require.NoError(t, err)
	outs = append(outs, string(js))
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("provider", "kp", p)
	outs = append(outs, logged.String())

	for _, out := range outs {
		for _, f := range forms {
			require.NotContains(t, out, f)
		}
	}
	require.Equal(t, fmt.Sprintf("local.Provider{path: %q, keyset: %q, primary: %s}", path, p.Primary().Key, p.Primary().Version), fmt.Sprintf("%x", p))
	require.Contains(t, logged.String(), "local.Provider{")
	require.Contains(t, string(js), "local.Provider{")
}

func TestMasterKeyFromEnv(t *testing.T) {
	key := testMaster(t)
	tests := []struct {
		name    string
		value   *string
		want    []byte
		message string
	}{
		{"standard base64", ptr(base64.StdEncoding.EncodeToString(key)), key, ""},
		{"with newline", ptr(base64.StdEncoding.EncodeToString(key) + "\n"), key, ""},
		{"url unpadded", ptr(base64.RawURLEncoding.EncodeToString(key)), key, ""},
		{"unset", nil, nil, "PII_TEST_MASTER is not set"},
		{"empty", ptr(""), nil, "PII_TEST_MASTER is not set"},
		{"too short", ptr(base64.StdEncoding.EncodeToString(key[:16])), nil, "master key is 16 bytes, want 32"},
		{"not base64", ptr("this is not a key!!"), nil, "not a base64 32-byte master key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value != nil {
				t.Setenv("PII_TEST_MASTER", *tt.value)
			} else {
				t.Setenv("PII_TEST_MASTER", "")
				require.NoError(t, os.Unsetenv("PII_TEST_MASTER"))
			}
			got, err := MasterKeyFromEnv("PII_TEST_MASTER")
			if tt.message == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.ErrorContains(t, err, tt.message)
			if tt.value != nil && *tt.value != "" {
				require.NotContains(t, err.Error(), strings.TrimSpace(*tt.value))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestMasterKeyFromFile(t *testing.T) {
	key := testMaster(t)
	b64 := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    []byte
		message string
	}{
		{"base64, 0600", b64, 0o600, key, ""},
		{"base64, 0400", b64, 0o400, key, ""},
		{"raw bytes", key, 0o600, key, ""},
		{"group readable", b64, 0o640, nil, "readable or writable by group or others; refusing to use it; fix with: chmod 600"},
		{"world readable", b64, 0o604, nil, "chmod 600"},
		{"group writable", b64, 0o620, nil, "chmod 600"},
		{"wrong length", []byte(base64.StdEncoding.EncodeToString(key[:20])), 0o600, nil, "master key is 20 bytes"},
		{"garbage", []byte("%%%%"), 0o600, nil, "not a base64 32-byte master key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			require.NoError(t, os.WriteFile(path, tt.content, 0o600))
			require.NoError(t, os.Chmod(path, tt.mode))
			got, err := MasterKeyFromFile(path)
			if tt.message == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.ErrorContains(t, err, tt.message)
			require.NotContains(t, err.Error(), strings.TrimSpace(string(b64)))
		})
	}
	_, err := MasterKeyFromFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = MasterKeyFromFile(t.TempDir())
	require.Error(t, err)
}

func TestWriteMasterKeyFile(t *testing.T) {
	key := testMaster(t)
	path := filepath.Join(t.TempDir(), "master.key")
	require.NoError(t, WriteMasterKeyFile(path, key))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, err := MasterKeyFromFile(path)
	require.NoError(t, err)
	require.Equal(t, key, got)
	require.ErrorIs(t, WriteMasterKeyFile(path, key), os.ErrExist)
	require.ErrorContains(t, WriteMasterKeyFile(filepath.Join(t.TempDir(), "k"), key[:8]), "must be 32 bytes")
}

func TestCreateDoesNotRetainMaster(t *testing.T) {
	p, path, master := newTestProvider(t)
	saved := bytes.Clone(master)
	clear(master)
	_, err := p.Rotate(t.Context())
	require.NoError(t, err, "changes keep working after the caller clears its master key")
	_, err = Open(path, saved)
	require.NoError(t, err)
}

func TestErrorsAreClassified(t *testing.T) {
	ctx := t.Context()
	p, _, _ := newTestProvider(t)
	other, _, _ := newTestProvider(t)
	w, _, err := p.Wrap(ctx, make([]byte, 32), []byte("ad"))
	require.NoError(t, err)
	tampered := bytes.Clone(w)
	tampered[len(tampered)-1] ^= 1
	badPrefix := bytes.Clone(w)
	badPrefix[0] = 0x00

	tests := []struct {
		name    string
		p       *Provider
		wrapped []byte
		ad      []byte
		class   error
	}{
		{"wrong associated data", p, w, []byte("AD"), keyprovider.ErrAuthentication},
		{"tampered tag", p, tampered, []byte("ad"), keyprovider.ErrAuthentication},
		{"unknown prefix byte", p, badPrefix, []byte("ad"), keyprovider.ErrAuthentication},
		{"too short", p, w[:20], []byte("ad"), keyprovider.ErrAuthentication},
		{"other keyset", other, w, []byte("ad"), keyprovider.ErrKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Unwrap(ctx, tt.wrapped, tt.ad)
			require.ErrorIs(t, err, tt.class)
			require.True(t, strings.HasPrefix(err.Error(), "keyprovider: "), err.Error())
			// "keyprovider: CLASS (OP): DETAIL", the detail being local's own error.
			require.Contains(t, err.Error(), " (unwrap): local: ")
		})
	}
}

func TestWrapWithContextErrors(t *testing.T) {
	p, _, _ := newTestProvider(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.Versions(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.Rotate(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = p.Rewrap(ctx, nil, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.AddVersion(ctx)
	require.ErrorIs(t, err, context.Canceled)
}
