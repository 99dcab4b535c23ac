package tokenize

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/internal/checkdigit"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/tokenize/fpe"
	"github.com/fieldguard/pii/tokenize/internal/alphabet"
	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// testKey is a test key; never hard-code keys in production.
var testKey = bytes.Repeat([]byte{0x42}, 32)

// ibanValid reports whether s (spaces allowed) passes the IBAN mod-97
// check.
func ibanValid(s string) bool {
	compact, _, ok := parseIBAN(s)
	return ok && checkdigit.IBANValid(compact)
}

func alnumIndex(c byte) bool {
	_, ok := alnumAlphabet.Index(rune(c))
	return ok
}

func newTestTokenizer(t testing.TB, opts *Options) *Tokenizer {
	t.Helper()
	tk, err := New(testKey, opts)
	require.NoError(t, err)
	return tk
}

var scopeA = Scope{Tenant: "acme", Field: "Customer.Card", Subject: "cust-1"}

// nonDigits returns s with every ASCII digit replaced by '#', to compare
// layouts.
func layout(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '#'
		}
	}
	return string(b)
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func TestNewKeys(t *testing.T) {
	_, err := New(make([]byte, 16), nil)
	require.ErrorIs(t, err, errKey)
	_, err = New(nil, nil)
	require.ErrorIs(t, err, errKey)
}

func TestCard(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	cards := []string{
		"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
		"378282246310005", "6011111111111117", "5555555555554444",
		"4222222222222", // 13 digits
		"6011000990139424", "3530111333300000", "6759649826438453",
		"4000056655665556", "123456789007", // 12 digits
		"6304000000000000000"[:18] + "0", // 19 digits, fixed below
	}
	// Make the 19-digit entry Luhn-valid.
	{
		x := []byte(cards[len(cards)-1])
		for d := byte('0'); d <= '9'; d++ {
			x[18] = d
			if checkdigit.LuhnText(string(x)) {
				break
			}
		}
		cards[len(cards)-1] = string(x)
	}
	for _, opt := range []Card{{}, {KeepBIN: 6}, {KeepBIN: 8}, {LuhnValid: true}, {KeepBIN: 6, LuhnValid: true}} {
		for _, c := range cards {
			name := fmt.Sprintf("%+v/%s", opt, c)
			require.True(t, checkdigit.LuhnText(c), name)
			digits := len(digitsOf(c))
			tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, opt, c)
			if digits-4-opt.KeepBIN < 6 {
				require.ErrorIs(t, err, fpe.ErrDomain, name)
				continue
			}
			require.NoError(t, err, name)
			require.Equal(t, layout(c), layout(tok), name)
			dc, dt := digitsOf(c), digitsOf(tok)
			require.Equal(t, dc[len(dc)-4:], dt[len(dt)-4:], "last 4 kept: %s", name)
			require.Equal(t, dc[:opt.KeepBIN], dt[:opt.KeepBIN], "BIN kept: %s", name)
			require.NotEqual(t, dc, dt, name)
			require.Equal(t, opt.LuhnValid, checkdigit.LuhnText(tok), "Luhn as promised: %s", name)
			back, err := tk.Detokenize(ctx, MethodFF1, scopeA, opt, tok)
			require.NoError(t, err, name)
			require.Equal(t, c, back, name)

			again, err := tk.Tokenize(ctx, MethodFF1, scopeA, opt, c)
			require.NoError(t, err)
			require.Equal(t, tok, again, "deterministic within a scope")
			other, err := tk.Tokenize(ctx, MethodFF1, Scope{Tenant: "globex", Field: scopeA.Field}, opt, c)
			require.NoError(t, err)
			require.NotEqual(t, tok, other, "tenants get different tokens")
			otherField, err := tk.Tokenize(ctx, MethodFF1, Scope{Tenant: "acme", Field: "Order.Card"}, opt, c)
			require.NoError(t, err)
			require.NotEqual(t, tok, otherField, "fields get different tokens")

			tok31, err := tk.Tokenize(ctx, MethodFF31, scopeA, opt, c)
			require.NoError(t, err)
			require.Equal(t, opt.LuhnValid, checkdigit.LuhnText(tok31))
			back31, err := tk.Detokenize(ctx, MethodFF31, scopeA, opt, tok31)
			require.NoError(t, err)
			require.Equal(t, c, back31)
		}
	}
}

