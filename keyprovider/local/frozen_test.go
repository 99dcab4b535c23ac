package local

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
)

// The frozen v1 keyset file in testdata was written by this package under
// frozenMaster, a TEST KEY that must never be used for anything real (nor
// any hard-coded master key). The test pins the file format and the wrapped
// form: if either drifts, old keysets and old wrapped keys stop opening.
const (
	frozenMaster = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	frozenKey    = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	frozenAD     = "type=Customer;field=Email"
	// Wrapped under version 1714604903 (since demoted) and 2543101211 (primary).
	frozenW1 = "016632cb67e6302fe6153b7c30dd350956c47040f9d47942197c200f78ff0dc239df215d6c2640414663219b4e60202955ce42d13b743de0bcf6d87ff13af71862"
	frozenW2 = "019794a51bb303aabbc238f3b1784b7e94dc386e522c0131c1b6f53488b7977121cfeb1ca8ba262eb8203fc14f4473f64972112c5856fe0fcfb9111b22b1c2efbd"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestFrozenV1Keyset(t *testing.T) {
	// Work on a copy: Open never writes, but a failing assertion below must
	// not be able to damage the pinned file either.
	data, err := os.ReadFile(filepath.Join("testdata", "v1-keyset.json"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "keyset.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))

	p, err := Open(path, unhex(t, frozenMaster))
	require.NoError(t, err)
	const name = "local/e97a7e71b687b9ac"
	require.Equal(t, keyprovider.KeyID{Key: name, Version: "2543101211"}, p.Primary())

	for _, w := range []string{frozenW1, frozenW2} {
		got, err := p.Unwrap(t.Context(), unhex(t, w), []byte(frozenAD))
		require.NoError(t, err)
		require.Equal(t, unhex(t, frozenKey), got)
	}

	vs, err := p.Versions(t.Context())
	require.NoError(t, err)
	ms := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	want := []keyprovider.Version{
		{ID: keyprovider.KeyID{Key: name, Version: "1714604903"}, Status: keyprovider.StatusEnabled, Created: ms("2026-11-23T11:50:00.42Z")},
		{ID: keyprovider.KeyID{Key: name, Version: "2543101211"}, Status: keyprovider.StatusEnabled, Primary: true, Created: ms("2026-11-23T11:50:00.421Z")},
		{ID: keyprovider.KeyID{Key: name, Version: "3181192128"}, Status: keyprovider.StatusDisabled, Created: ms("2026-11-23T11:50:00.422Z")},
		{ID: keyprovider.KeyID{Key: name, Version: "2788792579"}, Status: keyprovider.StatusDestroyed, Created: ms("2026-11-23T11:50:00.43Z")},
	}
	require.Len(t, vs, len(want))
	for i := range want {
		require.Equal(t, want[i].ID, vs[i].ID)
		require.Equal(t, want[i].Status, vs[i].Status)
		require.Equal(t, want[i].Primary, vs[i].Primary)
		require.True(t, want[i].Created.Equal(vs[i].Created), "version %d created", i)
	}

	// The file still accepts changes, and the result opens again.
	_, err = p.Rotate(t.Context())
	require.NoError(t, err)
	_, err = Open(path, unhex(t, frozenMaster))
	require.NoError(t, err)
}
