package main

// The multilingual corpus: customer-care messages in English, German,
// French, Spanish, Italian, Portuguese and Dutch, each with the region a
// tenant would give as a hint. Identifiers are generated here with their
// own check-digit code (independent of internal/checkdigit, so the corpus
// checks the scanner rather than repeating it), in the layouts people
// type; look-alikes (order numbers, tracking ids, amounts, dates, invoice
// numbers, IBAN-like references, company tax numbers) fill the rest.
//
// Two template files: intl_templates.txt (the split the scanner is tuned
// on) and heldout_templates.txt (reported separately and never tuned on),
// with different seeds; the held-out generators also use layouts the
// tuned split does not.

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// intlRecord is one line of corpus_intl.jsonl or corpus_heldout.jsonl.
type intlRecord struct {
	ID     int         `json:"id"`
	Lang   string      `json:"lang"`
	Region string      `json:"region"`
	Text   string      `json:"text"`
	Labels []intlLabel `json:"labels"`
}

type intlLabel struct {
	Kind   string `json:"kind"`
	Scheme string `json:"scheme,omitempty"`
	Start  int    `json:"start"`
	End    int    `json:"end"`
}

// gen generates one split; heldout turns on the extra layouts.
type gen struct {
	r       *rand.Rand
	heldout bool
	region  string
	lang    string
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) n(k int) int             { return g.r.IntN(k) }

