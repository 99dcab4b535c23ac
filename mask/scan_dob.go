package mask

// Dates of birth: a date after a keyword that announces one.

import (
	"strconv"
	"strings"
	"time"

	"github.com/fieldguard/pii"
)

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
			if start, end, ok := parseDate(t, j, s.latestBirthYear()); ok {
				s.add(KindDOB, start, end, 0.95)
				return
			}
		}
	}
}

// parseDate recognises a full date (with a year) starting at i: numeric
// (1985-03-14, 03/14/1985, 14.03.1985, 3/14/85) or with an English month
// name (March 14, 1985; 14 March 1985; 14th of March 1985; Mar 14 1985).
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
		s.maxYear = pii.ClockOr(s.clock).Now().Year() - 12
	}
	return s.maxYear
}

func validDate(y, m, d, maxYear int) bool {
	if y < 1900 || y > maxYear || m < 1 || m > 12 || d < 1 {
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
