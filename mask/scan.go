package mask

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Kinds of identifiers the scanner reports.
const (
	KindCard  = "card"
	KindEmail = "email"
	KindPhone = "phone"
	KindIBAN  = "iban"
	KindSSN   = "ssn"
	KindIP    = "ip"
	KindDOB   = "dob"
)

// AllKinds lists every kind [Scan] can report.
var AllKinds = []string{KindCard, KindEmail, KindPhone, KindIBAN, KindSSN, KindIP, KindDOB}

// Finding is one identifier found in free text. It holds a byte span into
// the scanned text, never a copy of the value, so a Finding is safe to log.
type Finding struct {
	Kind       string  // one of the Kind constants
	Start, End int     // byte offsets into the text: text[Start:End]
	Confidence float64 // 0..1; how sure the scanner is
}

// String prints the kind and span, never the value.
func (f Finding) String() string {
	return f.Kind + "[" + strconv.Itoa(f.Start) + ":" + strconv.Itoa(f.End) + "]"
}

// ScanOptions tunes [Scan]. The zero value (and nil) mean defaults.
type ScanOptions struct {
	// Regions are the regions tried, in order, for phone numbers written
	// without a country calling code. Default ["US"].
	Regions []string
	// Kinds restricts the kinds reported; empty means all.
	Kinds []string
	// MinConfidence drops findings below it. Default 0.5.
	MinConfidence float64
}

var defaultRegions = []string{"US"}

type scanner struct {
	text     string
	regions  []string
	want     uint8 // bit set of kinds
	minConf  float64
	findings []Finding

	ctx   wordContext // memo of context(ctxAt)
	ctxAt int
	ctxOK bool
}

const (
	bitCard uint8 = 1 << iota
	bitEmail
	bitPhone
	bitIBAN
	bitSSN
	bitIP
	bitDOB
)

func kindBit(k string) uint8 {
	switch k {
	case KindCard:
		return bitCard
	case KindEmail:
		return bitEmail
	case KindPhone:
		return bitPhone
	case KindIBAN:
		return bitIBAN
	case KindSSN:
		return bitSSN
	case KindIP:
		return bitIP
	case KindDOB:
		return bitDOB
	}
	return 0
}

// Byte classes for the single pass.
const (
	clDigit = 1 << iota
	clUpper
	clLower
	clLocal // allowed in the local part of an e-mail address
	clHex
)

var class [256]uint8

func init() {
	for c := '0'; c <= '9'; c++ {
		class[c] |= clDigit | clLocal | clHex
	}
	for c := 'A'; c <= 'Z'; c++ {
		class[c] |= clUpper | clLocal
	}
	for c := 'a'; c <= 'z'; c++ {
		class[c] |= clLower | clLocal
	}
	for c := 'a'; c <= 'f'; c++ {
		class[c] |= clHex
	}
	for c := 'A'; c <= 'F'; c++ {
		class[c] |= clHex
	}
	for _, c := range "._%+-'" {
		class[c] |= clLocal
	}
}

func isAlnum(c byte) bool  { return class[c]&(clDigit|clUpper|clLower) != 0 }
func isLetter(c byte) bool { return class[c]&(clUpper|clLower) != 0 || c >= 0x80 }

// Scan finds identifiers in text: payment card numbers, e-mail addresses,
// phone numbers, IBANs, US social security numbers, IP addresses and dates
// of birth. Findings are sorted by Start and do not overlap. opts may be
// nil.
//
// The scan is one pass over the bytes that notes candidates (digit runs,
// '@', ':' inside hex runs, two letters followed by two digits, words that
// announce a date of birth); only candidates reach the validators (Luhn,
// mod 97, phonenumbers, net/netip).
func Scan(text string, opts *ScanOptions) []Finding {
	s := scanner{text: text, regions: defaultRegions, want: 0xff, minConf: 0.5}
	if opts != nil {
		if len(opts.Regions) > 0 {
			s.regions = opts.Regions
		}
		if len(opts.Kinds) > 0 {
			s.want = 0
			for _, k := range opts.Kinds {
				s.want |= kindBit(k)
			}
		}
		if opts.MinConfidence > 0 {
			s.minConf = opts.MinConfidence
		}
	}
	s.run()
	return s.resolve()
}

