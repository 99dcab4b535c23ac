// Command corpusgen writes the labelled scanner corpora, deterministically:
//
//	go run ./mask/internal/corpusgen > mask/testdata/corpus.jsonl
//	go run ./mask/internal/corpusgen intl > mask/testdata/corpus_intl.jsonl
//	go run ./mask/internal/corpusgen heldout > mask/testdata/corpus_heldout.jsonl
//	go run ./mask/internal/corpusgen heldout2 > mask/testdata/corpus_heldout2.jsonl
//
// The first is the English corpus; the other two are the multilingual
// corpus (intl.go), in the split the scanner is tuned on and the held-out
// split reported separately.
//
// Each line is {"id":N,"text":"…","labels":[{"kind":"card","start":S,"end":E}]}
// with byte offsets. Messages come from templates filled with generated
// identifiers (valid Luhn, mod 97 and phonenumbers metadata) and realistic
// non-identifiers (order numbers, tracking ids, prices, dates, times), plus
// hand-written tricky messages (handwritten.txt beside this file). In
// templates and hand-written lines, [[kind:value]] marks a labelled span.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

type label struct {
	Kind  string `json:"kind"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

type record struct {
	ID     int     `json:"id"`
	Text   string  `json:"text"`
	Labels []label `json:"labels"`
}

var r = rand.New(rand.NewPCG(20261123, 6))

func pick[T any](xs []T) T { return xs[r.IntN(len(xs))] }

func digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func luhnDigit(body string) byte {
	sum := 0
	dbl := true
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if dbl {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		dbl = !dbl
	}
	return byte('0' + (10-sum%10)%10)
}

type brand struct {
	prefixes []string
	lengths  []int
}

var brands = []brand{
	{[]string{"4"}, []int{16, 16, 16, 13, 19}},                                  // Visa
	{[]string{"51", "52", "53", "54", "55", "2221", "2720", "2300"}, []int{16}}, // Mastercard
	{[]string{"34", "37"}, []int{15}},                                           // Amex
	{[]string{"6011", "65", "644"}, []int{16, 19}},                              // Discover
	{[]string{"3528", "3589", "3550"}, []int{16}},                               // JCB
	{[]string{"36", "300", "305"}, []int{14}},                                   // Diners
	{[]string{"62"}, []int{16, 17, 18, 19}},                                     // UnionPay
	{[]string{"5018", "5020", "6304", "6759"}, []int{12, 13, 15, 16, 18, 19}},   // Maestro
}

func cardNumber() string {
	b := pick(brands)
	p := pick(b.prefixes)
	n := pick(b.lengths)
	body := p + digits(n-1-len(p))
	return body + string(luhnDigit(body))
}

func group(s string, sizes []int, sep string) string {
	var parts []string
	i := 0
	for _, sz := range sizes {
		if i >= len(s) {
			break
		}
		e := min(len(s), i+sz)
		parts = append(parts, s[i:e])
		i = e
	}
	if i < len(s) {
		parts = append(parts, s[i:])
	}
	return strings.Join(parts, sep)
}

func formatCard(c string) string {
	switch {
	case len(c) == 15 && (c[:2] == "34" || c[:2] == "37"):
		switch r.IntN(3) {
		case 0:
			return group(c, []int{4, 6, 5}, " ")
		case 1:
			return group(c, []int{4, 6, 5}, "-")
		}
		return c
	case len(c) == 14 && r.IntN(2) == 0:
		return group(c, []int{4, 6, 4}, " ")
	}
	switch r.IntN(4) {
	case 0:
		return group(c, []int{4, 4, 4, 4, 4}, " ")
	case 1:
		return group(c, []int{4, 4, 4, 4, 4}, "-")
	case 2:
		return group(c, []int{4, 6, 5, 4}, " ")
	}
	return c
}

var first = []string{"john", "maria", "wei", "fatima", "lukas", "aoife", "priya", "carlos", "emma", "kenji", "olga", "ahmed", "sofia", "liam", "zoe", "noah", "chloe", "mateo"}
var last = []string{"smith", "garcia", "chen", "khan", "muller", "obrien", "patel", "silva", "johnson", "tanaka", "ivanova", "hassan", "rossi", "nguyen", "dubois", "kowalski"}
var domains = []string{"gmail.com", "yahoo.co.uk", "outlook.com", "hotmail.fr", "icloud.com", "proton.me", "example.org", "mail.company.de", "web.de", "uni-mannheim.de", "corp.example.com.au", "gmx.net"}

func email() string {
	f, l := pick(first), pick(last)
	var local string
	switch r.IntN(6) {
	case 0:
		local = f + "." + l
	case 1:
		local = f + l + strconv.Itoa(r.IntN(99))
	case 2:
		local = f[:1] + l
	case 3:
		local = f + "_" + l
	case 4:
		local = f + "+orders"
	default:
		local = strings.ToUpper(f[:1]) + f[1:] + "." + strings.ToUpper(l[:1]) + l[1:]
	}
	return local + "@" + pick(domains)
}

var regionsIntl = []string{"GB", "DE", "FR", "IN", "BR", "AU", "JP", "MX", "ES", "NL", "IT", "IE", "SE", "ZA", "NG", "CA", "US", "SG", "PL", "CH"}

// validPhone returns a random valid number of the region, made from the
// metadata's example number with its last digits replaced.
func validPhone(region string, mobile bool) *phonenumbers.PhoneNumber {
	return exampleVariant(region, mobile, func(string) int { return 4 }, digits)
}

// exampleVariant returns a valid number of the region made from
// phonenumbers' example number of the type with its last tail(nsn) digits
// replaced by random ones (from digits), or the example itself.
func exampleVariant(region string, mobile bool, tail func(nsn string) int, digits func(int) string) *phonenumbers.PhoneNumber {
	typ := phonenumbers.FIXED_LINE
	if mobile {
		typ = phonenumbers.MOBILE
	}
	ex := phonenumbers.GetExampleNumberForType(region, typ)
	if ex == nil {
		ex = phonenumbers.GetExampleNumber(region)
	}
	nsn := phonenumbers.GetNationalSignificantNumber(ex)
	for range 200 {
		keep := len(nsn) - tail(nsn)
		cand := nsn[:keep] + digits(len(nsn)-keep)
		n, err := phonenumbers.Parse("+"+strconv.Itoa(int(ex.GetCountryCode()))+cand, "ZZ")
		if err == nil && phonenumbers.IsValidNumber(n) {
			return n
		}
	}
	return ex
}

var usAreas = []string{"201", "212", "213", "305", "312", "415", "512", "617", "646", "702", "713", "718", "801", "818", "917", "206", "303", "404", "503", "619"}

func usPhone() *phonenumbers.PhoneNumber {
	for {
		s := pick(usAreas) + strconv.Itoa(2+r.IntN(8)) + digits(2) + digits(4)
		if s[4:6] == "11" {
			continue
		}
		n, err := phonenumbers.Parse(s, "US")
		if err == nil && phonenumbers.IsValidNumber(n) {
			return n
		}
	}
}

func phoneNational() string {
	n := usPhone()
	nsn := phonenumbers.GetNationalSignificantNumber(n)
	switch r.IntN(6) {
	case 0:
		return phonenumbers.Format(n, phonenumbers.NATIONAL) // (415) 555-2671
	case 1:
		return nsn[:3] + "-" + nsn[3:6] + "-" + nsn[6:]
	case 2:
		return nsn[:3] + "." + nsn[3:6] + "." + nsn[6:]
	case 3:
		return nsn[:3] + " " + nsn[3:6] + " " + nsn[6:]
	case 4:
		return "1-" + nsn[:3] + "-" + nsn[3:6] + "-" + nsn[6:]
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

func phoneIntl() string {
	n := validPhone(pick(regionsIntl), r.IntN(3) > 0)
	if r.IntN(4) == 0 {
		return phonenumbers.Format(n, phonenumbers.E164)
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

type ibanShape struct {
	cc    string
	shape string // 'n' digit, 'a' upper letter, 'c' alphanumeric
}

var ibanShapes = []ibanShape{
	{"DE", "nnnnnnnnnnnnnnnnnn"}, {"GB", "aaaannnnnnnnnnnnnn"}, {"FR", "nnnnnnnnnnnnnnnnnnnnnnn"},
	{"ES", "nnnnnnnnnnnnnnnnnnnn"}, {"IT", "annnnnnnnnnnnnnnnnnnnnn"}, {"NL", "aaaannnnnnnnnn"},
	{"BE", "nnnnnnnnnnnn"}, {"CH", "nnnnnnnnnnnnnnnnn"}, {"AT", "nnnnnnnnnnnnnnnn"},
	{"PL", "nnnnnnnnnnnnnnnnnnnnnnnn"}, {"SE", "nnnnnnnnnnnnnnnnnnnn"}, {"NO", "nnnnnnnnnnn"},
	{"IE", "aaaannnnnnnnnnnnnn"}, {"PT", "nnnnnnnnnnnnnnnnnnnnn"}, {"DK", "nnnnnnnnnnnnnn"},
	{"FI", "nnnnnnnnnnnnnn"}, {"LU", "nnnnnnnnnnnnnnnn"}, {"MT", "aaaannnnnnnnnnnnnnnnnnnnnnn"},
}

func ibanCheck(cc, bban string) string {
	rem := 0
	for _, c := range bban + cc + "00" {
		if c >= 'A' && c <= 'Z' {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return fmt.Sprintf("%02d", 98-rem)
}

func iban() string {
	sh := pick(ibanShapes)
	b := make([]byte, len(sh.shape))
	for i, c := range sh.shape {
		switch c {
		case 'n':
			b[i] = byte('0' + r.IntN(10))
		case 'a':
			b[i] = byte('A' + r.IntN(26))
		}
	}
	s := sh.cc + ibanCheck(sh.cc, string(b)) + string(b)
	if r.IntN(3) == 0 {
		return s
	}
	return group(s, []int{4, 4, 4, 4, 4, 4, 4, 4}, " ")
}

func ssn() string {
	area := 1 + r.IntN(899)
	if area == 666 {
		area = 667
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+r.IntN(99), 1+r.IntN(9999))
}

func ssnPlain() string  { return strings.ReplaceAll(ssn(), "-", "") }
func ssnSpaced() string { return strings.ReplaceAll(ssn(), "-", " ") }

func ipv4() string {
	return fmt.Sprintf("%d.%d.%d.%d", pick([]int{81, 93, 104, 172, 185, 192, 203, 46, 66, 10}), r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

func ipv6() string {
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("2001:db8:%x:%x::%x", r.IntN(65536), r.IntN(65536), 1+r.IntN(65535))
	case 1:
		return fmt.Sprintf("2a02:%x:%x:%x:%x:%x:%x:%x", r.IntN(65536), r.IntN(65536), r.IntN(65536), r.IntN(65536), r.IntN(65536), r.IntN(65536), r.IntN(65536))
	}
	return fmt.Sprintf("fe80::%x:%x:%x:%x", r.IntN(65536), r.IntN(65536), r.IntN(65536), r.IntN(65536))
}

var monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

func dob() string {
	y, m, d := 1940+r.IntN(66), 1+r.IntN(12), 1+r.IntN(28)
	switch r.IntN(7) {
	case 0:
		return fmt.Sprintf("%02d/%02d/%d", m, d, y)
	case 1:
		return fmt.Sprintf("%d-%02d-%02d", y, m, d)
	case 2:
		return fmt.Sprintf("%02d.%02d.%d", d, m, y)
	case 3:
		return fmt.Sprintf("%s %d, %d", monthNames[m-1], d, y)
	case 4:
		return fmt.Sprintf("%d %s %d", d, monthNames[m-1], y)
	case 5:
		return fmt.Sprintf("%s %d %d", monthNames[m-1][:3], d, y)
	}
	return fmt.Sprintf("%d/%d/%d", m, d, y)
}

// Non-identifiers.

func orderNo() string {
	switch r.IntN(6) {
	case 0:
		return "#" + digits(7)
	case 1:
		return fmt.Sprintf("ORD-%d-%s", 2023+r.IntN(3), digits(6))
	case 2:
		return fmt.Sprintf("%d-%s-%s", 100+r.IntN(900), digits(7), digits(7))
	case 3:
		return "#" + strings.ToUpper(fmt.Sprintf("%c%c%s", 'A'+r.IntN(26), 'A'+r.IntN(26), digits(6)))
	case 4:
		return digits(8)
	}
	return pick([]string{"2", "3", "4", "5", "6", "7", "8", "9"}) + digits(9)
}

func tracking() string {
	switch r.IntN(5) {
	case 0:
		return "1Z" + strings.ToUpper(fmt.Sprintf("%03X%02X", r.IntN(4096), r.IntN(256))) + digits(11)
	case 1:
		return "9400 " + group(digits(18), []int{4, 4, 4, 4, 2}, " ")
	case 2:
		return "7" + digits(11)
	case 3:
		return "JD" + digits(18)
	}
	return fmt.Sprintf("%s%sGB", strings.ToUpper(string(rune('A'+r.IntN(26)))+string(rune('A'+r.IntN(26)))), digits(9))
}

func price() string {
	switch r.IntN(6) {
	case 0:
		return fmt.Sprintf("$%d.%02d", 1+r.IntN(300), r.IntN(100))
	case 1:
		return fmt.Sprintf("$%d,%03d.%02d", 1+r.IntN(9), r.IntN(1000), r.IntN(100))
	case 2:
		return fmt.Sprintf("€%d,%02d", 1+r.IntN(500), r.IntN(100))
	case 3:
		return fmt.Sprintf("£%d.%02d", 1+r.IntN(500), r.IntN(100))
	case 4:
		return fmt.Sprintf("%d.%02d USD", 1+r.IntN(3000), r.IntN(100))
	}
	return fmt.Sprintf("%d %03d,%02d kr", 1+r.IntN(20), r.IntN(1000), r.IntN(100))
}

func date() string {
	y, m, d := 2024+r.IntN(3), 1+r.IntN(12), 1+r.IntN(28)
	switch r.IntN(6) {
	case 0:
		return fmt.Sprintf("%02d/%02d/%d", m, d, y)
	case 1:
		return fmt.Sprintf("%d-%02d-%02d", y, m, d)
	case 2:
		return fmt.Sprintf("%02d.%02d.%d", d, m, y)
	case 3:
		return fmt.Sprintf("%s %d", monthNames[m-1], d)
	case 4:
		return fmt.Sprintf("%d/%d", m, d)
	}
	return fmt.Sprintf("%s %d, %d", monthNames[m-1][:3], d, y)
}

func clock() string {
	switch r.IntN(4) {
	case 0:
		return fmt.Sprintf("%d:%02d", r.IntN(24), r.IntN(60))
	case 1:
		return fmt.Sprintf("%d:%02d pm", 1+r.IntN(12), r.IntN(60))
	case 2:
		return fmt.Sprintf("%d:%02d:%02d", r.IntN(24), r.IntN(60), r.IntN(60))
	}
	return fmt.Sprintf("%d.%02dam", 1+r.IntN(12), r.IntN(60))
}

func ticket() string {
	switch r.IntN(3) {
	case 0:
		return "CS-" + digits(6)
	case 1:
		return digits(6)
	}
	return "INC" + digits(7)
}

var fillers = map[string]func() string{
	"order": orderNo, "tracking": tracking, "price": price, "date": date, "time": clock, "ticket": ticket,
	"qty":     func() string { return strconv.Itoa(1 + r.IntN(12)) },
	"zip":     func() string { return digits(5) },
	"name":    func() string { f := pick(first); return strings.ToUpper(f[:1]) + f[1:] },
	"version": func() string { return fmt.Sprintf("%d.%d.%d", 1+r.IntN(9), r.IntN(20), r.IntN(50)) },
	"sku":     func() string { return fmt.Sprintf("SKU-%s-%s", digits(4), digits(3)) },
	"minutes": func() string { return strconv.Itoa(5 + r.IntN(55)) },
}

var labelled = map[string]func() string{
	"card": func() string { return formatCard(cardNumber()) }, "email": email,
	"phone": phoneNational, "phone_intl": phoneIntl, "iban": iban, "ssn": ssn,
	"ssn_plain": ssnPlain, "ssn_spaced": ssnSpaced, "ipv4": ipv4, "ipv6": ipv6, "dob": dob,
}

func kindOf(p string) string {
	switch p {
	case "phone_intl":
		return "phone"
	case "ssn_plain", "ssn_spaced":
		return "ssn"
	case "ipv4", "ipv6":
		return "ip"
	}
	return p
}

// expand fills {placeholder}s: labelled ones become [[kind:value]].
func expand(tpl string) string {
	return fillTemplate(tpl, func(name string) string {
		if f, ok := labelled[name]; ok {
			return "[[" + kindOf(name) + ":" + f() + "]]"
		}
		if f, ok := fillers[name]; ok {
			return f()
		}
		panic("unknown placeholder " + name)
	})
}

// fillTemplate replaces each {name} in tpl with fill(name), left to right.
func fillTemplate(tpl string, fill func(name string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		j := strings.IndexByte(tpl[i:], '}') + i
		b.WriteString(tpl[:i])
		b.WriteString(fill(tpl[i+1 : j]))
		tpl = tpl[j+1:]
	}
}

// parse turns [[kind:value]] markup into text and labels.
func parse(s string) (string, []label) {
	var b strings.Builder
	var ls []label
	for {
		i := strings.Index(s, "[[")
		if i < 0 {
			b.WriteString(s)
			return b.String(), ls
		}
		j := strings.Index(s[i:], "]]") + i
		b.WriteString(s[:i])
		kind, val, ok := strings.Cut(s[i+2:j], ":")
		if !ok {
			panic("bad markup " + s)
		}
		st := b.Len()
		b.WriteString(val)
		ls = append(ls, label{Kind: kind, Start: st, End: b.Len()})
		s = s[j+2:]
	}
}

func main() {
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Dir(self)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if len(os.Args) > 1 {
		var recs []intlRecord
		switch os.Args[1] {
		case "intl":
			recs = intlCorpus(readLines(filepath.Join(dir, "intl_templates.txt")), readLines(filepath.Join(dir, "intl_handwritten.txt")), 20261207, false, 640)
		case "heldout":
			recs = intlCorpus(readLines(filepath.Join(dir, "heldout_templates.txt")), readLines(filepath.Join(dir, "heldout_handwritten.txt")), 77120612, true, 320)
		case "heldout2":
			recs = intlCorpus(readLines(filepath.Join(dir, "heldout2_templates.txt")), nil, 5150812, true, 240)
		default:
			panic("unknown corpus " + os.Args[1])
		}
		for _, rec := range recs {
			if err := enc.Encode(rec); err != nil {
				panic(err)
			}
		}
		return
	}
	tpls := readLines(filepath.Join(dir, "templates.txt"))
	hand := readLines(filepath.Join(dir, "handwritten.txt"))
	id := 0
	emit := func(markup string) {
		text, ls := parse(markup)
		if ls == nil {
			ls = []label{}
		}
		id++
		if err := enc.Encode(record{ID: id, Text: text, Labels: ls}); err != nil {
			panic(err)
		}
	}
	for _, h := range hand {
		emit(h)
	}
	for range 560 {
		emit(expand(pick(tpls)))
	}
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "//") {
			continue
		}
		out = append(out, strings.ReplaceAll(l, `\n`, "\n"))
	}
	return out
}