func TestCardErrors(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	for _, tc := range []struct {
		name, value string
		opt         Card
		want        error
	}{
		{"not luhn", "4111111111111112", Card{}, ErrFormat},
		{"11 digits", "41111111111", Card{}, ErrFormat},
		{"20 digits", "41111111111111111111", Card{}, ErrFormat},
		{"letters", "4111 1111 1111 111X", Card{}, ErrFormat},
		{"empty", "", Card{}, ErrFormat},
		{"bad BIN", "4111111111111111", Card{KeepBIN: 4}, ErrFormat},
		{"BIN 8 on 16 digits", "4111111111111111", Card{KeepBIN: 8}, fpe.ErrDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tk.Tokenize(ctx, MethodFF1, scopeA, tc.opt, tc.value)
			require.ErrorIs(t, err, tc.want)
			require.Regexp(t, `^tokenize: `, err.Error())
			if tc.value != "" {
				require.NotContains(t, err.Error(), tc.value)
			}
		})
	}
	// A Luhn-valid string is not a token of a field whose tokens fail Luhn.
	_, err := tk.Detokenize(ctx, MethodFF1, scopeA, Card{}, "4111111111111111")
	require.ErrorIs(t, err, ErrNotToken)
}

func TestPhone(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	numbers := []struct {
		value, region string
	}{
		{"+1 415-555-2671", "US"},
		{"(415) 555-2671", "US"},
		{"+14155552671", ""},
		{"+44 20 7946 0958", "GB"},
		{"020 7946 0958", "GB"},
		{"+49 30 901820", "DE"},
		{"+33 1 42 68 53 00", "FR"},
		{"+81 3-1234-5678", "JP"},
		{"+61 2 9374 4000", "AU"},
		{"+55 11 91234-5678", "BR"},
		{"+91 98765 43210", "IN"},
		{"06 12 34 56 78", "FR"},
	}
	for _, keepArea := range []bool{false, true} {
		for _, n := range numbers {
			p := Phone{DefaultRegion: n.region, KeepAreaCode: keepArea}
			name := fmt.Sprintf("%s/%s/area=%v", n.value, n.region, keepArea)
			orig, err := phonenumbers.Parse(n.value, orDefaultRegion(n.region))
			require.NoError(t, err, name)
			require.True(t, phonenumbers.IsValidNumber(orig), "test input must be valid: %s", name)

			tok, err := tk.Tokenize(ctx, MethodFF1, Scope{Tenant: "acme", Field: "Customer.Phone"}, p, n.value)
			if keepArea && len(phonenumbers.GetNationalSignificantNumber(orig))-phonenumbers.GetLengthOfNationalDestinationCode(orig) < 6 {
				require.ErrorIs(t, err, fpe.ErrDomain, "fewer than 6 subscriber digits: %s", name)
				continue
			}
			require.NoError(t, err, name)
			require.Equal(t, layout(n.value), layout(tok), "formatting kept: %s", name)
			require.NotEqual(t, n.value, tok, name)
			pt, err := phonenumbers.Parse(tok, orDefaultRegion(n.region))
			require.NoError(t, err, name)
			require.Equal(t, orig.GetCountryCode(), pt.GetCountryCode(), name)
			require.Equal(t, phonenumbers.GetRegionCodeForNumber(orig), phonenumbers.GetRegionCodeForNumber(pt), "same country: %s", name)
			require.True(t, phonenumbers.IsValidNumber(pt), "token is a valid number: %s", name)
			if keepArea {
				ndc := phonenumbers.GetLengthOfNationalDestinationCode(orig)
				nsn := phonenumbers.GetNationalSignificantNumber(orig)
				require.Equal(t, nsn[:ndc], phonenumbers.GetNationalSignificantNumber(pt)[:ndc], "area code kept: %s", name)
			}
			back, err := tk.Detokenize(ctx, MethodFF1, Scope{Tenant: "acme", Field: "Customer.Phone"}, p, tok)
			require.NoError(t, err, name)
			require.Equal(t, n.value, back, name)
		}
	}
	// Errors.
	_, err := tk.Tokenize(ctx, MethodFF1, scopeA, Phone{}, "(415) 555-2671") // national format, no region
	require.ErrorIs(t, err, ErrFormat)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, Phone{DefaultRegion: "US"}, "not a phone")
	require.ErrorIs(t, err, ErrFormat)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, Phone{DefaultRegion: "US"}, "+1 000-000-0000")
	require.ErrorIs(t, err, ErrFormat, "invalid numbers need AllowInvalid")
	tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, Phone{DefaultRegion: "US", AllowInvalid: true}, "+1 000-000-0000")
	require.NoError(t, err)
	back, err := tk.Detokenize(ctx, MethodFF1, scopeA, Phone{DefaultRegion: "US", AllowInvalid: true}, tok)
	require.NoError(t, err)
	require.Equal(t, "+1 000-000-0000", back)
}

