package tokenize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/checkdigit"
)

// Reversing a value that was never tokenized, or a token of another field,
// fails wherever the format can tell, instead of returning another
// valid-looking value.
func TestReverseRefusesValuesThatAreNotTokens(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	for _, m := range []Method{MethodFF1, MethodFF31} {
		for _, tc := range []struct {
			name  string
			f     TokenFormat
			value string // a real value, never tokenized
		}{
			{"card", Card{}, "4111 1111 1111 1111"},
			{"card bin6", Card{KeepBIN: 6}, "5555555555554444"},
			{"card 19 digits", Card{KeepBIN: 8}, "6011000990139424124"},
			{"iban", IBAN{}, "DE89 3704 0044 0532 0130 00"},
			{"ssn out of range", SSN{}, "666-12-3456"},
			{"phone not valid", Phone{DefaultRegion: "US"}, "+1 000-000-0000"},
		} {
			t.Run(fmt.Sprint(m, "/", tc.name), func(t *testing.T) {
				if _, ok := tc.f.(Card); ok {
					require.True(t, checkdigit.LuhnText(tc.value), "test input must be a real card number")
				}
				_, err := tk.Detokenize(ctx, m, scopeA, tc.f, tc.value)
				require.ErrorIs(t, err, ErrNotToken)
				require.Regexp(t, `^tokenize: `, err.Error())
				require.Equal(t, 1, strings.Count(err.Error(), "tokenize:"), err.Error())
				require.NotContains(t, err.Error(), tc.value)
			})
		}
	}

	// A token of another field or tenant: its shift differs from this
	// field's for 8 in 9 scopes (cards) and 95 in 96 (IBANs), and exactly
	// then Reverse refuses it.
	for _, tc := range []struct {
		f       TokenFormat
		value   string
		modulus int
	}{
		{Card{}, "4111 1111 1111 1111", 9},
		{Card{KeepBIN: 6}, "4111 1111 1111 1111", 9},
		{IBAN{}, "GB82 WEST 1234 5698 7654 32", 96},
	} {
		for _, m := range []Method{MethodFF1, MethodFF31} {
			tok, err := tk.Tokenize(ctx, m, scopeA, tc.f, tc.value)
			require.NoError(t, err)
			_, own := tk.tweak(m, scopeA)
			refused := 0
			const scopes = 60
			for i := range scopes {
				wrong := Scope{Tenant: scopeA.Tenant, Field: fmt.Sprint("Customer.Other", i)}
				if i%2 == 1 {
					wrong = Scope{Tenant: fmt.Sprint("tenant-", i), Field: scopeA.Field}
				}
				_, check := tk.tweak(m, wrong)
				_, err := tk.Detokenize(ctx, m, wrong, tc.f, tok)
				if int(check)%tc.modulus == int(own)%tc.modulus {
					require.NoError(t, err, "same shift: indistinguishable")
					continue
				}
				require.ErrorIs(t, err, ErrNotToken, "%T %s scope %d", tc.f, m, i)
				refused++
			}
			require.Greater(t, refused, scopes*3/4, "%T %s: most wrong scopes are refused", tc.f, m)
		}
	}

	// The escape hatches make tokens indistinguishable, as documented.
	back, err := tk.Detokenize(ctx, MethodFF1, scopeA, Card{LuhnValid: true}, "4111 1111 1111 1111")
	require.NoError(t, err)
	require.True(t, checkdigit.LuhnText(back))
	_, err = tk.Detokenize(ctx, MethodFF1, scopeA, Card{LuhnValid: true}, "4111 1111 1111 1112")
	require.ErrorIs(t, err, ErrNotToken, "a LuhnValid field's tokens pass Luhn")
	back, err = tk.Detokenize(ctx, MethodFF1, scopeA, IBAN{ChecksumValid: true}, "DE89 3704 0044 0532 0130 00")
	require.NoError(t, err)
	require.True(t, ibanValid(back))
	_, err = tk.Detokenize(ctx, MethodFF1, scopeA, IBAN{ChecksumValid: true}, "DE88 3704 0044 0532 0130 00")
	require.ErrorIs(t, err, ErrNotToken)

	// Tokenizing a token fails loudly too.
	tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, Card{}, "4111 1111 1111 1111")
	require.NoError(t, err)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, Card{}, tok)
	require.ErrorIs(t, err, ErrFormat)
	itok, err := tk.Tokenize(ctx, MethodFF1, scopeA, IBAN{}, "GB82 WEST 1234 5698 7654 32")
	require.NoError(t, err)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, IBAN{}, itok)
	require.ErrorIs(t, err, ErrFormat)
}

