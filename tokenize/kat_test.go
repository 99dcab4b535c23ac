package tokenize

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

// TestKnownTokens freezes one token per format and method: a change in key
// derivation, tweak derivation or a format's rules changes every stored
// token, so it must fail here first.
func TestKnownTokens(t *testing.T) {
	ctx := context.Background()
	tk, err := New([]byte("an example root key, 32 bytes!!!"), &Options{KeyID: "k1"})
	require.NoError(t, err)
	plate, err := NewTemplate("PLATE", alphabet.UpperLetters+alphabet.Digits, "??-####")
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

// TestKnownStoredRecord freezes one stored record: its lookup hash and
// sealed value must keep opening and converging, whatever is renamed, or
// every stored token in every database is orphaned.
func TestKnownStoredRecord(t *testing.T) {
	ctx := context.Background()
	hexBytes := func(s string) []byte {
		b, err := hex.DecodeString(s)
		require.NoError(t, err)
		return b
	}
	const iban = "GB82 WEST 1234 5698 7654 32"
	r := &Record{
		Token: "GB62 WEST 3487 4555 2407 53", Tenant: "acme", Field: "Customer.IBAN", Subject: "c-1", KeyID: "k1",
		Lookup: hexBytes("3f51e60f157cd0d36858a753b52d8f5f783d582256578c9471625a4070c31bd5"),
		Sealed: hexBytes("02b28d96e1a7abaaa5e720771d1d4758f42729263b30b887f4f562778c11355379763b8b8e901382a3e9d130c28366d15c487014fb34f6"),
	}
	st := NewMemoryStore()
	require.NoError(t, st.Put(ctx, r))
	tk, err := New([]byte("an example root key, 32 bytes!!!"), &Options{KeyID: "k1", Store: st, Convergent: true})
	require.NoError(t, err)
	s := Scope{Tenant: r.Tenant, Field: r.Field, Subject: r.Subject}
	v, err := tk.Detokenize(ctx, MethodStored, s, IBAN{}, r.Token)
	require.NoError(t, err, "the sealed value opens")
	require.Equal(t, iban, v)
	tok, err := tk.Tokenize(ctx, MethodStored, s, IBAN{}, iban)
	require.NoError(t, err)
	require.Equal(t, r.Token, tok, "the lookup hash converges")
}
