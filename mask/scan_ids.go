package mask

// National identifiers: the layouts people type, the schemes' own rules
// (dates, reserved prefixes) and their check digits (internal/checkdigit).
//
// How much evidence a candidate needs depends on how much its layout says
// by itself. A distinctive layout with a strong check (a DNI's eight digits
// and check letter, a CPF's 123.456.789-09, a NIR spaced 1 85 05 78 006 084
// 36) is reported anywhere. Nine to twelve bare digits with a one-in-ten
// check (BSN, SIN, TFN, Aadhaar, PESEL, Steuer-IdNr) are reported only in
// their own region (the hint) or after a word that announces an identifier
// ("BSN", "Steuer-ID", "codice fiscale"); a word that announces an order,
// invoice, tracking or company number right before it vetoes it.

import (
	"slices"
	"time"

	"github.com/fieldguard/pii/internal/checkdigit"
)

// idEvidence is what the text around a candidate says.
type idEvidence struct {
	ctx bool // an identifier word of this scheme (or of any) is near before it
	neg bool // an order, invoice, tracking … word is adjacent before it
}

// idEvidence reads the words before a candidate of region's scheme
// ("BSN" is Dutch; "identity number" any).
func (s *scanner) idEvidence(start int, region string) idEvidence {
	cx := s.context(start)
	var e idEvidence
	id := cx[catID]
	if id >= 0 && s.near(id, start) && (s.ctxIDRegion == "" || s.ctxIDRegion == region) {
		e.ctx = true
	}
	if np := cx[catNonPhone]; np > id && s.adjacent(np, start) {
		e.neg = true
	}
	return e
}

func (s *scanner) inRegion(r string) bool { return slices.Contains(s.regions, r) }

// Layout strength of a national identifier candidate.
const (
	layoutPlain    = iota // bare digits: needs the region or a context word
	layoutRegional        // the scheme's usual grouping: needs the region or a context word
	layoutStrong          // distinctive: reported anywhere
)

// addID reports a national identifier of the given layout strength and
// region. It returns whether it did.
func (s *scanner) addID(kind Kind, start, end, layout int, region string) bool {
	e := s.idEvidence(start, region)
	if e.neg && !e.ctx {
		return false
	}
	var conf float64
	switch {
	case e.ctx:
		conf = 0.97
	case layout == layoutStrong:
		conf = 0.9
	case s.inRegion(region):
		conf = 0.85
		if layout == layoutPlain {
			conf = 0.7
		}
	default:
		return false
	}
	s.add(kind, start, end, conf)
	return true
}

// groupsAre reports whether the digit groups have exactly these sizes.
func groupsAre(gs, ge []int, sizes ...int) bool {
	if len(gs) != len(sizes) {
		return false
	}
	for i, n := range sizes {
		if ge[i]-gs[i] != n {
			return false
		}
	}
	return true
}

// sepsAre reports whether the separators between groups are exactly seps.
func sepsAre(t string, gs, ge []int, seps ...string) bool {
	if len(gs) != len(seps)+1 {
		return false
	}
	for i, sep := range seps {
		if t[ge[i]:gs[i+1]] != sep {
			return false
		}
	}
	return true
}

// uniformSep reports whether every separator between groups is sep.
func uniformSep(t string, gs, ge []int, sep string) bool {
	for i := 1; i < len(gs); i++ {
		if t[ge[i-1]:gs[i]] != sep {
			return false
		}
	}
	return true
}