func (g *gen) digits(k int) string {
	b := make([]byte, k)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

func (g *gen) letters(k int, alphabet string) string {
	b := make([]byte, k)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

const upperAZ = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func groupAt(s string, sizes []int, sep string) string { return group(s, sizes, sep) }

// --- phones -----------------------------------------------------------

// phoneFor returns a valid number of the region, the last four or six
// digits of its example number replaced.
func (g *gen) phoneFor(region string, mobile bool) *phonenumbers.PhoneNumber {
	return exampleVariant(region, mobile, func(nsn string) int {
		if len(nsn) > 8 && g.n(2) == 0 {
			return 6
		}
		return 4
	}, g.digits)
}

// phoneNational writes a number of the message's region in one of the
// layouts people use there: the national format and its variants
// (dashes, dots, slashes, no spaces, parentheses).
func (g *gen) phoneNational() string {
	n := g.phoneFor(g.region, g.n(3) > 0)
	nat := phonenumbers.Format(n, phonenumbers.NATIONAL)
	compact := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, nat)
	v := g.n(10)
	switch {
	case v < 5:
		return nat
	case v == 5:
		return compact
	case v == 6 && strings.Count(nat, " ") >= 1 && !strings.Contains(nat, "("):
		return strings.ReplaceAll(nat, " ", "-")
	case v == 7 && (g.region == "DE" || g.region == "AT" || g.region == "CH") && strings.HasPrefix(nat, "0"):
		a, b, _ := strings.Cut(nat, " ")
		return a + "/" + strings.ReplaceAll(b, " ", "")
	case v == 7 && (g.region == "FR" || g.region == "BE"):
		return strings.ReplaceAll(nat, " ", ".")
	case v == 8 && g.heldout && strings.HasPrefix(nat, "0") && !strings.Contains(nat, "("):
		a, b, _ := strings.Cut(nat, " ")
		return "(" + a + ") " + b
	case v == 9 && g.heldout && strings.Count(nat, " ") >= 2:
		return strings.ReplaceAll(nat, " ", ".")
	}
	return nat
}

// phoneIntl writes a number with its country code: +CC …, +CC (0)…, 00CC ….
func (g *gen) phoneIntl() string {
	n := g.phoneFor(g.region, g.n(3) > 0)
	intl := phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	switch g.n(8) {
	case 0:
		return phonenumbers.Format(n, phonenumbers.E164)
	case 1:
		if g.region != "IT" && g.region != "US" && g.region != "CA" {
			cc, rest, _ := strings.Cut(intl, " ")
			return cc + " (0)" + rest
		}
	case 2:
		if g.heldout || g.n(2) == 0 {
			return "00" + intl[1:]
		}
	case 3:
		if g.heldout {
			return strings.ReplaceAll(intl, " ", "-")
		}
	}
	return intl
}

// --- national identifiers ----------------------------------------------

type nid struct{ scheme, value string }

func (g *gen) nino() string {
	const first = "ABCEGHJKLMNOPRSTWXYZ"
	const second = "ABCEGHJKLMNPRSTWXYZ"
	var p string
	for {
		p = string(first[g.n(len(first))]) + string(second[g.n(len(second))])
		switch p {
		case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
			continue
		}
		break
	}
	d := g.digits(6)
	s := string("ABCD"[g.n(4)])
	switch g.n(4) {
	case 0:
		return p + " " + d[:2] + " " + d[2:4] + " " + d[4:] + " " + s
	case 1:
		if g.heldout {
			return p + " " + d + " " + s
		}
	}
	return p + d + s
}

func mod1110(s string) byte {
	p := 10
	for i := 0; i < len(s); i++ {
		x := (int(s[i]-'0') + p) % 10
		if x == 0 {
			x = 10
		}
		p = x * 2 % 11
	}
	c := 11 - p
	if c == 10 {
		c = 0
	}
	return byte('0' + c)
}

func (g *gen) steuerID() string {
	for {
		perm := g.r.Perm(10)
		// Nine distinct digits, one of them twice: drop perm[9], repeat perm[0].
		ds := append([]int{}, perm[:9]...)
		ds = append(ds, perm[0])
		g.r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		if ds[0] == 0 {
			continue
		}
		var b strings.Builder
		for _, d := range ds {
			b.WriteByte(byte('0' + d))
		}
		s := b.String()
		s += string(mod1110(s))
		switch g.n(3) {
		case 0:
			return s[:2] + " " + s[2:5] + " " + s[5:8] + " " + s[8:]
		case 1:
			if g.heldout {
				return s[:2] + "/" + s[2:5] + "/" + s[5:8] + "/" + s[8:]
			}
		}
		return s
	}
}

func (g *gen) nir() string {
	sex := strconv.Itoa(1 + g.n(2))
	yy := fmt.Sprintf("%02d", g.n(100))
	mm := fmt.Sprintf("%02d", 1+g.n(12))
	dept := fmt.Sprintf("%02d", 1+g.n(95))
	if dept == "20" {
		dept = "2A"
	}
	com := fmt.Sprintf("%03d", 1+g.n(989))
	ord := fmt.Sprintf("%03d", 1+g.n(999))
	body := sex + yy + mm + dept + com + ord
	num := strings.Replace(body, "2A", "19", 1)
	rem := 0
	for _, c := range num {
		rem = (rem*10 + int(c-'0')) % 97
	}
	key := fmt.Sprintf("%02d", 97-rem)
	switch g.n(4) {
	case 0, 1:
		return sex + " " + yy + " " + mm + " " + dept + " " + com + " " + ord + " " + key
	case 2:
		if g.heldout {
			return sex + yy + mm + dept + com + ord + " " + key
		}
	}
	return body + key
}

func dniLetter(n int) byte { return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] }

func (g *gen) dni() string {
	d := g.digits(8)
	v, _ := strconv.Atoi(d)
	l := string(dniLetter(v))
	switch g.n(5) {
	case 0:
		return d + "-" + l
	case 1:
		if g.heldout {
			return d[:2] + "." + d[2:5] + "." + d[5:] + "-" + l
		}
	case 2:
		if g.heldout {
			return d + " " + l
		}
	}
	return d + l
}

func (g *gen) nie() string {
	p := g.n(3)
	d := g.digits(7)
	v, _ := strconv.Atoi(strconv.Itoa(p) + d)
	l := string(dniLetter(v))
	pre := string("XYZ"[p])
	if g.n(4) == 0 {
		return pre + "-" + d + "-" + l
	}
	return pre + d + l
}

var cfOdd = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

