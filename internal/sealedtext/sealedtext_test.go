package sealedtext_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sealedtext"
)

// The frozen ciphertexts of envelope/frozen_test.go, one per shipped version.
const (
	frozenV1 = "pii1.AQAAAcDBwsPExcbHyMnKy2YpMkFuVouBCzOFp0iEN-6jsVjVmMgUcJi98P7KSCRJkqGcK0TOD3KpHLjDiZuoe08"
	frozenV2 = "pii2.AgA9ABqZl9KcTKzbbU0c5RjMcfwyJ2tOTtot2MwN6_5qDSzbAAonZZkN_KjW-sIy6uJOFG1SQ0B1FuqpUvlLiMDBwsPExcbHyMnKy1O3BvQTaTQswhT_oz9st0ko8jymnYAPJ0uYmPtLMkuvP4Yxeh2BSqfx563J_T79KFU"
	frozenV3 = "pii3.AxBA__B51M0LQ6HIOYMfj08SjdzlWQdiCtf6ECloNJlkrjooPNDTLH9movRKnxoNggo"
)

// reference is IsSealed written independently, on encoding/base64: the
// rules of envelope/internal/format.ParseText.
func reference(s string) bool {
	if len(s) < 5 || !strings.HasPrefix(s, "pii") || s[4] != '.' || s[3] < '1' || s[3] > '3' {
		return false
	}
	src := s[5:]
	if strings.ContainsAny(src, "\r\n") { // encoding/base64 skips them; the format does not
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(src)
	if err != nil || len(b) == 0 || b[0] != s[3]-'0' {
		return false
	}
	switch b[0] {
	case 1:
		return len(b) >= 1+3+12+16+16
	case 2:
		if len(b) < 3 {
			return false
		}
		wl := int(b[1])<<8 | int(b[2])
		return wl > 0 && len(b) >= 1+2+wl+12+16+16
	}
	return len(b) >= 1+16+16
}

// variants returns s and edits of it that cross every rule.
func variants(s string) []string {
	out := []string{s, s[:len(s)-1], s[:len(s)-2], s[:len(s)-3], s + "A", s + "AA", s + "AAA", s + "AAAA",
		s + "\n", s[:10] + "\n" + s[10:], s[:10] + "=" + s[10:], s + "==", strings.ToUpper(s[:5]) + s[5:],
		"pii4" + s[4:], "pii01" + s[4:], "pii" + s[3:4] + ":" + s[5:], s[:5], s[:6], s[:7], s[:8], s[:9]}
	for _, i := range []int{5, 6, 7, 8, len(s) - 1} {
		for _, c := range []byte{'A', 'B', 'Q', 'g', '_', '-', '+', '/', ' ', 0xff} {
			b := []byte(s)
			b[i] = c
			out = append(out, string(b))
		}
	}
	return out
}

func TestIsSealedMatchesEnvelope(t *testing.T) {
	for _, s := range []string{frozenV1, frozenV2, frozenV3} {
		require.True(t, sealedtext.IsSealed(s), s)
		require.True(t, envelope.IsSealed(s), s)
	}
	n := 0
	for _, base := range []string{frozenV1, frozenV2, frozenV3} {
		for _, s := range variants(base) {
			got := sealedtext.IsSealed(s)
			require.Equal(t, reference(s), got, "%q", s)
			require.Equal(t, envelope.IsSealed(s), got, "%q", s)
			if got {
				n++
			}
		}
	}
	require.Greater(t, n, 3, "some variants stay well formed")
	for _, s := range []string{"", "pii", "pii1", "pii1.", "pii1.AQ", "Ada Lovelace", "P.", "pii2.AgAA", "pii3.Aw"} {
		require.False(t, sealedtext.IsSealed(s), "%q", s)
		require.Equal(t, envelope.IsSealed(s), sealedtext.IsSealed(s), "%q", s)
	}
}

var fuzzSeeds = []string{frozenV1, frozenV2, frozenV3, "", "pii1.", "pii2.AgABAA", "pii9.AA", "alice@example.com"}

func FuzzIsSealed(f *testing.F) {
	require.NotEmpty(f, fuzzSeeds, "fuzz seed corpus must not be empty")
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := sealedtext.IsSealed(s)
		require.Equal(t, reference(s), got, "%q", s)
		require.Equal(t, envelope.IsSealed(s), got, "%q", s)
	})
}
