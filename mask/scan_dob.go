package mask

// Dates of birth: a date after a keyword that announces one.

import (
	"strconv"
	"strings"
	"time"

	"github.com/fieldguard/pii/internal/clock"
)

// A keyword is a word that announces what follows it: a date of birth or
// a passport number. Matched like context words: case-insensitively,
// words of four bytes or more also as prefixes.
type keyword struct {
	word string
	kind Kind
}

var keywordWords = []keyword{
	// Dates of birth.
	{"dob", KindDOB}, {"d.o.b", KindDOB}, {"born", KindDOB}, {"birth", KindDOB}, {"bday", KindDOB}, {"b-day", KindDOB},
	{"geboren", KindDOB}, {"geburt", KindDOB}, {"geb", KindDOB}, {"gebdat", KindDOB},
	{"né", KindDOB}, {"née", KindDOB}, {"naissance", KindDOB}, {"anniversaire", KindDOB},
	{"nacimiento", KindDOB}, {"nacid", KindDOB}, {"nací", KindDOB}, {"nac", KindDOB}, {"cumpleaños", KindDOB},
	{"nascita", KindDOB}, {"nato", KindDOB}, {"nata", KindDOB}, {"compleanno", KindDOB},
	{"nascimento", KindDOB}, {"nasci", KindDOB}, {"aniversário", KindDOB},
	{"geboorte", KindDOB}, {"verjaardag", KindDOB},
	// Passport numbers.
	{"passport", KindPassport}, {"passeport", KindPassport}, {"pasaporte", KindPassport}, {"passaporto", KindPassport},
	{"passaporte", KindPassport}, {"paspoort", KindPassport}, {"reisepass", KindPassport}, {"passnummer", KindPassport},
	{"passnr", KindPassport}, {"pass-nr", KindPassport}, {"paszport", KindPassport},
}

// keywords indexes keywordWords by first byte.
var keywords = func() (idx [256][]keyword) {
	for _, k := range keywordWords {
		idx[k.word[0]] = append(idx[k.word[0]], k)
	}
	return idx
}()

// kwSecond holds, by first byte, the second bytes of the keywords (lower
// case), to pass over most words at once.
var kwSecond = func() (set [256][4]uint64) {
	for c, kws := range keywords {
		for _, k := range kws {
			b := lowerByte(k.word[1])
			set[c][b>>6] |= 1 << (b & 63)
		}
	}
	return set
}()

// keyword checks for a keyword at the word start i and, for one, looks
// for what it announces after it.
func (s *scanner) keyword(i int, kws []keyword) {
	t := s.text
	if i+1 < len(t) {
		if b := lowerByte(t[i+1]); kwSecond[lowerByte(t[i])][b>>6]&(1<<(b&63)) == 0 {
			return
		}
	}
	var kw keyword
	for _, k := range kws {
		n := len(k.word)
		if len(t)-i < n || !hasPrefixFold(t[i:], k.word) {
			continue
		}
		if n < 4 && i+n < len(t) && isLetter(t[i+n]) {
			continue
		}
		if n > len(kw.word) {
			kw = k
		}
	}
	switch {
	case kw.kind == KindDOB && s.want&bitDOB != 0:
		if !s.dobBefore(i) {
			s.dobAfter(i + len(kw.word))
		}
	case kw.kind == KindPassport && s.want&bitPassport != 0:
		s.passportAfter(i + len(kw.word))
	}
}

// dobBefore looks for a date right before a birth keyword at i, as German
// and Dutch put it ("Ich bin am 14.03.1985 geboren").
func (s *scanner) dobBefore(i int) bool {
	t := s.text
	e := i
	for e > 0 && i-e < 3 && (t[e-1] == ' ' || t[e-1] == ',' || t[e-1] == '(') {
		e--
	}
	if e == i || e == 0 || !isAlnum(t[e-1]) {
		return false
	}
	for j := e - 1; j >= 0 && e-j <= 24 && t[j] != '\n'; j-- {
		if j > 0 && isAlnum(t[j-1]) || !isAlnum(t[j]) {
			continue
		}
		if start, end, ok := parseDate(t, j, s.latestBirthYear()); ok && end == e {
			s.add(KindDOB, start, end, 0.95)
			return true
		}
	}
	return false
}

// dobAfter looks for a date in the bytes after a birth keyword ending at
// lo, on the same line.
func (s *scanner) dobAfter(lo int) {
	t := s.text
	hi := min(len(t), lo+56)
	for j := lo; j < hi; j++ {
		c := t[j]
		if c == '\n' {
			return
		}
		if class[c]&clDigit != 0 || (class[c]&(clUpper|clLower) != 0 && (j == 0 || !isAlnum(t[j-1]))) {
			if start, end, ok := parseDate(t, j, s.latestBirthYear()); ok {
				s.add(KindDOB, start, end, 0.95)
				return
			}
			if class[c]&clDigit != 0 {
				// Skip the rest of this number ("geboren 1985 in …").
				for j+1 < hi && class[t[j+1]]&clDigit != 0 {
					j++
				}
			}
		}
	}
}