func orDefaultRegion(r string) string {
	if r == "" {
		return "ZZ"
	}
	return r
}

func TestSSN(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	for i := range 300 {
		area := 1 + i*3%899
		if area == 666 {
			area = 667
		}
		v := fmt.Sprintf("%03d-%02d-%04d", area, 1+i%99, 1+i*37%9999)
		tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, SSN{}, v)
		require.NoError(t, err, v)
		require.Equal(t, layout(v), layout(tok))
		x := make([]uint16, 9)
		for j, c := range digitsOf(tok) {
			x[j] = uint16(c - '0')
		}
		require.True(t, ssnValid(x), "token follows SSA rules: %s", tok)
		back, err := tk.Detokenize(ctx, MethodFF1, scopeA, SSN{}, tok)
		require.NoError(t, err)
		require.Equal(t, v, back)
	}
	for _, bad := range []string{"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "12-345-678", "123456789X"} {
		_, err := tk.Tokenize(ctx, MethodFF1, scopeA, SSN{}, bad)
		require.ErrorIs(t, err, ErrFormat, bad)
		require.NotContains(t, err.Error(), bad)
	}
	tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, SSN{}, "123456789")
	require.NoError(t, err)
	require.Len(t, tok, 9)
}

func TestIBAN(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	for _, v := range []string{
		"GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000",
		"FR1420041010050500013M02606", "NL91ABNA0417164300", "ES9121000418450200051332",
		"CH9300762011623852957", "de89 3704 0044 0532 0130 00",
	} {
		require.True(t, ibanValid(v), v)
		valid, err := tk.Tokenize(ctx, MethodFF1, scopeA, IBAN{ChecksumValid: true}, v)
		require.NoError(t, err, v)
		require.True(t, ibanValid(valid), "ChecksumValid: the token passes mod-97: %s", valid)
		back, err := tk.Detokenize(ctx, MethodFF1, scopeA, IBAN{ChecksumValid: true}, valid)
		require.NoError(t, err)
		require.Equal(t, v, back)
		tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, IBAN{}, v)
		require.NoError(t, err, v)
		require.False(t, ibanValid(tok), "the token fails mod-97: %s", tok)
		require.Equal(t, valid[:2]+valid[4:], tok[:2]+tok[4:], "only the check digits differ")
		require.Equal(t, v[:2], tok[:2], "country kept")
		require.Equal(t, len(v), len(tok))
		require.NotEqual(t, v, tok)
		for i := range v {
			isDigit := v[i] >= '0' && v[i] <= '9'
			require.Equal(t, isDigit, tok[i] >= '0' && tok[i] <= '9', "digit positions kept")
			if !isDigit {
				require.Equal(t, v[i], tok[i], "letters and spaces kept")
			}
		}
		back, err = tk.Detokenize(ctx, MethodFF1, scopeA, IBAN{}, tok)
		require.NoError(t, err)
		require.Equal(t, v, back)
	}
	for _, bad := range []string{"GB83WEST12345698765432", "GB82WEST1234", "1282WEST12345698765432", "GB82-WEST-1234-5698-7654-32"} {
		_, err := tk.Tokenize(ctx, MethodFF1, scopeA, IBAN{}, bad)
		require.ErrorIs(t, err, ErrFormat, bad)
	}
}