func (g *gen) codiceFiscale() string {
	const cons = "BCDFGHLMNPRSTVZ"
	s := g.letters(3, cons) + g.letters(2, cons) + g.letters(1, "AEIOU")
	s += fmt.Sprintf("%02d", g.n(100))
	s += string("ABCDEHLMPRST"[g.n(12)])
	day := 1 + g.n(28)
	if g.n(2) == 0 {
		day += 40
	}
	s += fmt.Sprintf("%02d", day)
	s += string("ABCDEFGHILM"[g.n(11)]) + g.digits(3)
	sum := 0
	for i := 0; i < 15; i++ {
		c := s[i]
		v := int(c - 'A')
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		}
		if i%2 == 0 {
			v = cfOdd[v]
		}
		sum += v
	}
	s += string(rune('A' + sum%26))
	if g.heldout && g.n(5) == 0 {
		return strings.ToLower(s)
	}
	return s
}

func (g *gen) bsn() string {
	for {
		d := g.digits(8)
		sum := 0
		for i := 0; i < 8; i++ {
			sum += int(d[i]-'0') * (9 - i)
		}
		c := sum % 11
		if c == 10 || d[0] == '0' {
			continue
		}
		s := d + strconv.Itoa(c)
		if g.n(4) == 0 {
			return s[:4] + "." + s[4:6] + "." + s[6:]
		}
		return s
	}
}

func (g *gen) personnummer() string {
	y := 1940 + g.n(66)
	m, d := 1+g.n(12), 1+g.n(28)
	body := fmt.Sprintf("%02d%02d%02d%s", y%100, m, d, g.digits(3))
	s := body + string(luhnDigit(body))
	switch g.n(5) {
	case 0:
		return fmt.Sprintf("%d", y/100) + s[:6] + "-" + s[6:]
	case 1:
		if g.heldout {
			return fmt.Sprintf("%d", y/100) + s
		}
	}
	return s[:6] + "-" + s[6:]
}

func (g *gen) pesel() string {
	y := 1940 + g.n(70)
	m, d := 1+g.n(12), 1+g.n(28)
	mm := m
	if y >= 2000 {
		mm += 20
	}
	s := fmt.Sprintf("%02d%02d%02d%s", y%100, mm, d, g.digits(4))
	w := []int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3}
	sum := 0
	for i, x := range w {
		sum += int(s[i]-'0') * x
	}
	return s + strconv.Itoa((10-sum%10)%10)
}

func (g *gen) cpf() string {
	d := g.digits(9)
	for i := 0; i < 2; i++ {
		sum := 0
		for j := 0; j < len(d); j++ {
			sum += int(d[j]-'0') * (len(d) + 1 - j)
		}
		d += strconv.Itoa(sum * 10 % 11 % 10)
	}
	switch g.n(5) {
	case 0:
		return d
	case 1:
		if g.heldout {
			return d[:9] + "-" + d[9:]
		}
	}
	return d[:3] + "." + d[3:6] + "." + d[6:9] + "-" + d[9:]
}

var vD = [10][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1}, {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}
var vP = [8][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 7, 6, 8, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1}, {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}}
var vInv = [10]int{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}

func (g *gen) aadhaar() string {
	d := strconv.Itoa(2+g.n(8)) + g.digits(10)
	c := 0
	for i := 0; i < len(d); i++ {
		c = vD[c][vP[(i+1)%8][d[len(d)-1-i]-'0']]
	}
	s := d + strconv.Itoa(vInv[c])
	switch g.n(5) {
	case 0:
		return s
	case 1:
		if g.heldout {
			return s[:4] + "-" + s[4:8] + "-" + s[8:]
		}
	}
	return s[:4] + " " + s[4:8] + " " + s[8:]
}

func (g *gen) sin() string {
	body := string("12345679"[g.n(8)]) + g.digits(7)
	s := body + string(luhnDigit(body))
	switch g.n(4) {
	case 0:
		return s[:3] + "-" + s[3:6] + "-" + s[6:]
	case 1:
		return s
	}
	return s[:3] + " " + s[3:6] + " " + s[6:]
}

func (g *gen) tfn() string {
	w := []int{1, 4, 3, 7, 5, 8, 6, 9, 10}
	for {
		d := g.digits(8)
		sum := 0
		for i := 0; i < 8; i++ {
			sum += int(d[i]-'0') * w[i]
		}
		// last digit c: (sum + 10c) % 11 == 0
		for c := 0; c < 10; c++ {
			if (sum+10*c)%11 == 0 {
				s := d + strconv.Itoa(c)
				if g.n(3) == 0 {
					return s
				}
				return s[:3] + " " + s[3:6] + " " + s[6:]
			}
		}
	}
}

