package mask

// Context words: what the words before a candidate say about it.

import "strings"

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