// nationalDigits tries the digit-only national identifiers on a digit run
// (compact digits d); it returns whether one was reported.
func (s *scanner) nationalDigits(first, end int, gs, ge []int, d string) bool {
	t := s.text
	spaced := uniformSep(t, gs, ge, " ")
	dashed := uniformSep(t, gs, ge, "-")
	switch len(d) {
	case 15: // FR NIR: 1 85 05 78 006 084 36
		if checkdigit.NIR(d) && nirFields(d) {
			layout := layoutPlain
			switch {
			case groupsAre(gs, ge, 1, 2, 2, 2, 3, 3, 2) && spaced:
				layout = layoutStrong
			case groupsAre(gs, ge, 13, 2):
				layout = layoutRegional
			case len(gs) != 1:
				return false
			}
			return s.addID(KindNationalID, first, end, layout, "FR")
		}
	case 12:
		// SE personnummer with the century: 19850709-9805.
		if pnrDate(d[:8]) && checkdigit.LuhnText(d[2:]) {
			switch {
			case groupsAre(gs, ge, 8, 4) && dashed:
				return s.addID(KindNationalID, first, end, layoutStrong, "SE")
			case len(gs) == 1:
				if s.addID(KindNationalID, first, end, layoutPlain, "SE") {
					return true
				}
			}
		}
		// IN Aadhaar: 2345 6789 0123, Verhoeff.
		if d[0] >= '2' && checkdigit.Verhoeff(d) && (len(gs) == 1 || groupsAre(gs, ge, 4, 4, 4) && (spaced || dashed)) {
			layout := layoutRegional
			if len(gs) == 1 {
				layout = layoutPlain
			}
			return s.addID(KindNationalID, first, end, layout, "IN")
		}
	case 11:
		// BR CPF: 123.456.789-09.
		if checkdigit.CPF(d) && !allSame(d) {
			switch {
			case groupsAre(gs, ge, 3, 3, 3, 2) && sepsAre(t, gs, ge, ".", ".", "-"):
				return s.addID(KindNationalID, first, end, layoutStrong, "BR")
			case groupsAre(gs, ge, 9, 2) && sepsAre(t, gs, ge, "-"):
				return s.addID(KindNationalID, first, end, layoutRegional, "BR")
			case len(gs) == 1:
				if s.addID(KindNationalID, first, end, layoutPlain, "BR") {
					return true
				}
			}
		}
		// DE Steuer-IdNr: 86 095 742 719.
		if steuerIDDigits(d) && checkdigit.Mod11_10(d) {
			switch {
			case groupsAre(gs, ge, 2, 3, 3, 3) && (spaced || uniformSep(t, gs, ge, "/")):
				return s.addID(KindNationalID, first, end, layoutRegional, "DE")
			case len(gs) == 1:
				if s.addID(KindNationalID, first, end, layoutPlain, "DE") {
					return true
				}
			}
		}
		// PL PESEL: 44051401359, with its date of birth.
		if len(gs) == 1 && peselDate(d) && checkdigit.PESEL(d) {
			return s.addID(KindNationalID, first, end, layoutPlain, "PL")
		}
	case 10:
		// SE personnummer: 850709-9805.
		if pnrDate(d[:6]) && checkdigit.LuhnText(d) {
			switch {
			case groupsAre(gs, ge, 6, 4) && dashed:
				return s.addID(KindNationalID, first, end, layoutStrong, "SE")
			case len(gs) == 1:
				return s.addID(KindNationalID, first, end, layoutPlain, "SE")
			}
		}
	case 9:
		nine := len(gs) == 1 || groupsAre(gs, ge, 3, 3, 3) && (spaced || dashed)
		// NL BSN: 111222333, 1112.22.333.
		if checkdigit.BSN(d) && (nine || groupsAre(gs, ge, 4, 2, 3) && uniformSep(t, gs, ge, ".")) {
			if s.addID(KindNationalID, first, end, layoutOf(gs), "NL") {
				return true
			}
		}
		// CA SIN: 046 454 286 (Luhn; never 8 first).
		if nine && d[0] != '8' && checkdigit.LuhnText(d) {
			if s.addID(KindNationalID, first, end, layoutOf(gs), "CA") {
				return true
			}
		}
		// AU TFN: 123 456 782.
		if nine && checkdigit.TFN(d) {
			if s.addID(KindNationalID, first, end, layoutOf(gs), "AU") {
				return true
			}
		}
	case 8:
		// AU TFN, the older eight digits: only announced.
		if len(gs) == 1 && checkdigit.TFN(d) && s.idEvidence(first, "AU").ctx {
			return s.addID(KindNationalID, first, end, layoutPlain, "AU")
		}
	}
	return false
}

func layoutOf(gs []int) int {
	if len(gs) == 1 {
		return layoutPlain
	}
	return layoutRegional
}

func allSame(d string) bool {
	for i := 1; i < len(d); i++ {
		if d[i] != d[0] {
			return false
		}
	}
	return true
}

func num2(d string) int { return int(d[0]-'0')*10 + int(d[1]-'0') }

// nirFields checks the sex (1, 2; 3, 4, 7, 8 for provisional numbers) and
// month (01–12, or 20 and above for unknown months) of a NIR.
func nirFields(d string) bool {
	switch d[0] {
	case '1', '2', '3', '4', '7', '8':
	default:
		return false
	}
	m := num2(d[3:5])
	return m >= 1 && m <= 12 || m >= 20
}

