package mask

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/tokenize"
	"github.com/stretchr/testify/require"
)

// Sealed values in the text form of each shipped envelope version (the
// frozen ciphertexts of envelope/frozen_test.go).
var sealedValues = []string{
	"pii1.AQAAAcDBwsPExcbHyMnKy2YpMkFuVouBCzOFp0iEN-6jsVjVmMgUcJi98P7KSCRJkqGcK0TOD3KpHLjDiZuoe08",
	"pii2.AgA9ABqZl9KcTKzbbU0c5RjMcfwyJ2tOTtot2MwN6_5qDSzbAAonZZkN_KjW-sIy6uJOFG1SQ0B1FuqpUvlLiMDBwsPExcbHyMnKy1O3BvQTaTQswhT_oz9st0ko8jymnYAPJ0uYmPtLMkuvP4Yxeh2BSqfx563J_T79KFU",
	"pii3.AxBA__B51M0LQ6HIOYMfj08SjdzlWQdiCtf6ECloNJlkrjooPNDTLH9movRKnxoNggo",
}

type sealedCustomer struct {
	ID     string   `pii:"id"`
	Tenant string   `pii:"tenant"`
	Name   string   `pii:"name,encrypt,mask=initials,reveal=supervisor"`
	Email  *string  `pii:"email,encrypt,reveal=supervisor"`
	Note   []byte   `pii:"health,encrypt,mask=fixed"`
	Emails []string `pii:"email"`
}

// A view of a struct whose fields are still sealed is an error naming the
// field, never a masked ciphertext ("P." for a sealed name).
func TestViewRefusesSealedFields(t *testing.T) {
	ctx := context.Background()
	sink := &recordSink{}
	vs, err := NewViews(&ViewsOptions{Audit: sink})
	require.NoError(t, err)
	agent := Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}
	sup := Viewer{ID: "s", Role: "supervisor", Channel: ChannelSecureChat}
	email := "ada@example.com"
	for _, sealed := range sealedValues {
		for _, tc := range []struct {
			path string
			set  func(c *sealedCustomer)
		}{
			{"Name", func(c *sealedCustomer) { c.Name = sealed }},
			{"Email", func(c *sealedCustomer) { c.Email = &sealed }},
			{"Note", func(c *sealedCustomer) { c.Note = []byte(sealed) }},
		} {
			c := &sealedCustomer{ID: "c-1", Tenant: "acme", Name: "Ada Lovelace", Email: &email, Note: []byte("asthma")}
			tc.set(c)
			check := func(err error) {
				t.Helper()
				require.ErrorIs(t, err, errSealed, tc.path)
				var fe *pii.FieldError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, "sealedCustomer", fe.Type)
				require.Equal(t, tc.path, fe.Path)
				require.Equal(t, "ID", fe.RecordField)
				require.Equal(t, "c-1", fe.Record)
				require.Equal(t, "mask: sealedCustomer."+tc.path+" (record ID \"c-1\"): field is still sealed; open the record before viewing it", err.Error())
				require.NotContains(t, err.Error(), sealed[:8])
			}
			_, err := ViewOf(ctx, vs, agent, c)
			check(err)
			_, err = vs.ViewMap(ctx, agent, c)
			check(err)
		}
		// A slice of values.
		c := &sealedCustomer{ID: "c-1", Emails: []string{"ada@example.com", sealed}}
		_, err := ViewOf(ctx, vs, agent, c)
		require.ErrorIs(t, err, errSealed)
		require.Contains(t, err.Error(), "sealedCustomer.Emails ")

		// Reveal of a sealed value returns no ciphertext and spends nothing.
		n := len(sink.kinds())
		c = &sealedCustomer{ID: "c-1", Name: sealed}
		got, err := vs.Reveal(ctx, sup, c, "Name", "customer asked")
		require.ErrorIs(t, err, errSealed)
		require.Empty(t, got)
		require.Len(t, sink.kinds(), n, "nothing was revealed")
	}

	// A denied field is not shown, so it may stay sealed: a view on a
	// public channel need not open what it does not show.
	c := &sealedCustomer{ID: "c-1", Name: "Ada Lovelace", Note: []byte(sealedValues[0])}
	got, err := ViewOf(ctx, vs, Viewer{ID: "a", Role: "agent", Channel: ChannelPublicSocial}, c)
	require.NoError(t, err)
	require.Empty(t, got.Note)
	require.Equal(t, "A. L.", got.Name)

	// Clear values that merely start like a ciphertext are shown masked.
	for _, name := range []string{"pii1.", "pii1.AQ", "pii4." + sealedValues[0][5:], "pii Lovelace"} {
		got, err := ViewOf(ctx, vs, agent, &sealedCustomer{ID: "c-1", Name: name})
		require.NoError(t, err, name)
		require.Equal(t, maskInitials(name), got.Name)
	}
}

type tokenCustomer struct {
	ID     string `pii:"id"`
	Tenant string `pii:"tenant"`
	Card   string `pii:"card,token=ff1,mask=card,reveal=fraud"`
	IBAN   string `pii:"iban,token=stored"`
	Phone  string `pii:"phone,token=ff1"`
	Alias  string `pii:"username,token=hmac"`
	Plain  string `pii:"card,mask=card"` // not tokenized: shown as it is, valid or not
}

