package tokenize

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSurrogate(t *testing.T) {
	ann, err := Annotate("PHONE_NUMBER", "+1 415-555-2671")
	require.NoError(t, err)
	require.Equal(t, "PHONE_NUMBER(15):+1 415-555-2671", ann)
	require.Equal(t, []Surrogate{{InfoType: "PHONE_NUMBER", Token: "+1 415-555-2671", Start: 0, End: len(ann)}}, FindSurrogates(ann))

	ann, err = Annotate("NAME", "Jürgen")
	require.NoError(t, err)
	require.Equal(t, "NAME(6):Jürgen", ann, "length in runes")

	for _, bad := range []struct{ typ, tok string }{{"phone", "x"}, {"", "x"}, {"1A", "x"}, {"A", ""}, {"A", "\xff"}} {
		_, err := Annotate(bad.typ, bad.tok)
		require.ErrorIs(t, err, ErrFormat, bad)
		require.Regexp(t, `^tokenize: `, err.Error())
	}
	for _, bad := range []string{"", "PHONE", "PHONE()", "PHONE(0):", "PHONE(01):x", "PHONE(2):x", "phone(1):x", "PHONE(1)x", "PHONE(99999):x", "PHONE(1):\xff"} {
		require.Empty(t, FindSurrogates(bad), bad)
	}
	require.Equal(t, []Surrogate{{InfoType: "PHONE", Token: "x", Start: 0, End: 10}}, FindSurrogates("PHONE(1):xy"), "the declared length ends the token")
}

func TestFindAndReverseSurrogates(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	sc := Scope{Tenant: "acme", Field: "chat"}
	phone := Phone{DefaultRegion: "US"}
	card := Card{}
	formats := map[string]TokenFormat{phone.Name(): phone, card.Name(): card}

	pt, err := tk.Tokenize(ctx, MethodFF1, sc, phone, "(415) 555-2671")
	require.NoError(t, err)
	ct, err := tk.Tokenize(ctx, MethodFF1, sc, card, "4111 1111 1111 1111")
	require.NoError(t, err)
	pa, _ := Annotate(phone.Name(), pt)
	ca, _ := Annotate(card.Name(), ct)
	text := "Agent: call me at " + pa + ", card " + ca + ". xPHONE_NUMBER(3):abc is not one."

	found := FindSurrogates(text)
	require.Len(t, found, 2)
	require.Equal(t, pt, found[0].Token)
	require.Equal(t, ct, found[1].Token)
	require.Equal(t, pa, text[found[0].Start:found[0].End])

	out, err := ReplaceSurrogates(text, func(s Surrogate) (string, error) {
		return tk.Detokenize(ctx, MethodFF1, sc, formats[s.InfoType], s.Token)
	})
	require.NoError(t, err)
	require.Equal(t, "Agent: call me at (415) 555-2671, card 4111 1111 1111 1111. xPHONE_NUMBER(3):abc is not one.", out)

	_, err = ReplaceSurrogates(text, func(s Surrogate) (string, error) { return "", ErrPermission })
	require.ErrorIs(t, err, ErrPermission)
	require.Empty(t, FindSurrogates("no markers (here): at all"))
	require.Len(t, FindSurrogates(strings.Repeat("A(1):b ", 3)), 3)
}
