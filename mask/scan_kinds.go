package mask

// The validators of each kind, run on the candidates the single pass of
// scan.go notes.

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/fieldguard/pii/internal/checkdigit"
)

// card looks for a Luhn-valid card number made of whole digit groups,
// trying the whole run first, then shorter windows of groups.
func (s *scanner) card(gs, ge []int) bool {
	t := s.text
	for a := 0; a < 1; a++ {
		d := 0
		best := -1
		for b := a; b < len(gs); b++ {
			d += ge[b] - gs[b]
			if d > 19 {
				break
			}
			if b > a && !cardSeparator(t[ge[b-1]:gs[b]]) {
				break
			}
			if d >= 12 && checkdigit.LuhnText(t[gs[a]:ge[b]]) && cardPrefix(t[gs[a]:ge[b]], d) {
				best = b
			}
		}
		if best >= 0 {
			conf := 0.9
			if best > a {
				conf = 0.97
			}
			if cx := s.context(gs[a]); max(cx[catNonCard], cx[catNonPhone]) > cx[catCard] {
				// Announced as an order, tracking or reference number: a
				// plain run of digits is one; grouped like a card, it is
				// still reported, since missing a card costs more.
				if best == a && s.adjacent(max(cx[catNonCard], cx[catNonPhone]), gs[a]) {
					return false
				}
				conf = 0.6
			}
			s.add(KindCard, gs[a], ge[best], conf)
			return true
		}
	}
	return false
}

func cardSeparator(sep string) bool {
	return sep == " " || sep == "-" || sep == " - "
}

// cardPrefix checks the issuer identification prefix and length of the
// major schemes (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
// Maestro, RuPay, Mir).
func cardPrefix(s string, n int) bool {
	var p [6]byte
	k := 0
	for i := 0; i < len(s) && k < 6; i++ {
		if s[i] >= '0' && s[i] <= '9' {
			p[k] = s[i]
			k++
		}
	}
	v := func(m int) int {
		x := 0
		for i := range m {
			x = x*10 + int(p[i]-'0')
		}
		return x
	}
	switch p[0] {
	case '4':
		return n == 13 || n == 16 || n == 19
	case '5':
		if x := v(2); x >= 51 && x <= 55 {
			return n == 16
		}
		return n >= 12 // Maestro 50, 56–59
	case '2':
		if x := v(4); x >= 2221 && x <= 2720 {
			return n == 16
		}
		if x := v(4); x >= 2200 && x <= 2204 { // Mir
			return n >= 16
		}
		return false
	case '3':
		x := v(2)
		switch {
		case x == 34 || x == 37:
			return n == 15
		case x == 36 || x == 38 || x == 39 || (v(3) >= 300 && v(3) <= 305) || v(3) == 309:
			return n >= 14
		case v(4) >= 3528 && v(4) <= 3589:
			return n >= 16
		}
		return false
	case '6':
		return n >= 12 // Discover, UnionPay, Maestro, RuPay
	case '1':
		return n == 15 && p[1] == '8' // UATP 1800
	}
	return false
}

// ssn reports a US social security number: area 001–899 except 666,
// group 01–99, serial 0001–9999; dashed or spaced 3-2-4, or nine plain
// digits announced by context.
func (s *scanner) ssn(first, end int, gs, ge []int, seps uint8) bool {
	t := s.text
	var d [9]byte
	k := 0
	for i := first; i < end; i++ {
		if t[i] >= '0' && t[i] <= '9' {
			d[k] = t[i]
			k++
		}
	}
	area := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	group := int(d[3]-'0')*10 + int(d[4]-'0')
	serial := string(d[5:9])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == "0000" {
		return false
	}
	ctx := s.context(first)[catSSN] >= 0
	shaped := len(gs) == 3 && ge[0]-gs[0] == 3 && ge[1]-gs[1] == 2 && ge[2]-gs[2] == 4
	switch {
	case shaped && (t[ge[0]] == '-' && t[ge[1]] == '-'):
		conf := 0.85
		if ctx {
			conf = 0.99
		}
		s.add(KindSSN, first, end, conf)
		return true
	case shaped && ctx:
		s.add(KindSSN, first, end, 0.9)
		return true
	case len(gs) == 1 && ctx:
		s.add(KindSSN, first, end, 0.8)
		return true
	}
	return false
}