func TestEmail(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	for _, v := range []string{"jane.doe@example.com", "John_Smith+news@mail.example.co.uk", "abcd@x.io", "a.b.c.d@example.org"} {
		for _, opt := range []Email{{}, {TokenizeDomain: true}} {
			tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, opt, v)
			if opt.TokenizeDomain && strings.HasSuffix(v, "@x.io") {
				require.ErrorIs(t, err, fpe.ErrDomain, "one-letter domain is below the floor")
				continue
			}
			require.NoError(t, err, v)
			at, tat := strings.LastIndexByte(v, '@'), strings.LastIndexByte(tok, '@')
			require.Equal(t, at, tat, "local part length kept")
			for i := range at {
				isAlnum := alnumIndex(v[i])
				require.Equal(t, isAlnum, alnumIndex(tok[i]))
				if !isAlnum {
					require.Equal(t, v[i], tok[i], "punctuation kept")
				}
			}
			if !opt.TokenizeDomain {
				require.Equal(t, v[at:], tok[tat:])
			} else {
				require.Equal(t, v[strings.LastIndexByte(v, '.'):], tok[strings.LastIndexByte(tok, '.'):], "TLD kept")
			}
			back, err := tk.Detokenize(ctx, MethodFF1, scopeA, opt, tok)
			require.NoError(t, err)
			require.Equal(t, v, back)
		}
	}
	_, err := tk.Tokenize(ctx, MethodFF1, scopeA, Email{}, "abc@example.com")
	require.ErrorIs(t, err, fpe.ErrDomain)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, Email{}, "no-at-sign")
	require.ErrorIs(t, err, ErrFormat)
}

func TestTemplate(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	plate, err := NewTemplate("LICENSE", alphabet.UpperLetters+alphabet.Digits, "??-####-##")
	require.NoError(t, err)
	tok, err := tk.Tokenize(ctx, MethodFF1, scopeA, plate, "AB-12CD-34")
	require.NoError(t, err)
	require.Equal(t, "AB-", tok[:3])
	require.Equal(t, byte('-'), tok[7])
	back, err := tk.Detokenize(ctx, MethodFF1, scopeA, plate, tok)
	require.NoError(t, err)
	require.Equal(t, "AB-12CD-34", back)

	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, plate, "AB-12CD-3")
	require.ErrorIs(t, err, ErrFormat)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, plate, "AB_12CD-34")
	require.ErrorIs(t, err, ErrFormat)
	_, err = tk.Tokenize(ctx, MethodFF1, scopeA, plate, "AB-12cD-34")
	require.ErrorIs(t, err, ErrFormat)
	require.ErrorContains(t, err, "outside the template alphabet")

	free, err := NewTemplate("NAME", "abcdefghijklmnopqrstuvwxyzäöüß", "")
	require.NoError(t, err)
	tok, err = tk.Tokenize(ctx, MethodFF1, scopeA, free, "Jürgen Müller")
	require.NoError(t, err)
	require.Equal(t, 'J', []rune(tok)[0], "symbols outside the alphabet kept")
	back, err = tk.Detokenize(ctx, MethodFF1, scopeA, free, tok)
	require.NoError(t, err)
	require.Equal(t, "Jürgen Müller", back)

	_, err = NewTemplate("bad name", alphabet.Digits, "")
	require.ErrorIs(t, err, ErrFormat)
	_, err = NewTemplate("X", "aa", "")
	require.ErrorIs(t, err, ErrFormat)
	require.ErrorContains(t, err, "alphabet symbols must be distinct")
}