// A view of a struct whose token= fields still hold tokens is an error
// naming the field wherever the format marks its tokens.
func TestViewRefusesTokenizedFields(t *testing.T) {
	ctx := context.Background()
	// Test key: never hard-code a key in production.
	tk, err := tokenize.New([]byte("an example root key, 32 bytes!!!"), &tokenize.Options{Store: tokenize.NewMemoryStore()})
	require.NoError(t, err)
	vs, err := NewViews(&ViewsOptions{Audit: &recordSink{}})
	require.NoError(t, err)
	fraud := Viewer{ID: "f", Role: "fraud", Channel: ChannelSecureChat}
	// Well-known test card and IBAN numbers.
	plain := tokenCustomer{ID: "c-1", Tenant: "acme", Card: "4111 1111 1111 1111", IBAN: "GB82 WEST 1234 5698 7654 32",
		Phone: "+14155552671", Alias: "ada_l", Plain: "4111 1111 1111 1112"}

	c := plain
	got, err := ViewOf(ctx, vs, fraud, &c)
	require.NoError(t, err, "clear values are shown")
	require.Equal(t, "**** **** **** 1111", got.Card)

	require.NoError(t, tk.Apply(ctx, &c))
	for _, tc := range []struct {
		path string
		keep func(tok, plain *tokenCustomer)
	}{
		{"Card", func(tok, plain *tokenCustomer) { tok.IBAN = plain.IBAN }},
		{"IBAN", func(tok, plain *tokenCustomer) { tok.Card = plain.Card }},
	} {
		tok := c
		tc.keep(&tok, &plain)
		_, err := ViewOf(ctx, vs, fraud, &tok)
		require.ErrorIs(t, err, errTokenized, tc.path)
		require.Equal(t, "mask: tokenCustomer."+tc.path+" (record ID \"c-1\"): field holds a token; reverse it before viewing it", err.Error())
		_, err = vs.ViewMap(ctx, fraud, &tok)
		require.ErrorIs(t, err, errTokenized)
	}
	_, err = vs.Reveal(ctx, fraud, &c, "Card", "chargeback")
	require.ErrorIs(t, err, errTokenized)

	// Phone tokens and pseudonyms look like values: shown masked, as
	// documented; a reversed record is shown.
	mixed := c
	mixed.Card, mixed.IBAN = plain.Card, plain.IBAN
	_, err = ViewOf(ctx, vs, fraud, &mixed)
	require.NoError(t, err)
	require.NoError(t, tk.Reverse(ctx, &c, func(context.Context, *pii.Field, string) error { return nil }))
	got, err = ViewOf(ctx, vs, fraud, &c)
	require.NoError(t, err)
	require.Equal(t, "**** **** **** 1111", got.Card)
}

type tenantCustomer struct {
	ID     string `pii:"subject"`
	Tenant string `pii:"tenant"`
	Email  string `pii:"email,reveal=supervisor"`
}

// Audit events carry the tenant: the same record id in two tenants is two
// records, and the audit trail tells them apart.
func TestAuditEventCarriesTenant(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	logged := SlogAudit(slog.New(slog.NewJSONHandler(&buf, nil)))
	sink := &recordSink{}
	vs, err := NewViews(&ViewsOptions{Audit: auditFunc(func(ctx context.Context, ev AuditEvent) error {
		if err := logged.Audit(ctx, ev); err != nil {
			return err
		}
		return sink.Audit(ctx, ev)
	})})
	require.NoError(t, err)
	sup := Viewer{ID: "s", Role: "supervisor", Channel: ChannelSecureChat}
	agent := Viewer{ID: "a", Role: "agent", Channel: ChannelSecureChat}
	for _, tenant := range []string{"acme", "globex"} {
		c := &tenantCustomer{ID: "c-1", Tenant: tenant, Email: "ada@" + tenant + ".example"}
		_, err := vs.Reveal(ctx, sup, c, "Email", "confirm")
		require.NoError(t, err)
		_, err = vs.Reveal(ctx, agent, c, "Email", "curious")
		require.ErrorIs(t, err, ErrDenied)
	}
	_, err = vs.Reveal(ctx, sup, newCustomer(), "Email", "confirm")
	require.NoError(t, err)

	var tenants []string
	for _, ev := range sink.events {
		tenants = append(tenants, string(ev.Kind)+"/"+ev.Tenant+"/"+ev.Record)
	}
	require.Equal(t, []string{"reveal/acme/c-1", "reveal_denied/acme/c-1", "reveal/globex/c-1", "reveal_denied/globex/c-1", "reveal//cus_42"}, tenants,
		"types without a tenant field belong to the tenant \"\"")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 5)
	for i, want := range []string{"acme", "acme", "globex", "globex", ""} {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &m))
		require.Contains(t, m, "tenant")
		require.Equal(t, want, m["tenant"])
	}
}

// Errors carry the "mask: " prefix once, however they are wrapped.
func TestErrorsPrefixedOnce(t *testing.T) {
	_, err := NewViews(&ViewsOptions{Rules: []Rule{{Action: ActionMask, Style: "nope"}}})
	require.ErrorIs(t, err, errUnknownStyle)
	require.Equal(t, `mask: rule 0: style "nope": unknown style`, err.Error())

	type rec struct {
		Zip string `pii:"postcode,mask=zip3"`
	}
	vs, err := NewViews(nil)
	require.NoError(t, err)
	_, err = ViewOf(context.Background(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, &rec{Zip: "94107"})
	require.ErrorIs(t, err, errUnknownStyle)
	require.Equal(t, `mask: rec.Zip: style "zip3": unknown style`, err.Error())
	require.Equal(t, "mask: T.F: field is still sealed; open the record before viewing it", (&pii.FieldError{Type: "T", Path: "F", Err: errSealed}).Error())
}
