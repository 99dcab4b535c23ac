package tokenize

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fieldguard/pii/tokenize/fpe"
	"github.com/stretchr/testify/require"
)

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

// FuzzSurrogate: every annotation FindSurrogates reports is found again,
// alone, as itself, and Annotate of its parts prints it back byte for
// byte; replacing every annotation by itself gives the text back.
func FuzzSurrogate(f *testing.F) {
	for _, s := range surrogateSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		last := 0
		for _, s := range FindSurrogates(text) {
			require.GreaterOrEqual(t, s.Start, last)
			sub := text[s.Start:s.End]
			again, err := Annotate(s.InfoType, s.Token)
			require.NoError(t, err)
			require.Equal(t, sub, again)
			alone := FindSurrogates(sub)
			require.Len(t, alone, 1)
			require.Equal(t, Surrogate{InfoType: s.InfoType, Token: s.Token, Start: 0, End: len(sub)}, alone[0])
			last = s.End
		}
		out, err := ReplaceSurrogates(text, func(s Surrogate) (string, error) { return Annotate(s.InfoType, s.Token) })
		require.NoError(t, err)
		require.Equal(t, text, out)
		if _, err := Annotate("X", text); err != nil {
			require.ErrorIs(t, err, ErrFormat)
		}
	})
}

// TestFuzzSeedsPresent fails when a fuzz target's seed corpus is empty.
func TestFuzzSeedsPresent(t *testing.T) {
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
	formats := []TokenFormat{Card{}, Card{KeepBIN: 6}, Card{LuhnValid: true}, IBAN{}, IBAN{ChecksumValid: true},
		SSN{}, Email{}, Phone{DefaultRegion: "US"}}
	f.Fuzz(func(t *testing.T, s string) {
		ctx := context.Background()
		for _, m := range []Method{MethodFF1, MethodFF31} {
			for _, fm := range formats {
				v, err := tk.Detokenize(ctx, m, scopeA, fm, s)
				if err != nil {
					require.True(t, errors.Is(err, ErrFormat) || errors.Is(err, ErrNotToken) ||
						errors.Is(err, fpe.ErrDomain), "%T: %v", fm, err)
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