func TestPseudonym(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, &Options{KeyID: "2026-11"})
	a := tk.pseudonym(scopeA, "jane@example.com")
	require.True(t, strings.HasPrefix(a, "2026-11:"))
	require.Len(t, a, len("2026-11:")+22)
	require.Equal(t, a, tk.pseudonym(scopeA, "jane@example.com"))
	require.NotEqual(t, a, tk.pseudonym(Scope{Tenant: "globex", Field: scopeA.Field}, "jane@example.com"))
	require.NotEqual(t, a, tk.pseudonym(scopeA, "jane@example.org"))
	other, err := New(append([]byte{1}, testKey[1:]...), &Options{KeyID: "2026-11"})
	require.NoError(t, err)
	require.NotEqual(t, a, other.pseudonym(scopeA, "jane@example.com"), "keyed")
	tok, err := tk.Tokenize(ctx, MethodHMAC, scopeA, Email{}, "jane@example.com")
	require.NoError(t, err)
	require.Equal(t, a, tok)
	tok, err = tk.Tokenize(ctx, MethodHMAC, scopeA, nil, "jane@example.com")
	require.NoError(t, err, "pseudonyms need no format")
	require.Equal(t, a, tok)
	_, err = tk.Detokenize(ctx, MethodHMAC, scopeA, Email{}, tok)
	require.ErrorIs(t, err, errIrreversible)
}

func TestUnknownMethod(t *testing.T) {
	tk := newTestTokenizer(t, nil)
	_, err := tk.Tokenize(context.Background(), "rot13", scopeA, Card{}, "4111111111111111")
	require.ErrorIs(t, err, ErrFormat)
	_, err = tk.Tokenize(context.Background(), MethodFF1, scopeA, nil, "4111111111111111")
	require.ErrorIs(t, err, ErrFormat)
}

func TestTokenizerRedacted(t *testing.T) {
	tk := newTestTokenizer(t, nil)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		out := fmt.Sprintf(verb, tk)
		require.Contains(t, out, "REDACTED", verb)
	}
	j, err := json.Marshal(tk)
	require.NoError(t, err)
	require.Equal(t, `"tokenize.Tokenizer{[REDACTED]}"`, string(j))
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "tok", tk)
	require.Contains(t, sb.String(), "REDACTED")
}

// testProvider wraps keys with AES-GCM in memory. Test only.
type testProvider struct{ aead cipher.AEAD }

func newTestProvider(t *testing.T) *testProvider {
	b, err := aes.NewCipher(make([]byte, 32))
	require.NoError(t, err)
	g, err := cipher.NewGCM(b)
	require.NoError(t, err)
	return &testProvider{aead: g}
}

func (p *testProvider) Wrap(_ context.Context, dek, ad []byte) ([]byte, keyprovider.KeyID, error) {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return p.aead.Seal(nonce, nonce, dek, ad), keyprovider.KeyID{Key: "test"}, nil
}

func (p *testProvider) Unwrap(_ context.Context, w, ad []byte) ([]byte, error) {
	if len(w) < 12 {
		return nil, keyprovider.ErrAuthentication
	}
	pt, err := p.aead.Open(nil, w[:12], w[12:], ad)
	if err != nil {
		return nil, keyprovider.ErrAuthentication
	}
	return pt, nil
}