// passportAfter looks for a passport number after a passport keyword
// ending at lo: the first token with a digit, past at most six words
// ("number on the booking is", "nº") on the same line. A passport number is six to
// ten letters and digits, its letters in one case.
func (s *scanner) passportAfter(lo int) {
	t := s.text
	hi := min(len(t), lo+48)
	words := 0
	for j := lo; j < hi; {
		c := t[j]
		if c == '\n' {
			return
		}
		if !isLetter(c) && class[c]&clDigit == 0 {
			j++
			continue
		}
		e := j
		nd, lower, upperC := 0, false, false
		for e < len(t) && (isLetter(t[e]) || class[t[e]]&clDigit != 0) {
			switch {
			case class[t[e]]&clDigit != 0:
				nd++
			case t[e] >= 'a':
				lower = true
			default:
				upperC = true
			}
			e++
		}
		if nd == 0 {
			words++
			if words > 6 {
				return
			}
			j = e
			continue
		}
		n := e - j
		if n < 6 || n > 10 || lower && upperC {
			return
		}
		s.add(KindPassport, j, e, 0.9)
		return
	}
}

// parseDate recognises a full date (with a year) starting at i: numeric
// (1985-03-14, 03/14/1985, 14.03.1985, 3/14/85) or with a month name in
// one of the seven languages (March 14, 1985; 14 March 1985; 14th of
// March 1985; 14. März 1985; 1er mars 1985; 14 de marzo de 1985).
func parseDate(t string, i, maxYear int) (start, end int, ok bool) {
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
				if validDate(y, m, d, maxYear) {
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
		if j < len(t) && t[j] == '.' {
			j++ // 14. März
		}
		var msep byte // 14-Mar-1985, 14/mar/1985
		if j < len(t) && (t[j] == '-' || t[j] == '/') {
			msep = t[j]
			j++
		}
		j = skipSpaces(t, j)
		j = skipWord(t, j, "of", "de")
		m, e := monthAt(t, j)
		if m == 0 {
			return 0, 0, false
		}
		if msep != 0 {
			if e >= len(t) || t[e] != msep {
				return 0, 0, false
			}
			e++
		}
		j = skipSpaces(t, skipComma(t, e))
		j = skipWord(t, j, "de", "del")
		y, e2 := yearAt(t, j)
		if y == 0 || !validDate(y, m, d, maxYear) {
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
	if y == 0 || !validDate(y, m, d, maxYear) {
		return 0, 0, false
	}
	return i, e2, true
}

// latestBirthYear is the latest year a date of birth can have: a date of
// birth is at least twelve years old ("birthday gift arriving 12/05/2025"
// is a delivery date).
func (s *scanner) latestBirthYear() int {
	if s.maxYear == 0 {
		s.maxYear = clock.Or(s.clock).Now().Year() - 12
	}
	return s.maxYear
}

func validDate(y, m, d, maxYear int) bool {
	if y < 1900 || y > maxYear || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// monthNames are the month names and their usual abbreviations in
// English, German, French, Spanish, Italian, Portuguese and Dutch, lower
// case.
var monthNames = func() map[string]int {
	m := map[string]int{}
	for k, names := range [12][]string{
		{"january", "jan", "januar", "jänner", "janvier", "janv", "enero", "ene", "gennaio", "gen", "janeiro", "januari"},
		{"february", "feb", "februar", "février", "févr", "fevrier", "febrero", "febbraio", "fevereiro", "fev", "februari"},
		{"march", "mar", "märz", "maerz", "mär", "mars", "marzo", "março", "marco", "maart", "mrt"},
		{"april", "apr", "avril", "avr", "abril", "abr", "aprile"},
		{"may", "mai", "mayo", "maggio", "mag", "maio", "mei"},
		{"june", "jun", "juni", "juin", "junio", "giugno", "giu", "junho"},
		{"july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho"},
		{"august", "aug", "août", "aout", "agosto", "ago", "augustus"},
		{"september", "sep", "sept", "septembre", "septiembre", "setiembre", "set", "settembre", "setembro"},
		{"october", "oct", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro", "out"},
		{"november", "nov", "novembre", "noviembre", "novembro"},
		{"december", "dec", "dezember", "dez", "décembre", "déc", "decembre", "diciembre", "dic", "dicembre", "dezembro"},
	} {
		for _, n := range names {
			m[n] = k + 1
		}
	}
	return m
}()

// monthAt reads a month name at i; it returns the month (0 for none) and
// the index after it (and after an abbreviation's dot).
func monthAt(t string, i int) (int, int) {
	var b [16]byte
	j := i
	for j < len(t) && isLetter(t[j]) {
		if j-i == len(b) {
			return 0, 0
		}
		c := t[j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[j-i] = c
		j++
	}
	if j-i < 3 {
		return 0, 0
	}
	m := monthNames[string(b[:j-i])]
	if m == 0 {
		return 0, 0
	}
	if j < len(t) && t[j] == '.' {
		j++
	}
	return m, j
}

// skipWord skips one of the lower-case words and the spaces after it.
func skipWord(t string, i int, words ...string) int {
	for _, w := range words {
		e := i + len(w)
		if e < len(t) && t[e] == ' ' && hasPrefixFold(t[i:], w) {
			return skipSpaces(t, e)
		}
	}
	return i
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
		case "st", "nd", "rd", "th", "er", "º", "°":
			if i+2 == len(t) || !isAlnum(t[i+2]) {
				return i + 2
			}
		}
	}
	return i
}
