package envelope

import (
	"context"
	"fmt"
	"testing"

	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/stretchr/testify/require"
)

// TestInlineCacheBoundToTenant: an inline DEK cached for one tenant is not
// used for another tenant's value, even when the value is bound to that
// tenant in its own associated data: the wrapped DEK is bound to its
// tenant, and only the key provider may say it opens elsewhere.
func TestInlineCacheBoundToTenant(t *testing.T) {
	ctx := context.Background()
	s, err := New(testkp.New(nil), &Options{Inline: true})
	require.NoError(t, err)
	acme := Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r"}
	globex := acme
	globex.Tenant = "globex"
	ct, err := s.EncryptBytes(ctx, []byte("v"), acme)
	require.NoError(t, err)
	c, err := format.Parse(ct)
	require.NoError(t, err)
	s.mu.RLock()
	e := s.inline[string(c.Wrapped)] // acme's DEK, cached by its wrapped bytes
	s.mu.RUnlock()
	require.NotNil(t, e)
	// A value under acme's DEK whose field associated data names globex.
	forge := func(b Binding) []byte {
		head := append([]byte(nil), ct[:len(ct)-len(c.Sealed)]...)
		return e.aead.Seal(head, c.Nonce, []byte("forged"), appendFieldAD(nil, format.V2Inline, 0, &b))
	}
	_, err = s.DecryptBytes(ctx, forge(globex), globex)
	require.ErrorIs(t, err, ErrDecrypt)
	pt, err := s.DecryptBytes(ctx, forge(acme), acme)
	require.NoError(t, err, "the forgery itself is well made")
	require.Equal(t, "forged", string(pt))
}

// TestInlineCacheEvictsOldestFirst: the inline cache, full, evicts the
// DEK installed first, one per DEK installed (map order would keep a
// random set).
func TestInlineCacheEvictsOldestFirst(t *testing.T) {
	ctx := context.Background()
	const limit = 20
	s, err := New(testkp.New(nil), &Options{Inline: true, Cache: CacheLimits{MaxEntries: limit}})
	require.NoError(t, err)
	cached := func() map[string]bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		out := map[string]bool{}
		for _, e := range s.inline {
			out[e.ref.tenant] = true
		}
		return out
	}
	for i := range limit + 10 {
		b := Binding{Tenant: fmt.Sprint("t", i), Type: "T", Field: "F", Record: "r"}
		_, err := s.EncryptBytes(ctx, []byte("v"), b)
		require.NoError(t, err)
		want := map[string]bool{}
		for j := max(0, i-limit+1); j <= i; j++ {
			want[fmt.Sprint("t", j)] = true
		}
		require.Equal(t, want, cached(), "after tenant %d", i)
	}
	require.Equal(t, uint64(10), s.st.evictions.Load())
}