// nationalID returns the main national identifier of the region.
func (g *gen) nationalID() nid {
	switch g.region {
	case "GB":
		return nid{"GB-NINO", g.nino()}
	case "DE":
		return nid{"DE-IDNR", g.steuerID()}
	case "FR":
		return nid{"FR-NIR", g.nir()}
	case "ES":
		if g.n(3) == 0 {
			return nid{"ES-NIE", g.nie()}
		}
		return nid{"ES-DNI", g.dni()}
	case "IT":
		return nid{"IT-CF", g.codiceFiscale()}
	case "NL":
		return nid{"NL-BSN", g.bsn()}
	case "SE":
		return nid{"SE-PNR", g.personnummer()}
	case "PL":
		return nid{"PL-PESEL", g.pesel()}
	case "BR":
		return nid{"BR-CPF", g.cpf()}
	case "IN":
		return nid{"IN-AADHAAR", g.aadhaar()}
	case "CA":
		return nid{"CA-SIN", g.sin()}
	case "AU":
		return nid{"AU-TFN", g.tfn()}
	}
	panic("no national id for region " + g.region)
}

func (g *gen) passport() string {
	switch g.region {
	case "DE", "AT":
		return "C" + g.letters(8, "CFGHJKLMNPRTVWXYZ0123456789")
	case "FR":
		return g.digits(2) + g.letters(2, upperAZ) + g.digits(5)
	case "ES":
		return g.letters(3, upperAZ) + g.digits(6)
	case "IT":
		return g.letters(2, upperAZ) + g.digits(7)
	case "NL", "BE":
		return g.letters(2, "BCDFGHJKLMNPRSTVWXYZ") + g.letters(6, "BCDFGHJKLMNPRSTVWXYZ0123456789") + g.digits(1)
	case "BR", "CA", "PT":
		return g.letters(2, upperAZ) + g.digits(6)
	case "IN":
		return g.letters(1, upperAZ) + g.digits(7)
	case "US":
		if g.n(2) == 0 {
			return g.letters(1, upperAZ) + g.digits(8)
		}
	case "AU":
		return g.letters(1+g.n(2), upperAZ) + g.digits(7)
	case "PL":
		return g.letters(2, upperAZ) + g.digits(7)
	case "SE":
		return g.digits(8)
	}
	return strconv.Itoa(1+g.n(9)) + g.digits(8)
}

// --- dates -------------------------------------------------------------

var monthsBy = map[string][]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	"pt": {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
	"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
}

// dateIn writes a date in a layout of the message's language.
func (g *gen) dateIn(y, m, d int) string {
	mn := monthsBy[g.lang][m-1]
	switch g.lang {
	case "en":
		switch g.n(5) {
		case 0:
			return fmt.Sprintf("%02d/%02d/%d", d, m, y)
		case 1:
			return fmt.Sprintf("%d %s %d", d, mn, y)
		case 2:
			return fmt.Sprintf("%s %d, %d", mn, d, y)
		case 3:
			return fmt.Sprintf("%d-%02d-%02d", y, m, d)
		}
		if g.heldout {
			return fmt.Sprintf("%d%s %s %d", d, ordinal(d), mn, y)
		}
		return fmt.Sprintf("%02d/%02d/%d", m, d, y)
	case "de":
		switch g.n(5) {
		case 0:
			return fmt.Sprintf("%d. %s %d", d, mn, y)
		case 1:
			return fmt.Sprintf("%d.%d.%d", d, m, y)
		case 2:
			if g.heldout {
				return fmt.Sprintf("%02d.%02d.%02d", d, m, y%100)
			}
		}
		return fmt.Sprintf("%02d.%02d.%d", d, m, y)
	case "fr":
		switch g.n(4) {
		case 0:
			if d == 1 {
				return fmt.Sprintf("1er %s %d", mn, y)
			}
			return fmt.Sprintf("%d %s %d", d, mn, y)
		case 1:
			if g.heldout {
				return fmt.Sprintf("%02d-%02d-%d", d, m, y)
			}
		}
		return fmt.Sprintf("%02d/%02d/%d", d, m, y)
	case "es", "pt":
		switch g.n(4) {
		case 0:
			return fmt.Sprintf("%d de %s de %d", d, mn, y)
		case 1:
			if g.heldout {
				return fmt.Sprintf("%d-%02d-%d", d, m, y)
			}
		}
		return fmt.Sprintf("%02d/%02d/%d", d, m, y)
	case "it":
		switch g.n(4) {
		case 0:
			return fmt.Sprintf("%d %s %d", d, mn, y)
		case 1:
			if g.heldout {
				return fmt.Sprintf("%02d-%02d-%d", d, m, y)
			}
		}
		return fmt.Sprintf("%02d/%02d/%d", d, m, y)
	case "nl":
		switch g.n(4) {
		case 0:
			return fmt.Sprintf("%d %s %d", d, mn, y)
		case 1:
			return fmt.Sprintf("%02d/%02d/%d", d, m, y)
		}
		return fmt.Sprintf("%02d-%02d-%d", d, m, y)
	}
	panic("language " + g.lang)
}

