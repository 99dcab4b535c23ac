package tokenize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
		for _, c := range []NumeralCipher{ff1[radix], ff31[radix]} {
			y, err := c.EncryptNumerals(tweak, x)
			if err != nil {
				require.True(t, errors.Is(err, ErrDomain) || errors.Is(err, ErrTweak), "%v", err)
				require.Regexp(t, `^tokenize: `, err.Error())
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
	{Digits, "", "0123456789"},
	{LowerAlnum, "7777pqrs777", "0123456789abcdefghi"},
	{Alnum, "t", "HelloWorld42"},
	{"αβγδεζηθ", "tw", "αβγδεζηθαβ"},
	{Digits, "", "12ab"},
	{"ab", "", ""},
}

// FuzzStringCipher: strings over an alphabet round-trip and keep their
// length in runes; anything else is a typed error.
func FuzzStringCipher(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s.alphabet, s.tweak, s.s)
	}
	f.Fuzz(func(t *testing.T, alphabet, tweak, s string) {
		a, err := NewAlphabet(alphabet)
		if err != nil {
			require.ErrorIs(t, err, ErrAlphabet)
			return
		}
		c, err := a.FF1(testKey)
		require.NoError(t, err)
		y, err := c.Encrypt(tweak, s)
		if err != nil {
			require.True(t, errors.Is(err, ErrAlphabet) || errors.Is(err, ErrDomain), "%v", err)
			if len(s) >= 8 { // short inputs can match message text by chance
				require.NotContains(t, err.Error(), s)
			}
			return
		}
		require.Equal(t, len([]rune(s)), len([]rune(y)))
		for _, r := range y {
			require.True(t, a.Contains(r))
		}
		z, err := c.Decrypt(tweak, y)
		require.NoError(t, err)
		require.Equal(t, s, z)
	})
}

var surrogateSeeds = []string{
	"PHONE_NUMBER(12):+14155552671",
	"CARD(19):4111 1111 1111 1111",
	"NAME(6):Jürgen",
	"text before CARD(4):1234 and after EMAIL_ADDRESS(5):a@b.c",
	"PHONE(0):",
	"PHONE(01):x",
	"X(3):ab",
	"A(1):\xff",
}

// FuzzSurrogate: parsing then printing is byte-identical or ErrSurrogate;
// every annotation FindSurrogates reports parses back to itself.
func FuzzSurrogate(f *testing.F) {
	for _, s := range surrogateSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSurrogate(text)
		if err != nil {
			require.ErrorIs(t, err, ErrSurrogate)
		} else {
			require.Equal(t, text, s.String())
			again, err := Annotate(s.InfoType, s.Token)
			require.NoError(t, err)
			require.Equal(t, text, again)
		}
		last := 0
		for _, s := range FindSurrogates(text) {
			require.GreaterOrEqual(t, s.Start, last)
			sub := text[s.Start:s.End]
			p, err := ParseSurrogate(sub)
			require.NoError(t, err)
			require.Equal(t, sub, p.String())
			require.Equal(t, s.Token, p.Token)
			last = s.End
		}
		out, err := ReplaceSurrogates(text, func(s Surrogate) (string, error) { return s.String(), nil })
		require.NoError(t, err)
		require.Equal(t, text, out)
	})
}

// TestFuzzSeedsPresent fails when a fuzz target's seed corpus is empty.
func TestFuzzSeedsPresent(t *testing.T) {
	require.NotEmpty(t, numeralSeeds)
	require.NotEmpty(t, stringSeeds)
	require.NotEmpty(t, surrogateSeeds)
	require.NotEmpty(t, detokenizeSeeds)
}

var detokenizeSeeds = []string{
	"4111 1111 1111 1111", "5483 7560 2631 1111", "4111-1135-5891-1111", "6011000990139424124",
	"GB82 WEST 1234 5698 7654 32", "GB09 WEST 5040 5421 4577 07", "de89370400440532013000",
	"123-45-6789", "416-64-1695", "666-12-3456", "jane.doe@example.com", "xLvT.eP8@example.com",
	"+1 415-555-2671", "(626) 607-0545", "+1 000-000-0000", "", "not a token",
}

// FuzzDetokenize: any string either is a token of the field, and then
// tokenizing what it reverses to gives it back byte for byte, or is refused
// with a typed error that names neither the string nor a value.
func FuzzDetokenize(f *testing.F) {
	require.NotEmpty(f, detokenizeSeeds, "fuzz seed corpus must not be empty")
	for _, s := range detokenizeSeeds {
		f.Add(s)
	}
	tk, err := New(testKey, nil)
	require.NoError(f, err)
	formats := []Format{Card{}, Card{KeepBIN: 6}, Card{LuhnValid: true}, IBAN{}, IBAN{ChecksumValid: true},
		SSN{}, Email{}, Phone{DefaultRegion: "US"}}
	f.Fuzz(func(t *testing.T, s string) {
		ctx := context.Background()
		for _, m := range []Method{MethodFF1, MethodFF31} {
			for _, fm := range formats {
				v, err := tk.Detokenize(ctx, m, scopeA, fm, s)
				if err != nil {
					require.True(t, errors.Is(err, ErrFormat) || errors.Is(err, ErrNotToken) ||
						errors.Is(err, ErrDomain) || errors.Is(err, ErrAlphabet), "%T: %v", fm, err)
					require.Regexp(t, `^tokenize: `, err.Error())
					require.Equal(t, 1, strings.Count(err.Error(), "tokenize:"), err.Error())
					if len(s) >= 8 {
						require.NotContains(t, err.Error(), s)
					}
					continue
				}
				back, err := tk.Tokenize(ctx, m, scopeA, fm, v)
				require.NoError(t, err, "%s %T", m, fm)
				require.Equal(t, s, back, "%s %T: tokenize(detokenize(s)) == s", m, fm)
			}
		}
	})
}
