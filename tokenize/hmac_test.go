package tokenize

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsPseudonym(t *testing.T) {
	tk := newTestTokenizer(t, &Options{KeyID: "k7"})
	p, err := tk.Tokenize(context.Background(), MethodHMAC, scopeA, nil, "jdoe")
	require.NoError(t, err)
	require.True(t, tk.IsPseudonym(p))
	for _, s := range []string{
		"", "jdoe", "k7:", "k1" + p[2:], p + "A", p[:len(p)-1], "k7:" + "!!!!!!!!!!!!!!!!!!!!!!",
		"k7:AAAAAAAAAAAAAAAAAAAAAB", // non-canonical last character
	} {
		require.False(t, tk.IsPseudonym(s), "%q", s)
	}
}