func TestNewFromProvider(t *testing.T) {
	ctx := context.Background()
	kp := newTestProvider(t)
	root := GenerateRootKey()
	wrapped, _, err := kp.Wrap(ctx, root, []byte("tokenize root"))
	require.NoError(t, err)
	tk, err := NewFromProvider(ctx, kp, wrapped, []byte("tokenize root"), nil)
	require.NoError(t, err)
	direct, err := New(root, nil)
	require.NoError(t, err)
	a, err := tk.Tokenize(ctx, MethodFF1, scopeA, Card{}, "4111111111111111")
	require.NoError(t, err)
	b, err := direct.Tokenize(ctx, MethodFF1, scopeA, Card{}, "4111111111111111")
	require.NoError(t, err)
	require.Equal(t, a, b, "a wrapped key and the raw key give the same tokens")

	_, err = NewFromProvider(ctx, kp, wrapped, []byte("other"), nil)
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)
	require.True(t, errors.Is(err, keyprovider.ErrAuthentication))
}

// flakyProvider fails its first Unwrap with a transient error, as a KMS
// that throttles does.
type flakyProvider struct {
	*testProvider
	calls int
}

func (p *flakyProvider) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	p.calls++
	if p.calls == 1 {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrUnavailable, errors.New("flaky: throttled"))
	}
	return p.testProvider.Unwrap(ctx, w, ad)
}

// A bare provider is wrapped in a keyprovider.Client, whose retry absorbs
// one transient failure; a *keyprovider.Client is used as it is.
func TestNewFromProviderWrapsInClient(t *testing.T) {
	ctx := context.Background()
	kp := &flakyProvider{testProvider: newTestProvider(t)}
	wrapped, _, err := kp.Wrap(ctx, GenerateRootKey(), nil)
	require.NoError(t, err)
	_, err = NewFromProvider(ctx, kp, wrapped, nil, nil)
	require.NoError(t, err, "the Client retried the transient failure")
	require.Equal(t, 2, kp.calls)

	kp.calls = 0
	client := keyprovider.NewClient(kp, &keyprovider.ClientOptions{MaxAttempts: 1})
	_, err = NewFromProvider(ctx, client, wrapped, nil, nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable, "the caller's Client and its options are used as they are")
	require.Equal(t, 1, kp.calls)
	_, err = NewFromProvider(ctx, nil, wrapped, nil, nil)
	require.ErrorContains(t, err, "tokenize: NewFromProvider with a nil KeyProvider")
}

// The convergence lookup covers tenant, subject, field and value: leaving
// any one out would let a lookup find another scope's record.
func TestLookupBindsScopeAndValue(t *testing.T) {
	tk := newTestTokenizer(t, nil)
	s := Scope{Tenant: "acme", Field: "Customer.Email", Subject: "alice"}
	base := tk.lookupMAC(s, "jane@example.com")
	for _, other := range []struct {
		s Scope
		v string
	}{
		{Scope{Tenant: "globex", Field: s.Field, Subject: s.Subject}, "jane@example.com"},
		{Scope{Tenant: s.Tenant, Field: "Order.Email", Subject: s.Subject}, "jane@example.com"},
		{Scope{Tenant: s.Tenant, Field: s.Field, Subject: "bob"}, "jane@example.com"},
		{s, "jane@example.org"},
		// Length prefixes: moving a byte between parts changes the hash.
		{Scope{Tenant: "acm", Field: s.Field, Subject: "ealice"}, "jane@example.com"},
	} {
		require.NotEqual(t, base, tk.lookupMAC(other.s, other.v), "%+v %s", other.s, other.v)
	}
	require.Equal(t, base, tk.lookupMAC(s, "jane@example.com"))
}