func ordinal(d int) string {
	switch {
	case d == 1 || d == 21 || d == 31:
		return "st"
	case d == 2 || d == 22:
		return "nd"
	case d == 3 || d == 23:
		return "rd"
	}
	return "th"
}

func (g *gen) dob() string { return g.dateIn(1940+g.n(66), 1+g.n(12), 1+g.n(28)) }

func (g *gen) recentDate() string { return g.dateIn(2024+g.n(3), 1+g.n(12), 1+g.n(28)) }

// --- look-alikes ---------------------------------------------------------

func (g *gen) order() string {
	switch g.n(8) {
	case 0:
		return g.digits(3) + "-" + g.digits(7) + "-" + g.digits(7)
	case 1:
		return strconv.Itoa(1+g.n(9)) + g.digits(8)
	case 2:
		return strconv.Itoa(1+g.n(9)) + g.digits(10)
	case 3:
		return "#" + g.digits(7)
	case 4:
		return strconv.Itoa(1+g.n(9)) + g.digits(11)
	case 5:
		return g.letters(2, upperAZ) + "-" + g.digits(6)
	case 6:
		return strconv.Itoa(1+g.n(9)) + g.digits(7)
	}
	return "40" + g.digits(8)
}

func (g *gen) tracking() string {
	switch g.n(9) {
	case 0:
		return "00340434" + g.digits(12) // DHL
	case 1:
		return "JJD" + g.digits(15)
	case 2:
		return g.digits(14) // DPD
	case 3:
		return "6A" + g.digits(11) // Colissimo
	case 4:
		return "3S" + g.letters(4, upperAZ) + g.digits(7) // PostNL
	case 5:
		return g.letters(2, upperAZ) + g.digits(9) + pick([]string{"DE", "FR", "ES", "IT", "BR", "NL", "PT"}) // UPU S10
	case 6:
		return "1Z" + g.letters(6, "0123456789ABCDEFGHJKLMNPRSTVWXYZ") + g.digits(10)
	case 7:
		return g.digits(4) + " " + g.digits(4) + " " + g.digits(4)
	}
	return g.digits(12)
}

func (g *gen) amount() string {
	a, c := 1+g.n(2000), g.n(100)
	switch g.lang {
	case "en":
		return pick([]string{fmt.Sprintf("£%d.%02d", a, c), fmt.Sprintf("$%d.%02d", a, c), fmt.Sprintf("€%d.%02d", a, c)})
	case "pt":
		if g.region == "BR" {
			return fmt.Sprintf("R$ %d,%02d", a, c)
		}
	}
	if a >= 1000 {
		return pick([]string{fmt.Sprintf("%d.%03d,%02d €", a/1000, a%1000, c), fmt.Sprintf("%d %03d,%02d €", a/1000, a%1000, c), fmt.Sprintf("€ %d.%03d,%02d", a/1000, a%1000, c)})
	}
	return pick([]string{fmt.Sprintf("%d,%02d €", a, c), fmt.Sprintf("%d,%02d EUR", a, c), fmt.Sprintf("€%d,%02d", a, c)})
}

