package mask

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func testMasker(t testing.TB) *Masker {
	t.Helper()
	// Test key: never hard-code a key in production.
	m, err := NewMasker(&MaskerOptions{HMACKey: []byte("test-key-0123456789"), HMACKeyID: "t1", Region: "US"})
	require.NoError(t, err)
	return m
}

func TestStyles(t *testing.T) {
	m := testMasker(t)
	tests := []struct {
		style    Style
		in, want string
	}{
		{"full", "secret", "******"},
		{"full", "", ""},
		{"full", "héllo", "*****"},
		{"fixed", "anything at all", Placeholder},
		{"fixed", "", Placeholder},
		{"last4", "123456789", "*****6789"},
		{"last4", "abc", "**c"},
		{"last4", "a", "*"},
		{"last4", "", ""},
		{"last4", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "********"},
		{"first-char", "Alice", "A****"},
		{"first-char", "A", "*"},
		{"first-char", "Ωmega", "Ω****"},
		{"initials", "Ada Lovelace", "A. L."},
		{"initials", "  jean-luc   picard ", "J. P."},
		{"initials", "", Placeholder},
		{"initials", "A.", Placeholder},
		{"initials", "1 2 3 4 5 6", "*. *. *. *."},
		{"email", "alice@example.com", "a***@example.com"},
		{"email", "a@example.com", "****@example.com"},
		{"email", "al@example.com", "****@example.com"},
		{"email", "ál@example.com", "****@example.com"},
		{"email:mask-domain", "al@example.com", "****@*******.com"},
		{"email", "ali@example.com", "a***@example.com"},
		{"email", "alice@mail.example.co.uk", "a***@mail.example.co.uk"},
		{"email:mask-domain", "alice@example.com", "a***@*******.com"},
		{"email", "élodie@exemple.fr", "é***@exemple.fr"},
		{"email", "not-an-address", Placeholder},
		{"email", "@example.com", Placeholder},
		{"email", "alice@", Placeholder},
		{"email", "alice@localhost", Placeholder},
		{"email", "alice@exa mple.com", Placeholder},
		{"email", "al\xffice@example.com", Placeholder},
		{"phone", "+44 7911 123456", "+44 ******3456"},
		{"phone", "(415) 555-2671", "+1 ******2671"},
		{"phone", "+33 6 12 34 56 78", "+33 ******678"},
		{"phone:GB", "07911 123456", "+44 ******3456"},
		{"phone", "+91 98765 43210", "+91 ******3210"},
		{"phone", "call me maybe", Placeholder},
		{"phone", "", Placeholder},
		{"phone", "12", Placeholder},
		{"card", "4111111111111111", "************1111"},
		{"card", "4111 1111 1111 1111", "**** **** **** 1111"},
		{"card", "4111-1111-1111-1111", "****-****-****-1111"},
		{"card", "3782 822463 10005", "**** ****** *0005"},
		{"card", "6011000990139424123", "***************4123"},
		{"card:bin6", "4111111111111111", "411111******1111"},
		{"card:bin8", "4111111111111111", "411111******1111"},
		{"card:bin8", "6011000990139424123", "60110009*******4123"},
		{"card:bin6", "3782 822463 10005", "3782 82**** *0005"},
		{"card:bin6", "5019717010103742", "501971******3742"},
		{"card:bin6", "601100099013", "********9013"},
		{"card", "12345678901", Placeholder},
		{"card", "12345678901234567890", Placeholder},
		{"card", "4111.1111.1111.1111", Placeholder},
		{"card", "", Placeholder},
		{"iban", "DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00"},
		{"iban", "gb82west12345698765432", "GB** **** **** **** **54 32"},
		{"iban", "NO9386011117947", "NO** **** ***7 947"},
		{"iban", "DE89", Placeholder},
		{"iban", "1234 5678 9012 3456", Placeholder},
		{"ip", "203.0.113.77", "203.0.113.0/24"},
		{"ip", "2001:db8:abcd:12::1", "2001:db8:abcd::/48"},
		{"ip", "::ffff:198.51.100.9", "198.51.100.0/24"},
		{"ip", "198.51.100.9:443", "198.51.100.0/24"},
		{"ip", "fe80::1%eth0", "fe80::/48"},
		{"ip", "2002:c000:0263::1", "192.0.2.0/24"},                    // 6to4 of 192.0.2.99
		{"ip", "[2002:cb00:7107:1::5]:443", "203.0.113.0/24"},          // 6to4 of 203.0.113.7
		{"ip", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.0/24"}, // Teredo, client 192.0.2.45
		{"ip", "2001:db8::1", "2001:db8::/48"},                         // 2001:db8::/32 is not Teredo
		{"ip", "::ffff:c000:0263", "192.0.2.0/24"},
		{"ip", "300.1.1.1", Placeholder},
		{"ip", "10.0.0.0/8", Placeholder},
		{"date", "1987-06-14", "1987-**-**"},
		{"date", "06/14/1987", "1987-**-**"},
		{"date", "14.06.1987", "1987-**-**"},
		{"date", "June 14, 1987", "1987-**-**"},
		{"date", "14 Jun 1987", "1987-**-**"},
		{"date", "1987-06-14T10:00:00Z", "1987-**-**"},
		{"date", "1987", Placeholder},
		{"date", "yesterday", Placeholder},
		{"hmac", "", "hmac:t1:"},
	}
	for _, tt := range tests {
		t.Run(string(tt.style)+"/"+tt.in, func(t *testing.T) {
			got, err := m.Mask(tt.style, tt.in)
			require.NoError(t, err)
			if tt.style == "hmac" {
				require.True(t, strings.HasPrefix(got, tt.want))
				return
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestHMACStyle(t *testing.T) {
	m := testMasker(t)
	a, _ := m.Mask("hmac", "alice@example.com")
	b, _ := m.Mask("hmac", "alice@example.com")
	c, _ := m.Mask("hmac", "bob@example.com")
	d, _ := m.Mask("hmac:phone", "alice@example.com")
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	require.NotEqual(t, a, d, "domains separate pseudonyms")
	require.Len(t, a, len("hmac:t1:")+32)
	require.NotContains(t, a, "alice")

	// Without a key there is no pseudonym, and never an unkeyed hash.
	plain, err := NewMasker(nil)
	require.NoError(t, err)
	got, err := plain.Mask("hmac", "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, Placeholder, got)

	// Another key gives another pseudonym.
	m2, err := NewMasker(&MaskerOptions{HMACKey: []byte("other-key-0123456789"), HMACKeyID: "t2"})
	require.NoError(t, err)
	e, _ := m2.Mask("hmac", "alice@example.com")
	require.NotEqual(t, a[8:], e[8:])
}

func TestNewMaskerErrors(t *testing.T) {
	for _, o := range []*MaskerOptions{
		{Region: "XX"},
		{HMACKey: []byte("short"), HMACKeyID: "k"},
		{HMACKey: []byte("0123456789abcdef")},
		{HMACKey: []byte("0123456789abcdef"), HMACKeyID: "a:b"},
	} {
		_, err := NewMasker(o)
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), "mask: "))
		require.NotContains(t, err.Error(), "0123456789abcdef")
	}
}

// testMaskerWith is testMasker with custom styles.
func testMaskerWith(t testing.TB, styles map[string]styleFunc) *Masker {
	t.Helper()
	// Test key: never hard-code a key in production.
	m, err := NewMasker(&MaskerOptions{HMACKey: []byte("test-key-0123456789"), HMACKeyID: "t1", Region: "US", Styles: styles})
	require.NoError(t, err)
	return m
}

func TestCustomStyles(t *testing.T) {
	echo := func(v, _ string) string { return v }
	for _, styles := range []map[string]styleFunc{
		{"card": echo}, {"Bad Name": echo}, {"ok": nil}, {"": echo}, {"ok": echo, "hmac": echo},
	} {
		_, err := NewMasker(&MaskerOptions{Styles: styles})
		require.Error(t, err, "%v", styles)
	}

	m := testMaskerWith(t, map[string]styleFunc{
		"echo": echo,
		"boom": func(v, _ string) string { panic(v) },
	})
	got, err := m.Mask("echo", "secret")
	require.NoError(t, err)
	require.Equal(t, Placeholder, got, "a style that returns its input is overridden")

	got, err = m.Mask("boom", "secret")
	require.NoError(t, err)
	require.Equal(t, Placeholder, got, "a panicking style gives the placeholder")

	got, err = m.Mask("nope", "secret")
	require.ErrorIs(t, err, errUnknownStyle)
	require.Equal(t, Placeholder, got)

	// Other maskers are not affected.
	other, err := NewMasker(nil)
	require.NoError(t, err)
	_, err = other.Mask("echo", "secret")
	require.ErrorIs(t, err, errUnknownStyle)
}

func TestDateOf(t *testing.T) {
	require.Equal(t, "1987-**-**", maskDateOf(time.Date(1987, 6, 14, 0, 0, 0, 0, time.UTC)))
	require.Equal(t, Placeholder, maskDateOf(time.Time{}))
}

var allStyles = []Style{"full", "fixed", "last4", "first-char", "initials", "email", "email:mask-domain",
	"phone", "phone:GB", "card", "card:bin6", "card:bin8", "iban", "ip", "date", "hmac"}

// checkTotal asserts what every style promises for any input.
func checkTotal(t testing.TB, m *Masker, in string) {
	for _, st := range allStyles {
		out, err := m.Mask(st, in)
		require.NoError(t, err)
		require.True(t, utf8.ValidString(out), "style %s gave invalid UTF-8", st)
		if in != "" {
			require.NotEqual(t, in, out, "style %s returned its input", st)
		}
		if st == "ip" {
			// The ip style promises the /24 or /48 and nothing more. An
			// address with no bits past that prefix ("100:10::") is its
			// own prefix, so containment is no leak there; check the
			// promise itself instead.
			if want, ok := ipPrefix(in); ok {
				require.Equal(t, want, out, "style ip")
				continue
			}
		}
		if name, _, _ := strings.Cut(string(st), ":"); name == "email" {
			// A local part of one or two characters is masked whole.
			if at := strings.LastIndexByte(in, '@'); at > 0 && utf8.RuneCountInString(in[:at]) <= 2 {
				require.False(t, strings.HasPrefix(out, in[:at]) && !strings.HasPrefix(in, "*"), "style %s shows a short local part", st)
			}
		}
		// The clear value never appears whole unless it is short enough
		// to be a legitimate reveal (last 4, a domain, a country code).
		if utf8.RuneCountInString(in) >= 8 && !strings.Contains(in, "*") && !strings.Contains(in, "@") && st != "initials" {
			require.NotContains(t, out, in, "style %s", st)
		}
	}
}

var (
	sixToFour = netip.MustParsePrefix("2002::/16")
	teredo    = netip.MustParsePrefix("2001::/32")
)

// ipPrefix is the ip style's promise, computed independently: the /24 of
// an IPv4 address, including one carried by a 6to4 or Teredo address (the
// /48 of a 6to4 address would show its IPv4 address whole), the /48 of
// other IPv6 ones (port, zone and v4 mapping dropped).
func ipPrefix(in string) (string, bool) {
	if len(in) > 64 {
		return "", false
	}
	a, err := netip.ParseAddr(in)
	if err != nil {
		ap, err := netip.ParseAddrPort(in)
		if err != nil {
			return "", false
		}
		a = ap.Addr()
	}
	a = a.WithZone("").Unmap()
	switch b := a.As16(); {
	case !a.Is6():
	case sixToFour.Contains(a):
		a = netip.AddrFrom4([4]byte(b[2:6]))
	case teredo.Contains(a):
		v4 := [4]byte(b[12:16])
		for i := range v4 {
			v4[i] ^= 0xff
		}
		a = netip.AddrFrom4(v4)
	}
	bits := 48
	if a.Is4() {
		bits = 24
	}
	return netip.PrefixFrom(a, bits).Masked().String(), true
}

func TestStylesTotal(t *testing.T) {
	m := testMasker(t)
	r := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{
		"0123456789", "0123456789 -", "abcdefghijklmnopqrstuvwxyz@.", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ",
		"0123456789abcdef:.", "ÅßΩж漢字😀 \t\n", "\x00\x01\x7f\x80\xff\xfe", "+()0123456789 -./",
	}
	for i := range 3000 {
		alpha := []rune(alphabets[i%len(alphabets)])
		n := r.IntN(40)
		var b strings.Builder
		for range n {
			b.WriteRune(alpha[r.IntN(len(alpha))])
		}
		checkTotal(t, m, b.String())
	}
	for _, s := range []string{"", " ", "@", "@@", "a@b", "::", "-", "\xff", "100:10::", "10.20.30.0", "[fe80::1%eth0]:443", strings.Repeat("9", 1000),
		"2002:c000:263::", "2002:c000:263:ffff::1", "2001:0:1:2:3:4:3fff:fdd2", "2001::", "::ffff:1.2.3.4", "a@x.io", "ab@x.io",
		strings.Repeat("a@", 500), "+", "+1", "+999999999999999999999999"} {
		checkTotal(t, m, s)
	}
}

func FuzzStyles(f *testing.F) {
	seeds := []string{"", "4111 1111 1111 1111", "alice@example.com", "+44 7911 123456", "DE89370400440532013000",
		"203.0.113.7", "2001:db8::1", "1987-06-14", "Ada Lovelace", "\xff\xfe", "ж@漢字.рф",
		"2002:c000:263::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "al@example.com"}
	for _, s := range seeds {
		f.Add(s)
	}
	require.NotEmpty(f, seeds, "fuzz seed corpus must not be empty")
	m := testMasker(f)
	f.Fuzz(func(t *testing.T, in string) {
		checkTotal(t, m, in)
	})
}

// An argument a built-in style does not take is an error wherever the style
// is named, never a quiet fallback to the plain style (`mask=email:domain`
// would otherwise show the domain the tag meant to hide).
func TestStyleArguments(t *testing.T) {
	m := testMaskerWith(t, map[string]styleFunc{"zip": func(v, arg string) string { return "zip(" + arg + ")" }})
	for _, tc := range []struct {
		style Style
		ok    bool
	}{
		{"card", true}, {"card:bin6", true}, {"card:bin8", true}, {"card:bin9", false}, {"card:", true},
		{"email:mask-domain", true}, {"email:domain", false},
		{"phone:GB", true}, {"phone:XX", false},
		{"last4:2", false}, {"full:x", false}, {"fixed:x", false}, {"first-char:x", false}, {"initials:x", false},
		{"iban:x", false}, {"ip:x", false}, {"date:x", false},
		{"hmac:email", true}, {"hmac:anything", true},
		{"first1", false}, {"Card", false}, {"", false},
		{"zip:3", true}, {"zip:anything", true},
	} {
		t.Run(string(tc.style), func(t *testing.T) {
			out, err := m.Mask(tc.style, "4111 1111 1111 1111")
			_, perr := NewViews(&ViewsOptions{Rules: []Rule{{Action: ActionMask, Style: tc.style}}, Masker: m})
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, perr)
				return
			}
			require.ErrorIs(t, err, errUnknownStyle)
			require.Equal(t, Placeholder, out)
			if tc.style != "" { // an empty rule style means the tag default
				require.ErrorIs(t, perr, errUnknownStyle)
			}
		})
	}
	got, err := m.Mask("zip:3", "94107")
	require.NoError(t, err)
	require.Equal(t, "zip(3)", got, "custom styles receive their argument")

	// In a tag, the view fails and names the field.
	type rec struct {
		Email string `pii:"email,mask=email:domain"`
	}
	vs, err := NewViews(nil)
	require.NoError(t, err)
	_, err = ViewOf(t.Context(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, &rec{Email: "alice@example.com"})
	require.ErrorIs(t, err, errUnknownStyle)
	require.Equal(t, `mask: rec.Email: style "email:domain": unknown style argument`, err.Error())
}