// Without a Store, token=stored and DeleteSubject fail with an error that
// says what to pass; the options that only apply to stored tokens fail in
// New.
func TestStoredNeedsStore(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, nil)
	_, err := tk.Tokenize(ctx, MethodStored, scopeA, Card{}, "4111111111111111")
	require.ErrorIs(t, err, errNoStore)
	_, err = tk.Detokenize(ctx, MethodStored, scopeA, Card{}, "4111111111111111")
	require.ErrorIs(t, err, errNoStore)
	_, err = tk.DeleteSubject(ctx, "acme", "c-1")
	require.ErrorIs(t, err, errNoStore)
	require.ErrorContains(t, err, "pass sqltokenstore.New(db, nil)")
	require.ErrorContains(t, err, "tokenize.NewMemoryStore()")
	require.NotContains(t, err.Error(), "4111")
	for _, opts := range []*Options{{Convergent: true}, {TTL: time.Hour}} {
		_, err := New(testKey, opts)
		require.ErrorContains(t, err, "Options.Store is nil: pass sqltokenstore.New(db, nil)")
	}
	_, err = New(testKey, &Options{Store: NewMemoryStore(), TTL: -time.Second})
	require.ErrorContains(t, err, "tokenize: Options.TTL is negative")
}

// TestTokenizerConcurrent shares one Tokenizer (and its lazily filled
// cipher and tweak caches) across goroutines; run with -race.
func TestTokenizerConcurrent(t *testing.T) {
	ctx := context.Background()
	tk := newTestTokenizer(t, &Options{Store: NewMemoryStore(), Convergent: true})
	cards := []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"}
	want := map[string]string{}
	for _, c := range cards {
		for _, tenant := range []string{"a", "b", "c"} {
			tok, err := tk.Tokenize(ctx, MethodFF1, Scope{Tenant: tenant, Field: "f"}, Card{}, c)
			require.NoError(t, err)
			want[tenant+c] = tok
		}
	}
	errs := make(chan error, 32) // each worker sends at most one
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 40 {
				c := cards[(w+i)%len(cards)]
				tenant := []string{"a", "b", "c"}[i%3]
				s := Scope{Tenant: tenant, Field: "f"}
				tok, err := tk.Tokenize(ctx, MethodFF1, s, Card{}, c)
				if err == nil && tok != want[tenant+c] {
					err = fmt.Errorf("token mismatch for tenant %s", tenant)
				}
				if err == nil {
					_, err = tk.Tokenize(ctx, MethodFF31, Scope{Tenant: tenant, Field: fmt.Sprint("g", i%5)}, Email{}, "jane.doe@example.com")
				}
				if err == nil {
					var v string
					tok, err = tk.Tokenize(ctx, MethodStored, s, Card{}, c)
					if err == nil {
						v, err = tk.Detokenize(ctx, MethodStored, s, Card{}, tok)
					}
					if err == nil && v != c {
						err = errors.New("vault round trip mismatch")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestTweakCacheScopes: the tweak caches never hand one scope's tweak to
// another, however the scopes collide in the small front cache, and past
// the bound of the sync.Map.
func TestTweakCacheScopes(t *testing.T) {
	tk := newTestTokenizer(t, nil)
	var scopes []Scope
	for i := range 150 {
		scopes = append(scopes, Scope{Tenant: fmt.Sprint("t", i%7), Field: fmt.Sprint("f", i/7)}, Scope{Tenant: fmt.Sprint("f", i/7), Field: fmt.Sprint("t", i%7)})
	}
	for round := range 3 {
		for i, s := range scopes {
			for _, m := range []Method{MethodFF1, MethodFF31} {
				if (i+round)%2 == 0 && m == MethodFF1 {
					continue // vary the interleaving between rounds
				}
				tw, check := tk.tweak(m, s)
				mac := tk.mac(tk.k.tweak, s, "")
				n := 8
				if m == MethodFF31 {
					n = ff31TweakSize
				}
				require.Equal(t, mac[:n], tw, "%s %+v", m, s)
				require.Equal(t, mac[n], check)
			}
		}
	}
}
