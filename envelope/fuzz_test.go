package envelope_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

var frozenSeeds = []string{frozenV1, frozenV2, frozenV3, "pii1.", "plaintext", "pii4.BA"}

// FuzzDecryptString: only the frozen ciphertexts themselves open; every
// other input fails without panicking (a forgery that opened would be
// an authentication break).
func FuzzDecryptString(f *testing.F) {
	for _, s := range frozenSeeds {
		f.Add(s)
	}
	s := frozenSealer(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, ct string) {
		pt, err := s.DecryptString(ctx, ct, frozenB)
		if err == nil {
			if ct != frozenV1 && ct != frozenV2 && ct != frozenV3 {
				t.Fatalf("a modified ciphertext opened: %q", ct)
			}
			if pt != "alice@example.com" {
				t.Fatalf("wrong plaintext")
			}
		}
	})
}

func TestFuzzSeedsPresent(t *testing.T) {
	require.Len(t, frozenSeeds, 6)
	s := frozenSealer(t)
	for _, ct := range frozenSeeds[:3] {
		_, err := s.DecryptString(context.Background(), ct, frozenB)
		require.NoError(t, err)
	}
}
