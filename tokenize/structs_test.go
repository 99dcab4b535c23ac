package tokenize

import (
	"context"
	"errors"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/checkdigit"
)

type tContact struct {
	Kind  string `pii:"-"`
	Phone string `pii:"phone,token=ff1"`
}

type tCustomer struct {
	ID       string     `pii:"subject"`
	Tenant   string     `pii:"tenant"`
	Email    string     `pii:"email,token=ff1"`
	Card     string     `pii:"card,token=ff1"`
	CardAlt  string     `pii:"card,token=ff3-1"`
	SSN      string     `pii:"national_id,token=ff1"`
	IBAN     string     `pii:"iban,token=stored"`
	Name     string     `pii:"name,token=ff1"`
	Alias    string     `pii:"name,token=hmac"`
	Note     string     `pii:"-"`
	Empty    string     `pii:"email,token=ff1"`
	Contacts []tContact `pii:"dive"`
}

func newCustomer() tCustomer {
	return tCustomer{
		ID: "cust-1", Tenant: "acme",
		Email: "jane.doe@example.com", Card: "4111 1111 1111 1111", CardAlt: "5555555555554444",
		SSN: "123-45-6789", IBAN: "GB82 WEST 1234 5698 7654 32", Name: "Jane Doe", Alias: "jdoe",
		Note: "keep me",
		Contacts: []tContact{
			{Kind: "home", Phone: "+1 415-555-2671"},
			{Kind: "work", Phone: "+44 20 7946 0958"},
		},
	}
}

func TestApplyReverse(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, &Options{Store: NewMemoryStore()})
	c := newCustomer()
	orig := newCustomer()
	require.NoError(t, tk.Apply(ctx, &c))

	require.Equal(t, orig.ID, c.ID)
	require.Equal(t, orig.Tenant, c.Tenant)
	require.Equal(t, orig.Note, c.Note)
	require.Equal(t, "", c.Empty)
	for _, pair := range [][2]string{
		{orig.Email, c.Email}, {orig.Card, c.Card}, {orig.CardAlt, c.CardAlt}, {orig.SSN, c.SSN},
		{orig.IBAN, c.IBAN}, {orig.Name, c.Name}, {orig.Alias, c.Alias},
		{orig.Contacts[0].Phone, c.Contacts[0].Phone}, {orig.Contacts[1].Phone, c.Contacts[1].Phone},
	} {
		require.NotEqual(t, pair[0], pair[1])
	}
	require.False(t, checkdigit.LuhnText(c.Card), "card tokens fail Luhn")
	require.False(t, ibanValid(c.IBAN), "IBAN tokens fail mod-97")
	require.Equal(t, "1111", c.Card[len(c.Card)-4:])
	require.Equal(t, layout(orig.Contacts[1].Phone), layout(c.Contacts[1].Phone))
	require.Equal(t, tk.pseudonym(Scope{Tenant: "acme", Field: "tCustomer.Alias"}, "jdoe"), c.Alias)

	// Same value, same tenant and field: same token (joins work).
	c2 := newCustomer()
	c2.ID = "cust-2"
	require.NoError(t, tk.Apply(ctx, &c2))
	require.Equal(t, c.Card, c2.Card)
	// Another tenant: different tokens.
	c3 := newCustomer()
	c3.Tenant = "globex"
	require.NoError(t, tk.Apply(ctx, &c3))
	require.NotEqual(t, c.Card, c3.Card)

	// Refused fields keep their tokens, the others are restored, and the
	// error names the refused ones.
	tokenized := c
	tokenized.Contacts = append([]tContact(nil), c.Contacts...)
	err := tk.Reverse(ctx, &c, nil)
	require.ErrorIs(t, err, ErrPermission)
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, []string{"Email", "Card", "CardAlt", "SSN", "IBAN", "Name", "Contacts[0].Phone", "Contacts[1].Phone"}, refusedPaths(re))
	require.Equal(t, tokenized, c, "a nil permit reverses nothing")

	refuse := errors.New("agent lacks role supervisor")
	partial := c
	partial.Contacts = append([]tContact(nil), c.Contacts...)
	err = tk.Reverse(ctx, &partial, func(_ context.Context, f *pii.Field, path string) error {
		if f.Category == "card" {
			return refuse
		}
		return nil
	})
	require.ErrorIs(t, err, ErrPermission)
	require.ErrorIs(t, err, refuse)
	require.ErrorAs(t, err, &re)
	require.Equal(t, []string{"Card", "CardAlt"}, refusedPaths(re))
	require.Contains(t, err.Error(), "tCustomer.Card")
	require.Contains(t, err.Error(), "and 1 more fields")
	require.Equal(t, tokenized.Card, partial.Card, "a refused field keeps its token")
	require.Equal(t, tokenized.CardAlt, partial.CardAlt)
	require.Equal(t, orig.Email, partial.Email, "an allowed field is restored")
	require.Equal(t, orig.Contacts, partial.Contacts)

	var seen []string
	require.NoError(t, tk.Reverse(ctx, &c, func(_ context.Context, f *pii.Field, path string) error {
		seen = append(seen, path)
		return nil
	}))
	require.Contains(t, seen, "Contacts[1].Phone")
	want := orig
	want.Alias = c.Alias // pseudonyms stay pseudonyms
	require.Equal(t, want, c)

	require.Error(t, tk.Apply(ctx, c), "needs a pointer")
}

func TestApplyFormatOverride(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, &Options{Formats: map[string]TokenFormat{
		"phone": Phone{DefaultRegion: "US", KeepAreaCode: true},
		"card":  Card{KeepBIN: 6},
	}})
	type rec struct {
		Phone string `pii:"user.contact.phone,token=ff1"`
		Card  string `pii:"card,token=ff1"`
	}
	r := rec{Phone: "(415) 555-2671", Card: "4111111111111111"}
	require.NoError(t, tk.Apply(ctx, &r))
	require.Equal(t, "(415) ", r.Phone[:6], "area code kept via the dotted category's last segment")
	require.Equal(t, "411111", r.Card[:6])
	require.False(t, checkdigit.LuhnText(r.Card))
	require.NoError(t, tk.Reverse(ctx, &r, func(context.Context, *pii.Field, string) error { return nil }))
	require.Equal(t, rec{Phone: "(415) 555-2671", Card: "4111111111111111"}, r)

	bad := rec{Phone: "(415) 555-2671", Card: "4111111111111112"}
	err := tk.Apply(ctx, &bad)
	require.ErrorIs(t, err, ErrFormat)
	require.Contains(t, err.Error(), "rec.Card")
	require.NotContains(t, err.Error(), "4111111111111112")
	require.Equal(t, rec{Phone: "(415) 555-2671", Card: "4111111111111112"}, bad, "a failed Apply changes nothing")
}

// refusedPaths returns the concrete paths of the fields a RefusedError
// names.
func refusedPaths(e *RefusedError) []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Path
	}
	return out
}