// pnrDate checks the date of a personnummer: YYMMDD or YYYYMMDD, the day
// plus 60 for a coordination number.
func pnrDate(d string) bool {
	y := 2000 + num2(d)
	if len(d) == 8 {
		y = num2(d)*100 + num2(d[2:])
		if y < 1890 {
			return false
		}
		d = d[2:]
	}
	day := num2(d[4:])
	if day > 60 {
		day -= 60
	}
	return validDay(y, num2(d[2:]), day)
}

// peselDate checks the date of a PESEL: YYMMDD with 20, 40, 60 or 80 added
// to the month for the 2000s, 2100s, 2200s and 1800s.
func peselDate(d string) bool {
	m := num2(d[2:]) % 20
	return validDay(1900+num2(d), m, num2(d[4:]))
}

func validDay(y, m, d int) bool {
	return m >= 1 && m <= 12 && d >= 1 && d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// steuerIDDigits checks the structure of a Steuer-IdNr: no leading zero,
// and in the first ten digits exactly one digit twice or three times, the
// others at most once.
func steuerIDDigits(d string) bool {
	if d[0] == '0' {
		return false
	}
	var n [10]int
	for i := 0; i < 10; i++ {
		n[d[i]-'0']++
	}
	multi := 0
	for _, c := range n {
		switch {
		case c == 2 || c == 3:
			multi++
		case c > 3:
			return false
		}
	}
	return multi == 1
}

// dni checks a Spanish DNI: eight digits (12345678, 12.345.678) and the
// check letter, glued or after '-' (or a space before an upper-case
// letter). It returns the end of the DNI, or 0.
func (s *scanner) dni(first, end int, gs, ge []int, d string) int {
	t := s.text
	if !(len(gs) == 1 || groupsAre(gs, ge, 2, 3, 3) && uniformSep(t, gs, ge, ".")) {
		return 0
	}
	l := end
	if l < len(t) && (t[l] == '-' || t[l] == ' ' && l+1 < len(t) && class[t[l+1]]&clUpper != 0) {
		l++
	}
	if l >= len(t) || class[t[l]]&(clUpper|clLower) == 0 || l+1 < len(t) && isAlnum(t[l+1]) {
		return 0
	}
	if checkdigit.DNILetter(d) != upper(t[l]) {
		return 0
	}
	if !s.addID(KindNationalID, first, l+1, layoutStrong, "ES") {
		return 0
	}
	return l + 1
}

// idWord tries the national identifiers that start with a letter at i (a
// word start): the Spanish NIE, the UK National Insurance number and the
// Italian codice fiscale. It returns the end of the identifier, or 0.
func (s *scanner) idWord(i int) int {
	t := s.text
	c := upper(t[i])
	if i+8 < len(t) && (c == 'X' || c == 'Y' || c == 'Z') {
		if e := s.nie(i); e > 0 {
			return e
		}
	}
	if i+7 < len(t) && class[t[i+1]]&(clUpper|clLower) != 0 {
		if class[t[i+2]]&clDigit != 0 || t[i+2] == ' ' && class[t[i+3]]&clDigit != 0 {
			if e := s.nino(i); e > 0 {
				return e
			}
		}
		// The year's first digit is the last one omocodia replaces.
		if i+16 <= len(t) && class[t[i+6]]&clDigit != 0 && isCFDigit(t[i+7]) && isAlnum(t[i+15]) && (i+16 == len(t) || !isAlnum(t[i+16])) {
			if e := s.codiceFiscale(i); e > 0 {
				return e
			}
		}
	}
	return 0
}

// readDigits reads n digits at i into b; it returns the index after them,
// or -1.
func readDigits(t string, i, n int, b []byte) int {
	if i+n > len(t) {
		return -1
	}
	for k := 0; k < n; k++ {
		if class[t[i+k]]&clDigit == 0 {
			return -1
		}
		b[k] = t[i+k]
	}
	return i + n
}

// nie: X1234567L, X-1234567-L, x1234567l.
func (s *scanner) nie(i int) int {
	t := s.text
	var b [8]byte
	b[0] = '0' + upper(t[i]) - 'X'
	j := i + 1
	dash := t[j] == '-'
	if dash {
		j++
	}
	if j = readDigits(t, j, 7, b[1:]); j < 0 {
		return 0
	}
	if j < len(t) && t[j] == '-' && dash {
		j++
	}
	if j >= len(t) || class[t[j]]&(clUpper|clLower) == 0 || j+1 < len(t) && isAlnum(t[j+1]) {
		return 0
	}
	if checkdigit.DNILetter(string(b[:])) != upper(t[j]) {
		return 0
	}
	if !s.addID(KindNationalID, i, j+1, layoutStrong, "ES") {
		return 0
	}
	return j + 1
}

// nino: AB123456C, AB 12 34 56 C, AB 123456 C. The prefix rules are
// HMRC's: no D, F, I, Q, U or V; no O second; not BG, GB, KN, NK, NT, TN or
// ZZ. The suffix is A–D; without it, only after a context word.
func (s *scanner) nino(i int) int {
	t := s.text
	if (t[i] >= 'a') != (t[i+1] >= 'a') {
		return 0
	}
	j := i + 2
	var d [6]byte
	if t[j] == ' ' {
		if t[i] >= 'a' {
			return 0
		}
		j++
		// 12 34 56 or 123456
		if k := readDigits(t, j, 6, d[:]); k > 0 {
			j = k
		} else {
			for p := 0; p < 3; p++ {
				if p > 0 {
					if j >= len(t) || t[j] != ' ' {
						return 0
					}
					j++
				}
				if j = readDigits(t, j, 2, d[2*p:]); j < 0 {
					return 0
				}
			}
		}
	} else if j = readDigits(t, j, 6, d[:]); j < 0 {
		return 0
	}
	end := j
	k := j
	if k < len(t) && t[k] == ' ' {
		k++
	}
	if k < len(t) && (upper(t[k]) >= 'A' && upper(t[k]) <= 'D') && (k+1 == len(t) || !isAlnum(t[k+1])) && (t[k] >= 'a') == (t[i] >= 'a') {
		end = k + 1
	} else if end < len(t) && isAlnum(t[end]) {
		return 0
	} else if !s.idEvidence(i, "GB").ctx {
		return 0
	}
	if !ninoPrefix(upper(t[i]), upper(t[i+1])) && !s.idEvidence(i, "GB").ctx {
		// HMRC's specimen QQ 12 34 56 C is still one when announced.
		return 0
	}
	layout := layoutStrong
	if end == j {
		layout = layoutPlain
	}
	if !s.addID(KindNationalID, i, end, layout, "GB") {
		return 0
	}
	return end
}

func ninoPrefix(a, b byte) bool {
	switch a {
	case 'D', 'F', 'I', 'Q', 'U', 'V':
		return false
	}
	switch b {
	case 'D', 'F', 'I', 'O', 'Q', 'U', 'V':
		return false
	}
	switch string([]byte{a, b}) {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	return true
}

// isCFDigit: a digit of a codice fiscale, or the letter that replaces it
// in a number changed to tell apart two people with the same code
// (omocodia).
func isCFDigit(c byte) bool {
	if class[c]&clDigit != 0 {
		return true
	}
	switch upper(c) {
	case 'L', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'U', 'V':
		return true
	}
	return false
}

// codiceFiscale: RSSMRA85T10A562S (six letters, year, month letter, day,
// place, check letter).
func (s *scanner) codiceFiscale(i int) int {
	t := s.text
	var b [16]byte
	lower := t[i] >= 'a'
	for k := 0; k < 16; k++ {
		c := t[i+k]
		if !isAlnum(c) || class[c]&(clUpper|clLower) != 0 && (c >= 'a') != lower {
			return 0
		}
		b[k] = upper(c)
	}
	for _, k := range []int{0, 1, 2, 3, 4, 5, 8, 11, 15} {
		if b[k] < 'A' || b[k] > 'Z' {
			return 0
		}
	}
	for _, k := range []int{6, 7, 9, 10, 12, 13, 14} {
		if !isCFDigit(b[k]) {
			return 0
		}
	}
	switch b[8] {
	case 'A', 'B', 'C', 'D', 'E', 'H', 'L', 'M', 'P', 'R', 'S', 'T':
	default:
		return 0
	}
	if !checkdigit.CodiceFiscale(string(b[:])) {
		return 0
	}
	if !s.addID(KindNationalID, i, i+16, layoutStrong, "IT") {
		return 0
	}
	return i + 16
}