func (s *scanner) add(kind string, start, end int, conf float64) {
	if conf < s.minConf || s.want&kindBit(kind) == 0 {
		return
	}
	s.findings = append(s.findings, Finding{Kind: kind, Start: start, End: end, Confidence: conf})
}

func (s *scanner) run() {
	t := s.text
	n := len(t)
	for i := 0; i < n; {
		c := t[i]
		cl := class[c]
		switch {
		case cl&clDigit != 0:
			if i > 0 && isAlnum(t[i-1]) || i > 1 && (t[i-1] == '-' || t[i-1] == '_' || t[i-1] == '/') && isAlnum(t[i-2]) {
				// Inside a word or an identifier such as "ORD-2024-1234":
				// skip the rest of the token.
				i = s.skipToken(i)
				continue
			}
			i = s.digitRun(i)
			continue
		case c == '@':
			s.email(i)
		case c == ':':
			if s.want&bitIP != 0 {
				s.ipv6(i)
			}
		case cl&(clUpper|clLower) != 0:
			if i == 0 || !isAlnum(t[i-1]) {
				if i+3 < n && class[t[i+2]]&clDigit != 0 && class[t[i+3]]&clDigit != 0 && class[t[i+1]]&(clUpper|clLower) != 0 {
					if end := s.iban(i); end > 0 {
						i = end
						continue
					}
				}
				if (c|0x20 == 'b' || c|0x20 == 'd') && s.want&bitDOB != 0 {
					s.dobKeyword(i)
				}
			}
			i = skipAlnum(t, i)
			continue
		}
		i++
	}
}

// skipToken skips digits, letters and the '-', '_', '/' and '.' joining
// them.
func (s *scanner) skipToken(i int) int {
	t := s.text
	for i < len(t) {
		if isAlnum(t[i]) {
			i++
			continue
		}
		if (t[i] == '-' || t[i] == '_' || t[i] == '/' || t[i] == '.') && i+1 < len(t) && isAlnum(t[i+1]) {
			i++
			continue
		}
		break
	}
	return i
}

func skipAlnum(t string, i int) int {
	for i < len(t) && isAlnum(t[i]) {
		i++
	}
	return i
}

// digitRun reads a run of digits joined by single separators (space, '-',
// '.', parentheses), starting at a digit at i, with a '+' or '(' right
// before it included, classifies it and returns where scanning resumes.
func (s *scanner) digitRun(i int) int {
	t := s.text
	start := i
	if start > 0 && (t[start-1] == '+' || t[start-1] == '(') {
		start--
		if start > 0 && t[start] == '(' && t[start-1] == '+' {
			start--
		}
	}
	var groups [24]int // start offsets of digit groups, then end offsets
	var gends [24]int
	ng := 0
	digits := 0
	j := i
	seps := uint8(0) // bit set of separator bytes seen
	const (
		sepSpace = 1 << iota
		sepDash
		sepDot
		sepParen
	)
	for {
		gs := j
		for j < len(t) && class[t[j]]&clDigit != 0 {
			j++
		}
		digits += j - gs
		if ng < len(groups) {
			groups[ng], gends[ng] = gs, j
		}
		ng++
		// Separators: at most two bytes (three with a parenthesis), then a digit.
		k := j
		var sb uint8
		for k < len(t) && k-j < 3 {
			switch t[k] {
			case ' ':
				sb |= sepSpace
			case '-':
				sb |= sepDash
			case '.':
				sb |= sepDot
			case '(', ')':
				sb |= sepParen
			default:
				goto done
			}
			k++
		}
	done:
		if k == j || k >= len(t) || class[t[k]]&clDigit == 0 || (k-j > 1 && sb&sepParen == 0 && !(k-j == 3 && t[j] == ' ' && t[j+2] == ' ')) {
			break
		}
		if digits > 40 {
			break
		}
		seps |= sb
		j = k
	}
	end := j // one past the last digit
	next := end
	if end < len(t) && isLetter(t[end]) {
		// Digits glued to letters ("12kg", "A1234B") are not identifiers;
		// but a run ending in a word after a space was already cut.
		return skipAlnum(t, end)
	}
	if end < len(t) && t[end] == '@' {
		// Local part of an e-mail address: the '@' handler takes it.
		return next
	}
	if ng > len(groups) {
		return next
	}
	s.classify(start, i, end, groups[:ng], gends[:ng], digits, seps)
	return next
}

