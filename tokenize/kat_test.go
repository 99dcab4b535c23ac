package tokenize

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/tokenize/fpe"
)

// TestKnownTokens freezes one token per format and method: a change in key
// derivation, tweak derivation or a format's rules changes every stored
// token, so it must fail here first.
func TestKnownTokens(t *testing.T) {
	ctx := context.Background()
	tk, err := New([]byte("an example root key, 32 bytes!!!"), &Options{KeyID: "k1"})
	require.NoError(t, err)
	plate, err := NewTemplate("PLATE", fpe.UpperLetters+fpe.Digits, "??-####")
	require.NoError(t, err)
	s := Scope{Tenant: "acme", Field: "Customer.X"}
	for _, tc := range []struct {
		m     Method
		f     TokenFormat
		value string
		token string
	}{
		{MethodFF1, Card{LuhnValid: true}, "4111 1111 1111 1111", "5483 7560 2630 1111"},
		{MethodFF31, Card{LuhnValid: true}, "4111 1111 1111 1111", "0972 3244 5924 1111"},
		{MethodFF1, Card{}, "4111 1111 1111 1111", "5483 7560 2631 1111"},
		{MethodFF31, Card{}, "4111 1111 1111 1111", "0972 3244 5928 1111"},
		{MethodFF1, Card{KeepBIN: 6}, "4111-1111-1111-1111", "4111-1135-5891-1111"},
		{MethodFF1, Phone{DefaultRegion: "GB"}, "+44 20 7946 0958", "+44 84 4657 9104"},
		{MethodFF1, SSN{}, "123-45-6789", "416-64-1695"},
		{MethodFF1, IBAN{ChecksumValid: true}, "GB82 WEST 1234 5698 7654 32", "GB33 WEST 5040 5421 4577 07"},
		{MethodFF1, IBAN{}, "GB82 WEST 1234 5698 7654 32", "GB09 WEST 5040 5421 4577 07"},
		{MethodFF1, Email{TokenizeDomain: true}, "jane.doe@example.com", "OKWQ.zYQ@hr58gbz.com"},
		{MethodFF31, Email{}, "jane.doe@example.com", "xLvT.eP8@example.com"},
		{MethodFF1, plate, "AB-12CD", "AB-B3VF"},
		{MethodHMAC, Email{}, "jane.doe@example.com", "k1:zqarv284tGQdtilrREj8-g"},
	} {
		tok, err := tk.Tokenize(ctx, tc.m, s, tc.f, tc.value)
		require.NoError(t, err)
		require.Equal(t, tc.token, tok, "%s %T: token changed", tc.m, tc.f)
	}
}