// looksLikeDate reports digit groups shaped like a numeric date:
// Y-M-D, D-M-Y or M-D-Y with a four- or two-digit year.
func looksLikeDate(t string, gs, ge []int) bool {
	if len(gs) < 3 || (len(gs) > 3 && t[ge[2]] != ' ') {
		return false
	}
	l0, l1, l2 := ge[0]-gs[0], ge[1]-gs[1], ge[2]-gs[2]
	sep1, sep2 := t[ge[0]:gs[1]], t[ge[1]:gs[2]]
	if sep1 != sep2 || (sep1 != "-" && sep1 != "." && sep1 != "/") {
		return false
	}
	a, _ := strconv.Atoi(t[gs[0]:ge[0]])
	b, _ := strconv.Atoi(t[gs[1]:ge[1]])
	c, _ := strconv.Atoi(t[gs[2]:ge[2]])
	if l0 == 4 && l1 <= 2 && l2 <= 2 {
		return b >= 1 && b <= 12 && c >= 1 && c <= 31
	}
	if l0 <= 2 && l1 <= 2 && (l2 == 4 || l2 == 2) {
		return a >= 1 && a <= 31 && b >= 1 && b <= 31 && (a <= 12 || b <= 12)
	}
	return false
}

// email handles an '@' at i: it extends left over the local part and
// right over the domain.
func (s *scanner) email(at int) {
	if s.want&bitEmail == 0 {
		return
	}
	t := s.text
	a := at
	for a > 0 && at-a < 64 && class[t[a-1]]&clLocal != 0 {
		a--
	}
	for a < at && (t[a] == '.' || t[a] == '-' || t[a] == '+' || t[a] == '\'') {
		a++
	}
	if a == at {
		return
	}
	b := at + 1
	lastDot := -1
	for b < len(t) && b-at < 255 {
		c := t[b]
		if isAlnum(c) || c == '-' {
			b++
			continue
		}
		if c == '.' && b+1 < len(t) && isAlnum(t[b+1]) && t[b-1] != '.' {
			lastDot = b
			b++
			continue
		}
		break
	}
	if lastDot < 0 || b-lastDot-1 < 2 || at+1 >= lastDot {
		return
	}
	for k := lastDot + 1; k < b; k++ {
		if class[t[k]]&(clUpper|clLower) == 0 {
			return
		}
	}
	s.add(KindEmail, a, b, 0.99)
}

// ipv6 handles a ':' at i: it extends over hex digits, ':' and '.' and
// asks net/netip. Times (10:30) and MAC addresses do not parse.
func (s *scanner) ipv6(i int) {
	t := s.text
	if len(s.findings) > 0 && s.findings[len(s.findings)-1].End > i {
		return
	}
	// An IPv6 address is at most 45 characters: bound both scans so that
	// a long run of colons and hex digits costs linear time.
	a := i
	for a > 0 && i-a < 46 && (class[t[a-1]]&clHex != 0 || t[a-1] == ':') {
		a--
	}
	if a > 0 && (isAlnum(t[a-1]) || t[a-1] == ':') {
		return
	}
	b := i
	for b < len(t) && b-a < 46 && (class[t[b]]&clHex != 0 || t[b] == ':' || t[b] == '.') {
		b++
	}
	if b < len(t) && b-a == 46 {
		return
	}
	for b > i && (t[b-1] == '.' || t[b-1] == ':') && !(b-2 >= 0 && t[b-2] == ':' && t[b-1] == ':') {
		b--
	}
	if b-a < 3 || (b < len(t) && isLetter(t[b])) {
		return
	}
	if strings.Count(t[a:b], ":") < 2 {
		return
	}
	if addr, err := netip.ParseAddr(t[a:b]); err == nil && addr.Is6() {
		s.add(KindIP, a, b, 0.95)
	}
}

// iban checks a candidate starting with two letters and two digits at i;
// it returns the end of a valid IBAN or 0.
func (s *scanner) iban(i int) int {
	t := s.text
	cc := string([]byte{upper(t[i]), upper(t[i+1])})
	want, ok := ibanLengths[cc]
	if !ok {
		return 0
	}
	var buf [34]byte
	k := 0
	j := i
	for j < len(t) && k < want {
		c := t[j]
		switch {
		case isAlnum(c):
			buf[k] = upper(c)
			k++
			j++
		case (c == ' ' || c == '-') && j+1 < len(t) && isAlnum(t[j+1]) && k > 0:
			j++
		default:
			goto out
		}
	}
out:
	if k != want || (j < len(t) && isAlnum(t[j])) {
		return 0
	}
	if !checkdigit.IBANValid(buf[:k]) {
		return 0
	}
	if s.want&bitIBAN != 0 {
		s.add(KindIBAN, i, j, 0.99)
	}
	return j
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}

// ibanLengths are the IBAN lengths of the SWIFT IBAN registry.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
	"LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
	"NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
	"SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
	"TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