func (g *gen) invoice() string {
	y := 2023 + g.n(3)
	switch g.n(7) {
	case 0:
		return fmt.Sprintf("RE-%d-%s", y, g.digits(6))
	case 1:
		return fmt.Sprintf("FA%d-%s", y, g.digits(5))
	case 2:
		return fmt.Sprintf("F%d/%s", y, g.digits(6))
	case 3:
		return fmt.Sprintf("%s/%d", g.digits(3), y)
	case 4:
		return strconv.Itoa(y) + g.digits(6)
	case 5:
		return g.digits(10)
	}
	return "INV-" + g.digits(7)
}

// ref is a payment reference or company number that looks like an
// identifier: creditor references, VAT ids, SIRET, P.IVA, CNPJ, KvK.
func (g *gen) ref() string {
	switch g.n(10) {
	case 0:
		return "RF" + g.digits(2) + " " + g.digits(4) + " " + g.digits(4) + " " + g.digits(4)
	case 1:
		return g.pick([]string{"DE", "FR", "ES", "IT", "NL", "PT"}) + g.digits(9)
	case 2:
		return g.digits(3) + " " + g.digits(3) + " " + g.digits(3) + " " + g.digits(5) // SIRET
	case 3:
		return g.digits(11) // P.IVA
	case 4:
		return g.digits(2) + "." + g.digits(3) + "." + g.digits(3) + "/0001-" + g.digits(2) // CNPJ
	case 5:
		return g.digits(8) // KvK
	case 6:
		return g.digits(4) + " " + g.digits(4) + " " + g.digits(4) + " " + g.digits(4)
	case 7:
		return "B" + g.digits(8) // Spanish company CIF
	case 8:
		return g.digits(2) + "/" + g.digits(3) + "/" + g.digits(5) // Steuernummer of a business
	}
	return g.digits(3) + "." + g.digits(3) + "." + g.digits(3)
}

func (g *gen) zip() string {
	switch g.region {
	case "NL":
		return g.digits(4) + " " + g.letters(2, upperAZ)
	case "BR":
		return g.digits(5) + "-" + g.digits(3)
	case "PT":
		return g.digits(4) + "-" + g.digits(3)
	case "GB":
		return g.letters(2, upperAZ) + strconv.Itoa(1+g.n(9)) + " " + strconv.Itoa(g.n(10)) + g.letters(2, upperAZ)
	case "CA":
		return "K1A 0B1"
	}
	return g.digits(5)
}

func (g *gen) clock() string {
	h, m := 7+g.n(14), g.n(60)
	switch g.lang {
	case "de":
		return fmt.Sprintf("%d:%02d Uhr", h, m)
	case "fr":
		return fmt.Sprintf("%dh%02d", h, m)
	}
	return fmt.Sprintf("%d:%02d", h, m)
}

func (g *gen) ibanFor() string {
	shapes := map[string]ibanShape{}
	for _, s := range ibanShapes {
		shapes[s.cc] = s
	}
	sh, ok := shapes[g.region]
	if !ok {
		sh = ibanShapes[0]
	}
	b := make([]byte, len(sh.shape))
	for i, c := range sh.shape {
		switch c {
		case 'n':
			b[i] = byte('0' + g.n(10))
		case 'a':
			b[i] = upperAZ[g.n(26)]
		}
	}
	s := sh.cc + ibanCheck(sh.cc, string(b)) + string(b)
	if g.n(3) == 0 {
		return s
	}
	return group(s, []int{4, 4, 4, 4, 4, 4, 4, 4}, " ")
}

