package fpe

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

var numeralSeeds = []struct {
	radix uint16
	data  []byte
	tweak []byte
}{
	{10, []byte("0123456789"), nil},
	{10, []byte("4111111111111111"), []byte("tnt/fld1")},
	{2, []byte("0101010101010101010101"), []byte("x")},
	{36, []byte("abcdefghijklmnop"), []byte("tweak-longer-than-a-block!")},
	{65535, []byte{0xff, 0xfe, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78}, []byte("1234567")},
	{0, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, nil},
}

// FuzzNumerals: any radix, length and tweak either round-trips through FF1
// and FF3-1 with the length and radix kept, or fails with a typed error.
func FuzzNumerals(f *testing.F) {
	for _, s := range numeralSeeds {
		f.Add(s.radix, s.data, s.tweak)
	}
	ff1 := map[int]*FF1{}
	ff31 := map[int]*FF31{}
	f.Fuzz(func(t *testing.T, r uint16, data, tweak []byte) {
		radix := 2 + int(r)%65535
		if ff1[radix] == nil {
			var err error
			ff1[radix], err = NewFF1(testKey, radix)
			require.NoError(t, err)
			ff31[radix], err = NewFF31(testKey, radix)
			require.NoError(t, err)
		}
		x := make([]uint16, 0, len(data))
		for _, b := range data {
			x = append(x, uint16(int(b)*257%radix))
		}
		for _, c := range []numeralCipher{ff1[radix], ff31[radix]} {
			y, err := c.EncryptNumerals(tweak, x)
			if err != nil {
				require.True(t, errors.Is(err, ErrDomain) || errors.Is(err, errTweak), "%v", err)
				require.Regexp(t, `^fpe: `, err.Error())
				continue
			}
			require.Len(t, y, len(x))
			require.NoError(t, checkNumerals(y, radix))
			z, err := c.DecryptNumerals(tweak, y)
			require.NoError(t, err)
			require.Equal(t, x, z)
		}
	})
}

var stringSeeds = []struct{ alphabet, tweak, s string }{
	{alphabet.Digits, "", "0123456789"},
	{alphabet.LowerAlnum, "7777pqrs777", "0123456789abcdefghi"},
	{alphabet.Alnum, "t", "HelloWorld42"},
	{"αβγδεζηθ", "tw", "αβγδεζηθαβ"},
	{alphabet.Digits, "", "12ab"},
	{"ab", "", ""},
}

// FuzzAlphabet: a string over an alphabet converts to numerals and back
// byte for byte, and through FF1 round-trips keeping its length in runes;
// anything else is a typed error.
func FuzzAlphabet(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s.alphabet, s.tweak, s.s)
	}
	f.Fuzz(func(t *testing.T, alphabet, tweak, s string) {
		a, err := NewAlphabet(alphabet)
		if err != nil {
			require.ErrorIs(t, err, errAlphabet)
			return
		}
		ff1, err := NewFF1(testKey, a.Radix())
		require.NoError(t, err)
		x, err := a.Numerals(s)
		if err != nil {
			require.ErrorIs(t, err, ErrDomain)
			if len(s) >= 8 { // short inputs can match message text by chance
				require.NotContains(t, err.Error(), s)
			}
			return
		}
		back, err := a.String(x)
		require.NoError(t, err)
		require.Equal(t, s, back, "numerals and back")
		ct, err := ff1.EncryptNumerals([]byte(tweak), x)
		if err != nil {
			require.ErrorIs(t, err, ErrDomain)
			return
		}
		y, err := a.String(ct)
		require.NoError(t, err, "the output is over the alphabet")
		require.Equal(t, len([]rune(s)), len([]rune(y)))
		pt, err := ff1.DecryptNumerals([]byte(tweak), ct)
		require.NoError(t, err)
		z, err := a.String(pt)
		require.NoError(t, err)
		require.Equal(t, s, z)
	})
}

// TestFuzzSeedsPresent fails when a fuzz target's seed corpus is empty.
func TestFuzzSeedsPresent(t *testing.T) {
	require.NotEmpty(t, numeralSeeds)
	require.NotEmpty(t, stringSeeds)
}