type tPayment struct {
	ID      string `pii:"id"`
	Tenant  string `pii:"tenant"`
	Subject string `pii:"subject"`
	Card    string `pii:"card,token=ff1"`
	IBAN    string `pii:"iban,token=stored"`
}

type tNoID struct {
	Card string `pii:"card,token=ff1"`
}

// Errors of Apply and Reverse name the type, the field path and the
// record's id field, once prefixed, never the value or the token.
func TestStructErrorsNameFieldAndRecordOnce(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, &Options{Store: NewMemoryStore()})
	allow := func(context.Context, *pii.Field, string) error { return nil }

	// Test values: well-known test card and IBAN numbers.
	plain := tPayment{ID: "pay-1", Tenant: "acme", Subject: "alice", Card: "4111 1111 1111 1111"}
	p := plain
	err := tk.Reverse(ctx, &p, allow)
	require.ErrorIs(t, err, ErrNotToken, "a card that was never tokenized does not reverse")
	var fe *pii.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, pii.FieldError{Type: "tPayment", Path: "Card", RecordField: "ID", Record: "pay-1", Err: fe.Err}, *fe)
	require.Equal(t, plain, p, "nothing changed")

	p = tPayment{ID: "pay-1", Tenant: "acme", Subject: "alice", IBAN: "GB82 WEST 1234 5698 7654 32"}
	require.NoError(t, tk.Apply(ctx, &p))
	tokenized := p
	p.Subject = "bob"
	err = tk.Reverse(ctx, &p, allow)
	require.ErrorIs(t, err, ErrNotFound, "another subject's stored token")

	p = tokenized
	refuse := errors.New("agents may not see bank accounts")
	err = tk.Reverse(ctx, &p, func(_ context.Context, f *pii.Field, _ string) error {
		if f.Category == "iban" {
			return refuse
		}
		return nil
	})
	require.ErrorIs(t, err, ErrPermission)
	require.ErrorIs(t, err, refuse)

	bad := tPayment{ID: "pay-2", Card: "4111 1111 1111 1112"}
	applyErr := tk.Apply(ctx, &bad)
	require.ErrorIs(t, applyErr, ErrFormat)

	noID := tNoID{Card: "4111 1111 1111 1111"}
	noIDErr := tk.Reverse(ctx, &noID, allow)
	require.ErrorIs(t, noIDErr, ErrNotToken)

	for _, tc := range []struct {
		err  error
		want string
	}{
		{tk.Reverse(ctx, &plain, allow), "tokenize: tPayment.Card (record ID \"pay-1\"): value is not a token of this field: it passes the Luhn check"},
		{func() error { q := tokenized; q.Subject = "bob"; return tk.Reverse(ctx, &q, allow) }(), "tokenize: tPayment.IBAN (record ID \"pay-1\"): token not found"},
		{err, "tokenize: tPayment.IBAN (record ID \"pay-1\"): reversal not permitted: agents may not see bank accounts"},
		{tk.Reverse(ctx, &plain, nil), "tokenize: tPayment.Card (record ID \"pay-1\"): reversal not permitted: no permission check supplied"},
		{applyErr, "tokenize: tPayment.Card (record ID \"pay-2\"): value does not match the expected format: card number fails the Luhn check"},
		{noIDErr, "tokenize: tNoID.Card: value is not a token of this field"},
	} {
		require.True(t, strings.HasPrefix(tc.err.Error(), tc.want), "%q", tc.err.Error())
		require.Equal(t, 1, strings.Count(tc.err.Error(), "tokenize:"), "wrapped once: %q", tc.err.Error())
		// The record id (an opaque key, like a primary key) is named so an
		// operator can find the record; values, tokens, subject ids and the
		// tenant are not.
		for _, secret := range []string{"4111", "GB82", tokenized.IBAN, "alice", "acme"} {
			require.NotContains(t, tc.err.Error(), secret)
		}
	}
}