func (s *scanner) classify(start, first, end int, gs, ge []int, digits int, seps uint8) {
	t := s.text
	plus := t[start] == '+' || (t[start] == '(' && start+1 < len(t) && t[start+1] == '+')
	const (
		sepSpace = 1 << iota
		sepDash
		sepDot
		sepParen
	)
	// IPv4: four dotted groups of at most three digits.
	if len(gs) == 4 && seps == sepDot && !plus {
		if s.want&bitIP != 0 && s.context(first)[catVersion] < 0 {
			if a, err := netip.ParseAddr(t[first:end]); err == nil && a.Is4() {
				s.add(KindIP, first, end, 0.95)
			}
		}
		return
	}
	// Dates (2024-05-12, 12.05.2024, 12-05-24) are handled by the DOB
	// pass; never phones or cards.
	if looksLikeDate(t, gs, ge) {
		return
	}
	if !plus && seps&(sepDot|sepParen) == 0 && digits >= 12 && s.want&bitCard != 0 {
		if s.card(gs, ge) {
			return
		}
	}
	if digits == 9 && !plus && s.want&bitSSN != 0 {
		if s.ssn(first, end, gs, ge, seps) {
			return
		}
	}
	if digits >= 7 && digits <= 15 && s.want&bitPhone != 0 {
		s.phone(start, first, end, digits, seps, plus, len(gs))
	}
}

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
			if d >= 12 && luhnSpan(t[gs[a]:ge[b]]) && cardPrefix(t[gs[a]:ge[b]], d) {
				best = b
			}
		}
		if best >= 0 {
			conf := 0.9
			if best > a {
				conf = 0.97
			}
			if cx := s.context(gs[a]); cx[catNonCard] > cx[catCard] {
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

func luhnSpan(s string) bool {
	sum, dbl := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if dbl {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		dbl = !dbl
	}
	return sum%10 == 0
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

// phone validates a phone candidate with phonenumbers. Plain digit runs
// without a '+', separators or context are left alone: they are far more
// often order numbers and account ids than phone numbers.
func (s *scanner) phone(start, first, end, digits int, seps uint8, plus bool, groups int) {
	cx := s.context(start)
	pos := cx[catPhone]
	if np := cx[catNonPhone]; np > pos && s.adjacent(np, start) {
		return
	}
	ctx := pos >= 0 || cx[catNumber] >= 0
	if !plus && groups == 1 && !ctx {
		return
	}
	if !plus && s.text[first] == '0' && digits < 9 && !ctx {
		return
	}
	conf := 0.8
	if ctx {
		conf = 0.95
	}
	if plus {
		conf += 0.04
	}
	if validPhone(s.text[start:end], plus, s.regions) {
		s.add(KindPhone, start, end, conf)
	}
}

var supportedCC = phonenumbers.GetSupportedCallingCodes()

// validPhone validates a candidate. Numbers with a '+' and NANP national
// numbers are checked against the metadata directly (phonenumbers.Parse
// costs several regular expressions per call); other national numbers go
// through Parse with each region hint.
func validPhone(cand string, plus bool, regions []string) bool {
	var d [24]byte
	n := 0
	for i := 0; i < len(cand); i++ {
		c := cand[i]
		if c >= '0' && c <= '9' {
			if plus && c == '0' && i > 0 && cand[i-1] == '(' && i+1 < len(cand) && cand[i+1] == ')' {
				continue // "+44 (0)20 …": the trunk prefix is not dialled
			}
			if n == len(d) {
				return false
			}
			d[n] = c
			n++
		}
	}
	if plus {
		for l := 1; l <= 3 && l < n; l++ {
			cc := atoi(d[:l])
			if supportedCC[cc] {
				return metadataValid(cc, d[l:n])
			}
		}
		return false
	}
	for _, r := range regions {
		if r == "US" || r == "CA" {
			nsn := d[:n]
			if n == 11 && d[0] == '1' {
				nsn = d[1:n]
			}
			if len(nsn) != 10 || nsn[0] < '2' || nsn[3] < '2' {
				continue
			}
			if metadataValid(1, nsn) {
				return true
			}
			continue
		}
		if num, err := phonenumbers.Parse(cand, r); err == nil && phonenumbers.IsValidNumber(num) {
			return true
		}
	}
	return false
}

func metadataValid(cc int, nsn []byte) bool {
	if len(nsn) < 4 || len(nsn) > 14 {
		return false
	}
	zeros := int32(0)
	for zeros < int32(len(nsn))-1 && nsn[zeros] == '0' {
		zeros++
	}
	// The main region of the calling code first, with precompiled
	// patterns; then, for shared codes (+1 has 25 regions), every region
	// through phonenumbers.
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	if len(regions) == 0 {
		return false
	}
	if valid, ok := validFor(regions[0], string(nsn)); ok && (valid || len(regions) == 1) {
		return valid
	}
	c32 := int32(cc)
	nn := uint64(0)
	for _, c := range nsn {
		nn = nn*10 + uint64(c-'0')
	}
	num := &phonenumbers.PhoneNumber{CountryCode: &c32, NationalNumber: &nn}
	if zeros > 0 {
		t := true
		num.ItalianLeadingZero = &t
		num.NumberOfLeadingZeros = &zeros
	}
	return phonenumbers.IsValidNumber(num)
}

func atoi(b []byte) int {
	x := 0
	for _, c := range b {
		x = x*10 + int(c-'0')
	}
	return x
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
	if !ibanValid(buf[:k]) {
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

// ibanValid checks the ISO 13616 mod-97 checksum of a compact,
// upper-case IBAN.
func ibanValid(b []byte) bool {
	rem := 0
	step := func(c byte) bool {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		default:
			return false
		}
		return true
	}
	for _, c := range b[4:] {
		if !step(c) {
			return false
		}
	}
	for _, c := range b[:4] {
		if !step(c) {
			return false
		}
	}
	return rem == 1
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

// Context words, matched case-insensitively as whole-word prefixes in the
// 32 bytes before a candidate.
var (
	numberWords   = []string{"number", "num", "no", "nr", "#"}
	phoneWords    = []string{"call", "phone", "telephone", "tel", "mobile", "cell", "reach", "text", "whatsapp", "sms", "fax", "contact", "ring", "dial", "landline", "ph"}
	nonPhoneWords = []string{"order", "tracking", "track", "invoice", "ref", "reference", "ticket", "case", "account", "acct", "id", "po", "sku", "serial", "confirmation", "booking", "receipt", "claim", "transaction", "txn", "rma", "item", "parcel", "shipment", "awb", "member", "loyalty"}
	nonCardWords  = []string{"order", "tracking", "track", "invoice", "ref", "reference", "ticket", "case", "id", "sku", "serial", "confirmation", "booking", "receipt", "claim", "transaction", "txn", "rma", "parcel", "shipment", "awb", "imei"}
	cardWords     = []string{"card", "visa", "mastercard", "amex", "pan", "credit", "debit", "cc"}
	ssnWords      = []string{"ssn", "social", "ss#", "tin", "taxpayer", "itin"}
	versionWords  = []string{"version", "v", "ver", "build", "release", "firmware", "update"}
	dobWords      = []string{"dob", "d.o.b", "born", "birth", "birthday", "birthdate", "bday", "b-day"}
)

// Context categories.
const (
	catPhone = iota
	catNonPhone
	catNumber
	catCard
	catNonCard
	catSSN
	catVersion
	numCats
)

type ctxWord struct {
	word string // lower case
	cat  uint8
}

// ctxIndex holds the context words by first byte.
var ctxIndex = func() (idx [256][]ctxWord) {
	for cat, words := range [numCats][]string{catPhone: phoneWords, catNonPhone: nonPhoneWords, catNumber: numberWords,
		catCard: cardWords, catNonCard: nonCardWords, catSSN: ssnWords, catVersion: versionWords} {
		for _, w := range words {
			idx[w[0]] = append(idx[w[0]], ctxWord{w, uint8(cat)})
		}
	}
	return idx
}()

// wordContext holds, per category, the offset of the last context word in the
// 32 bytes before a candidate (and after the last line break), or -1.
// Words of four letters or more also match as prefixes ("ordered",
// "phones").
type wordContext [numCats]int

func (s *scanner) context(i int) *wordContext {
	if s.ctxAt == i && s.ctxOK {
		return &s.ctx
	}
	s.ctxAt, s.ctxOK = i, true
	for k := range s.ctx {
		s.ctx[k] = -1
	}
	t := s.text
	lo := max(0, i-32)
	if k := strings.LastIndexByte(t[lo:i], '\n'); k >= 0 {
		lo += k + 1
	}
	for w := lo; w < i; w++ {
		if w > 0 && isLetter(t[w-1]) {
			continue
		}
		c := t[w]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		for _, cw := range ctxIndex[c] {
			n := len(cw.word)
			if i-w < n || !hasPrefixFold(t[w:i], cw.word) {
				continue
			}
			if e := w + n; e == i || !isLetter(t[e]) || n >= 4 {
				s.ctx[cw.cat] = w
			}
		}
	}
	return &s.ctx
}

// hasPrefixFold reports whether s starts with the lower-case ASCII word,
// ignoring case.
func hasPrefixFold(s, word string) bool {
	for k := 0; k < len(word); k++ {
		c := s[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[k] {
			return false
		}
	}
	return true
}

// adjacent reports whether the word at w is followed, up to i, only by
// spaces, punctuation and filler words ("order number is 1234").
func (s *scanner) adjacent(w, i int) bool {
	t := s.text
	for w < i && isLetter(t[w]) {
		w++
	}
	for w < i {
		c := t[w]
		switch {
		case c == ' ' || c == '#' || c == ':' || c == '.' || c == '-' || c == '(' || c == '\t':
			w++
		case isLetter(c):
			e := w
			for e < i && isLetter(t[e]) {
				e++
			}
			switch strings.ToLower(t[w:e]) {
			case "number", "no", "num", "nr", "is", "id", "ref", "was", "code":
			default:
				return false
			}
			w = e
		default:
			return false
		}
	}
	return true
}

var months = []string{"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"}

// dobKeyword checks for a date-of-birth keyword at i and, if there is one,
// looks for a date in the 40 bytes after it.
func (s *scanner) dobKeyword(i int) {
	t := s.text
	kw := ""
	for _, w := range dobWords {
		if len(t)-i >= len(w) && strings.EqualFold(t[i:i+len(w)], w) {
			kw = w
		}
	}
	if kw == "" {
		return
	}
	lo := i + len(kw)
	hi := min(len(t), lo+48)
	for j := lo; j < hi; j++ {
		c := t[j]
		if c == '\n' {
			return
		}
		if class[c]&clDigit != 0 || (class[c]&(clUpper|clLower) != 0 && (j == 0 || !isAlnum(t[j-1]))) {
			if start, end, ok := parseDate(t, j); ok {
				s.add(KindDOB, start, end, 0.95)
				return
			}
		}
	}
}

// parseDate recognises a full date (with a year) starting at i: numeric
// (1985-03-14, 03/14/1985, 14.03.1985, 3/14/85) or with an English month
// name (March 14, 1985; 14 March 1985; 14th of March 1985; Mar 14 1985).
func parseDate(t string, i int) (start, end int, ok bool) {
	if class[t[i]]&clDigit != 0 {
		if i > 0 && isAlnum(t[i-1]) {
			return 0, 0, false
		}
		// Numeric forms.
		var nums [3]int
		var lens [3]int
		j := i
		var sep byte
		for k := 0; k < 3; k++ {
			st := j
			for j < len(t) && class[t[j]]&clDigit != 0 && j-st < 5 {
				j++
			}
			lens[k] = j - st
			if lens[k] == 0 {
				break
			}
			nums[k], _ = strconv.Atoi(t[st:j])
			if k < 2 {
				if j >= len(t) || (t[j] != '/' && t[j] != '-' && t[j] != '.') || (sep != 0 && t[j] != sep) {
					break
				}
				sep = t[j]
				j++
			}
			if k == 2 {
				if j < len(t) && isAlnum(t[j]) {
					return 0, 0, false
				}
				y, m, d := 0, 0, 0
				switch {
				case lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2:
					y, m, d = nums[0], nums[1], nums[2]
				case lens[0] <= 2 && lens[1] <= 2 && (lens[2] == 4 || lens[2] == 2):
					y = nums[2]
					if lens[2] == 2 {
						y += 1900
					}
					m, d = nums[0], nums[1]
					if m > 12 {
						m, d = d, m
					}
				default:
					return 0, 0, false
				}
				if validDate(y, m, d) {
					return i, j, true
				}
				return 0, 0, false
			}
		}
		// "14 March 1985", "14th of March, 1985"
		j = i
		for j < len(t) && class[t[j]]&clDigit != 0 {
			j++
		}
		if j-i > 2 {
			return 0, 0, false
		}
		d, _ := strconv.Atoi(t[i:j])
		j = skipOrdinal(t, j)
		j = skipSpaces(t, j)
		if strings.HasPrefix(strings.ToLower(t[j:min(len(t), j+3)]), "of ") {
			j = skipSpaces(t, j+3)
		}
		m, e := monthAt(t, j)
		if m == 0 {
			return 0, 0, false
		}
		j = skipSpaces(t, skipComma(t, e))
		y, e2 := yearAt(t, j)
		if y == 0 || !validDate(y, m, d) {
			return 0, 0, false
		}
		return i, e2, true
	}
	// "March 14, 1985", "Mar 14th 1985"
	m, e := monthAt(t, i)
	if m == 0 {
		return 0, 0, false
	}
	j := skipSpaces(t, e)
	k := j
	for k < len(t) && class[t[k]]&clDigit != 0 {
		k++
	}
	if k == j || k-j > 2 {
		return 0, 0, false
	}
	d, _ := strconv.Atoi(t[j:k])
	k = skipSpaces(t, skipComma(t, skipOrdinal(t, k)))
	y, e2 := yearAt(t, k)
	if y == 0 || !validDate(y, m, d) {
		return 0, 0, false
	}
	return i, e2, true
}

func validDate(y, m, d int) bool {
	// A date of birth is at least twelve years old: "birthday gift
	// arriving 12/05/2025" is a delivery date.
	if y < 1900 || y > time.Now().Year()-12 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func monthAt(t string, i int) (int, int) {
	j := i
	for j < len(t) && class[t[j]]&(clUpper|clLower) != 0 {
		j++
	}
	w := strings.ToLower(t[i:j])
	if len(w) < 3 {
		return 0, 0
	}
	for k, m := range months {
		if w == m || (len(w) == 3 && m[:3] == w) || (w == "sept" && k == 8) {
			e := j
			if e < len(t) && t[e] == '.' {
				e++
			}
			return k + 1, e
		}
	}
	return 0, 0
}

func yearAt(t string, i int) (int, int) {
	j := i
	for j < len(t) && class[t[j]]&clDigit != 0 {
		j++
	}
	if j-i != 4 || (j < len(t) && isAlnum(t[j])) {
		return 0, 0
	}
	y, _ := strconv.Atoi(t[i:j])
	return y, j
}

func skipSpaces(t string, i int) int {
	for i < len(t) && t[i] == ' ' {
		i++
	}
	return i
}

func skipComma(t string, i int) int {
	if i < len(t) && t[i] == ',' {
		return i + 1
	}
	return i
}

func skipOrdinal(t string, i int) int {
	if i+2 <= len(t) {
		switch strings.ToLower(t[i : i+2]) {
		case "st", "nd", "rd", "th":
			if i+2 == len(t) || !isAlnum(t[i+2]) {
				return i + 2
			}
		}
	}
	return i
}

// priority breaks ties between overlapping findings of equal length.
func priority(kind string) int {
	switch kind {
	case KindEmail:
		return 7
	case KindIBAN:
		return 6
	case KindCard:
		return 5
	case KindDOB:
		return 4
	case KindSSN:
		return 3
	case KindIP:
		return 2
	}
	return 1
}

// resolve sorts findings and drops those overlapping a longer (or, at
// equal length, higher-priority) one.
func (s *scanner) resolve() []Finding {
	f := s.findings
	if len(f) < 2 {
		return f
	}
	slices.SortFunc(f, func(a, b Finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return (b.End - b.Start) - (a.End - a.Start)
	})
	out := f[:0]
	for _, x := range f {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if x.Start < last.End {
				if better(x, *last) {
					*last = x
				}
				continue
			}
		}
		out = append(out, x)
	}
	return out
}

func better(a, b Finding) bool {
	la, lb := a.End-a.Start, b.End-b.Start
	if la != lb {
		return la > lb
	}
	return priority(a.Kind) > priority(b.Kind)
}
