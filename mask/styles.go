package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldguard/pii/internal/checkdigit"
)

// The built-in styles. Each is total (see the package documentation) and
// is reached through a Masker: Masker.Mask, views, Text and Redacted.

// runesOf splits s into characters; each byte of invalid UTF-8 is one
// character (and is never copied to the output).
func runesOf(s string) []rune {
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		rs = append(rs, r)
	}
	return rs
}

// maskFull replaces every character with '*'. The length (in characters) is
// kept; use the fixed style when it must not be.
func maskFull(s string) string {
	return strings.Repeat("*", utf8.RuneCountInString(s))
}

// keepEnds masks rs except the first head and last tail characters, which
// are copied only when valid.
func keepEnds(rs []rune, head, tail int) string {
	var b strings.Builder
	b.Grow(len(rs))
	for i, r := range rs {
		if (i < head || i >= len(rs)-tail) && r != utf8.RuneError && unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// maskLast4 keeps the last four characters and masks the rest, but never reveals
// more than half of the value: "12345678" → "****5678", "abc" → "**c".
func maskLast4(s string) string {
	rs := runesOf(s)
	return keepEnds(rs, 0, min(4, len(rs)/2))
}

// maskFirstChar keeps the first character of values of two or more characters.
func maskFirstChar(s string) string {
	rs := runesOf(s)
	return keepEnds(rs, min(1, len(rs)/2), 0)
}

// maskInitials returns the first letter of each word followed by '.', e.g.
// "Ada Lovelace" → "A. L.". Words that do not start with a letter show '*'.
// At most four initials are shown.
func maskInitials(s string) string {
	var b strings.Builder
	n := 0
	for w := range strings.FieldsSeq(s) {
		if n == 4 {
			break
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteByte('*')
		}
		b.WriteByte('.')
		n++
	}
	if n == 0 {
		return Placeholder
	}
	out := b.String()
	if out == s {
		return Placeholder
	}
	return out
}

// maskEmail keeps the first character of the local part and, unless maskDomain,
// the domain: "alice@example.com" → "a***@example.com". The number of stars
// is constant. A local part of one or two characters is masked whole
// ("al@example.com" → "****@example.com"): its first character would be
// half of it or all of it. With maskDomain only the last label of the
// domain is kept ("a***@*******.com"). Anything that is not an address
// gives the placeholder.
func maskEmail(s string, maskDomain bool) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || !utf8.ValidString(s) {
		return Placeholder
	}
	local, domain := s[:at], s[at+1:]
	if !validDomain(domain) {
		return Placeholder
	}
	r, _ := utf8.DecodeRuneInString(local)
	if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '@' || utf8.RuneCountInString(local) <= 2 {
		r = '*'
	}
	var b strings.Builder
	b.WriteRune(r)
	b.WriteString("***@")
	if maskDomain {
		dot := strings.LastIndexByte(domain, '.')
		b.WriteString(strings.Repeat("*", utf8.RuneCountInString(domain[:dot])))
		b.WriteString(domain[dot:])
	} else {
		b.WriteString(domain)
	}
	return b.String()
}

// validDomain accepts host names with at least two labels of letters,
// digits and '-' (any Unicode letter, for internationalised names).
func validDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	label := 0
	for _, r := range d {
		switch {
		case r == '.':
			if label == 0 {
				return false
			}
			label = 0
		case r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r):
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// maskPhone parses s with phonenumbers (region is the default for numbers
// written without a country calling code) and keeps the country calling
// code and the last 2–4 digits of the national number: "+44 7911 123456" →
// "+44 ******3456". Unparseable input gives the placeholder.
func maskPhone(s, region string) (out string) {
	defer func() {
		if recover() != nil {
			out = Placeholder
		}
	}()
	if len(s) > 64 || !utf8.ValidString(s) {
		return Placeholder
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return Placeholder
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if len(nsn) < 4 {
		return Placeholder
	}
	keep := 4
	switch {
	case len(nsn) < 6:
		keep = 1
	case len(nsn) < 8:
		keep = 2
	case len(nsn) < 10:
		keep = 3
	}
	return "+" + strconv.Itoa(int(num.GetCountryCode())) + " " +
		strings.Repeat("*", len(nsn)-keep) + nsn[len(nsn)-keep:]
}

// maskCard masks a payment card number as PCI DSS 3.4.1 allows: the last four
// digits and, if bin is 6 or 8, the first bin digits, but the BIN is shown
// only when at least five digits stay hidden (8-digit BINs only on cards of
// 16 or more digits). Spaces and dashes are kept where they were. Anything
// other than 12–19 digits with spaces or dashes gives the placeholder.
func maskCard(s string, bin int) string {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			n++
		case c == ' ' || c == '-':
		default:
			return Placeholder
		}
	}
	if n < 12 || n > 19 {
		return Placeholder
	}
	switch {
	case bin >= 8 && n >= 17:
		bin = 8
	case bin >= 6 && n >= 15:
		bin = 6
	default:
		bin = 0
	}
	b := []byte(s)
	d := 0
	for i, c := range b {
		if c < '0' || c > '9' {
			continue
		}
		if d >= bin && d < n-4 {
			b[i] = '*'
		}
		d++
	}
	return string(b)
}

// maskIBAN keeps the country code and the last four characters of an IBAN and
// prints it in groups of four: "DE89 3704 0044 0532 0130 00" →
// "DE** **** **** **** **30 00". Anything not shaped like an IBAN (country
// letters, two check digits, 11–30 alphanumerics) gives the placeholder.
func maskIBAN(s string) string {
	c := compactIBAN(s)
	if c == "" {
		return Placeholder
	}
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		if i < 2 || i >= len(c)-4 {
			b.WriteByte(c[i])
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// compactIBAN removes spaces and dashes, upper-cases and checks the shape;
// it returns "" for anything that is not IBAN-shaped.
func compactIBAN(s string) string { return string(checkdigit.CompactIBAN(s)) }

// maskIP truncates an IPv4 address to its /24 and an IPv6 address to its /48
// and prints the prefix: "203.0.113.7" → "203.0.113.0/24". An IPv6 address
// that carries an IPv4 address is shown as that IPv4 address's /24, so its
// host byte is never shown: IPv4-mapped (::ffff:0:0/96), 6to4 (2002::/16,
// the IPv4 address in bits 16–47, which a /48 would show whole) and Teredo
// (2001:0::/32, the client's IPv4 address inverted in the last 32 bits).
// An address with a port or zone is accepted; the port and zone are
// dropped. Anything else gives the placeholder.
func maskIP(s string) string {
	if len(s) > 64 {
		return Placeholder
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return Placeholder
		}
		addr = ap.Addr()
	}
	addr = embeddedIPv4(addr.WithZone("").Unmap())
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return Placeholder
	}
	return p.String()
}

// embeddedIPv4 returns the IPv4 address a 6to4 or Teredo address carries,
// or a unchanged.
func embeddedIPv4(a netip.Addr) netip.Addr {
	if !a.Is6() {
		return a
	}
	b := a.As16()
	switch {
	case b[0] == 0x20 && b[1] == 0x02: // 6to4, RFC 3056
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0: // Teredo, RFC 4380
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
	}
	return a
}

// dateLayouts are the layouts the date style understands.
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02",
	"2006/01/02", "01/02/2006", "1/2/2006", "02.01.2006", "2.1.2006", "02-01-2006",
	"January 2, 2006", "Jan 2, 2006", "2 January 2006", "2 Jan 2006", "20060102",
}

// maskDate keeps only the year of a date: "1987-06-14" → "1987-**-**". It
// understands ISO 8601, RFC 3339, US and European numeric dates and English
// month names; anything else gives the placeholder. An ambiguous numeric
// date reveals only its year either way.
func maskDate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return Placeholder
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return maskDateOf(t)
		}
	}
	return Placeholder
}

// maskDateOf masks a time.Time to its year, like maskDate. The zero time gives the
// placeholder.
func maskDateOf(t time.Time) string {
	if t.IsZero() {
		return Placeholder
	}
	y := t.Year()
	if y < 0 || y > 9999 {
		return Placeholder
	}
	return strconv.Itoa(y) + "-**-**"
}

// hmac returns "hmac:<key id>:<32 hex digits>", HMAC-SHA256 of arg and the
// value under the masker's key, truncated to 128 bits. arg separates
// domains (categories), so the same value in two categories gives
// unlinkable pseudonyms when the tags say so.
func (m *Masker) hmac(v, arg string) string {
	if len(m.key) == 0 {
		return Placeholder
	}
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(arg))
	h.Write([]byte{0})
	h.Write([]byte(v))
	var sum [sha256.Size]byte
	return "hmac:" + m.keyID + ":" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}
