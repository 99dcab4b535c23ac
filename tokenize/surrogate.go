package tokenize

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Surrogate is a token annotated for free text, "PHONE(14):<token>"
// in the style of Google Cloud DLP's surrogate annotations: an info type,
// the token's length in runes, a colon and the token. The length lets a
// reader find where the token ends without a delimiter, so tokens can be
// found and reversed inside chat transcripts. Annotate writes one;
// FindSurrogates finds them in text.
type Surrogate struct {
	InfoType string
	Token    string
	// Start and End are the byte offsets of the annotation in the text it
	// was found in.
	Start, End int
}

// maxSurrogateLen bounds the declared token length.
const maxSurrogateLen = 4096

// annotation returns "TYPE(n):token" without checking its parts.
func annotation(infoType, token string) string {
	return infoType + "(" + strconv.Itoa(utf8.RuneCountInString(token)) + "):" + token
}

func isTypeStart(c byte) bool { return c >= 'A' && c <= 'Z' }
func isTypeChar(c byte) bool  { return isTypeStart(c) || c >= '0' && c <= '9' || c == '_' }

func isWordChar(c byte) bool { return isTypeChar(c) || c >= 'a' && c <= 'z' }

func validInfoType(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isTypeStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isTypeChar(s[i]) {
			return false
		}
	}
	return true
}

// Annotate returns the surrogate annotation of token, "TYPE(n):token".
// infoType is 1–64 upper-case letters, digits and underscores starting
// with a letter (TokenFormat.Name gives one); token is 1–4096 runes of
// valid UTF-8. Other input fails with ErrFormat.
func Annotate(infoType, token string) (string, error) {
	if !validInfoType(infoType) {
		return "", fmt.Errorf("%w: invalid surrogate info type", ErrFormat)
	}
	n := utf8.RuneCountInString(token)
	if n == 0 || n > maxSurrogateLen || !utf8.ValidString(token) {
		return "", fmt.Errorf("%w: surrogate token must be 1-%d runes of valid UTF-8", ErrFormat, maxSurrogateLen)
	}
	return annotation(infoType, token), nil
}

// parseAt parses an annotation starting at text[i:], returning its end.
func parseAt(text string, i int) (Surrogate, int, bool) {
	j := i
	for j < len(text) && j-i <= 64 && isTypeChar(text[j]) {
		j++
	}
	typ := text[i:j]
	if !validInfoType(typ) || j >= len(text) || text[j] != '(' {
		return Surrogate{}, 0, false
	}
	j++
	k := j
	for k < len(text) && k-j <= 4 && text[k] >= '0' && text[k] <= '9' {
		k++
	}
	digits := text[j:k]
	if len(digits) == 0 || digits[0] == '0' || k+1 >= len(text) || text[k] != ')' || text[k+1] != ':' {
		return Surrogate{}, 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n > maxSurrogateLen {
		return Surrogate{}, 0, false
	}
	start := k + 2
	end := start
	for range n {
		if end >= len(text) {
			return Surrogate{}, 0, false
		}
		r, size := utf8.DecodeRuneInString(text[end:])
		if r == utf8.RuneError && size <= 1 {
			return Surrogate{}, 0, false
		}
		end += size
	}
	return Surrogate{InfoType: typ, Token: text[start:end], Start: i, End: end}, end, true
}

// FindSurrogates returns the annotations in text, left to right, not
// overlapping. An annotation starts at an upper-case letter not preceded
// by an ASCII letter, digit or underscore.
func FindSurrogates(text string) []Surrogate {
	var out []Surrogate
	for i := 0; i < len(text); {
		if isTypeStart(text[i]) && (i == 0 || !isWordChar(text[i-1])) {
			if s, end, ok := parseAt(text, i); ok {
				out = append(out, s)
				i = end
				continue
			}
		}
		i++
	}
	return out
}

// ReplaceSurrogates returns text with every annotation replaced by what
// fn returns for it (for example the detokenized value); the first error
// stops and is returned.
func ReplaceSurrogates(text string, fn func(Surrogate) (string, error)) (string, error) {
	var b strings.Builder
	last := 0
	for _, s := range FindSurrogates(text) {
		r, err := fn(s)
		if err != nil {
			return "", err
		}
		b.WriteString(text[last:s.Start])
		b.WriteString(r)
		last = s.End
	}
	b.WriteString(text[last:])
	return b.String(), nil
}