var namesBy = map[string][]string{
	"en": {"Oliver", "Amelia", "Harry", "Isla", "Priya", "Liam", "Chloe", "Arjun", "Grace", "Noah"},
	"de": {"Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Paul", "Sophie", "Jürgen", "Birgit"},
	"fr": {"Camille", "Louis", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Gabriel", "Inès", "Théo"},
	"es": {"Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Pablo", "Carmen", "Javier", "Elena", "Álvaro"},
	"it": {"Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Alessandro", "Chiara", "Matteo", "Giorgia", "Lorenzo"},
	"pt": {"João", "Maria", "Ana", "Pedro", "Beatriz", "Lucas", "Mariana", "Gabriel", "Inês", "Rafael"},
	"nl": {"Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Finn", "Sophie", "Bram", "Lotte"},
}

// fill expands one placeholder of a multilingual template; labelled
// values come back as [[kind/scheme:value]].
func (g *gen) fill(name string) string {
	lab := func(kind, scheme, v string) string {
		if scheme != "" {
			kind += "/" + scheme
		}
		return "[[" + kind + ":" + v + "]]"
	}
	switch name {
	case "phone":
		return lab("phone", "", g.phoneNational())
	case "phone_intl":
		return lab("phone", "", g.phoneIntl())
	case "nid":
		id := g.nationalID()
		return lab("national_id", id.scheme, id.value)
	case "passport":
		return lab("passport", "", g.passport())
	case "dob":
		return lab("dob", "", g.dob())
	case "email":
		return lab("email", "", email())
	case "iban":
		return lab("iban", "", g.ibanFor())
	case "card":
		return lab("card", "", formatCard(cardNumber()))
	case "date":
		return g.recentDate()
	case "order":
		return g.order()
	case "tracking":
		return g.tracking()
	case "amount":
		return g.amount()
	case "invoice":
		return g.invoice()
	case "ref":
		return g.ref()
	case "zip":
		return g.zip()
	case "time":
		return g.clock()
	case "name":
		return g.pick(namesBy[g.lang])
	case "qty":
		return strconv.Itoa(1 + g.n(9))
	case "days":
		return strconv.Itoa(2 + g.n(12))
	}
	panic("unknown placeholder " + name)
}

type intlTemplate struct {
	lang    string
	regions []string
	text    string
}

func parseIntlTemplates(lines []string) []intlTemplate {
	var out []intlTemplate
	for _, l := range lines {
		parts := strings.SplitN(l, "|", 3)
		if len(parts) != 3 {
			panic("bad template line " + l)
		}
		out = append(out, intlTemplate{lang: parts[0], regions: strings.Split(parts[1], ","), text: parts[2]})
	}
	return out
}

// expand fills a template's {placeholders}.
func (g *gen) expand(tpl string) string { return fillTemplate(tpl, g.fill) }

// parseIntl turns [[kind/scheme:value]] markup into text and labels.
func parseIntl(s string) (string, []intlLabel) {
	text, ls := parse(s)
	out := make([]intlLabel, 0, len(ls))
	for _, l := range ls {
		kind, scheme, _ := strings.Cut(l.Kind, "/")
		out = append(out, intlLabel{Kind: kind, Scheme: scheme, Start: l.Start, End: l.End})
	}
	return text, out
}

// intlCorpus generates a split: every template once per region it names
// (so each region's layouts appear), then random templates up to count;
// hand-written lines ("lang|region|text") come first.
func intlCorpus(tplLines, handLines []string, seed uint64, heldout bool, count int) []intlRecord {
	g := &gen{r: rand.New(rand.NewPCG(seed, 17)), heldout: heldout}
	// The package-level generators (email, cards) share the global source;
	// reseed it so each split is deterministic on its own.
	r = rand.New(rand.NewPCG(seed, 18))
	var out []intlRecord
	emit := func(lang, region, markup string) {
		text, ls := parseIntl(markup)
		out = append(out, intlRecord{ID: len(out) + 1, Lang: lang, Region: region, Text: text, Labels: ls})
	}
	for _, h := range handLines {
		parts := strings.SplitN(h, "|", 3)
		if len(parts) != 3 {
			panic("bad hand-written line " + h)
		}
		emit(parts[0], parts[1], parts[2])
	}
	tpls := parseIntlTemplates(tplLines)
	one := func(t intlTemplate, region string) {
		g.lang, g.region = t.lang, region
		emit(t.lang, region, g.expand(t.text))
	}
	for _, t := range tpls {
		for _, region := range t.regions {
			one(t, region)
		}
	}
	for len(out) < count {
		t := tpls[g.n(len(tpls))]
		one(t, t.regions[g.n(len(t.regions))])
	}
	return out
}
