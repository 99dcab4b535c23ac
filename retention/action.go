package retention

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldguard/pii"
)

// pseudonymPrefix starts every keyed pseudonym, so anonymize is idempotent:
// a value that already is a pseudonym is left alone.
const pseudonymPrefix = "anon_"

func checkAction(a pii.Action) error {
	switch a.Kind {
	case pii.ActionDelete, pii.ActionNull, pii.ActionRedact, pii.ActionAnonymize, pii.ActionShred, pii.ActionBlock:
		if a.Rule != "" {
			return fmt.Errorf("retention: action %s takes no rule", a.Kind)
		}
		return nil
	case pii.ActionGeneralize:
		switch a.Rule {
		case "year", "month", "last4":
			return nil
		}
		if strings.HasPrefix(a.Rule, "ipv4/") {
			if n, err := strconv.Atoi(a.Rule[5:]); err == nil && n >= 0 && n <= 32 {
				return nil
			}
		}
		if n, ok := strings.CutPrefix(a.Rule, "postcode:"); ok {
			if v, err := strconv.Atoi(n); err == nil && v >= 1 && v <= 10 {
				return nil
			}
		}
		return fmt.Errorf("retention: unknown generalize rule %q", a.Rule)
	}
	return fmt.Errorf("retention: unknown action %q", a.Kind)
}

// checkActionType reports whether action a can be applied to a field of type t.
func checkActionType(a pii.Action, t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch a.Kind {
	case pii.ActionAnonymize, pii.ActionRedact:
		if t.Kind() != reflect.String && t.Kind() != reflect.Slice {
			return fmt.Errorf("retention: %s needs a string or []byte field, not %s", a.Kind, t)
		}
	case pii.ActionGeneralize:
		switch a.Rule {
		case "year", "month":
			if t != timeType && t.Kind() != reflect.String {
				return fmt.Errorf("retention: generalize:%s needs a time.Time or string field, not %s", a.Rule, t)
			}
		default:
			if t.Kind() != reflect.String {
				return fmt.Errorf("retention: generalize:%s needs a string field, not %s", a.Rule, t)
			}
		}
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// actor applies field actions with the package's keys and settings.
type actor struct {
	pseudonymKey []byte
	redaction    string
}

// transform returns the value v should hold after action a, and whether
// that differs from what it holds now. Every transform is idempotent:
// applying it to its own output changes nothing, which is what makes sweeps
// resumable and concurrent sweepers apply each action once. delete and
// block do not change the field and report false.
func (ac *actor) transform(f *pii.Field, a pii.Action, v reflect.Value) (reflect.Value, bool, error) {
	switch a.Kind {
	case pii.ActionDelete, pii.ActionBlock:
		return v, false, nil
	case pii.ActionNull, pii.ActionShred:
		if v.IsZero() {
			return v, false, nil
		}
		return reflect.Zero(v.Type()), true, nil
	}
	// The remaining actions act on the pointed-to value.
	base := v
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return v, false, nil
		}
		base = v.Elem()
	}
	var out reflect.Value
	switch a.Kind {
	case pii.ActionRedact:
		out = setString(base, ac.redaction)
	case pii.ActionAnonymize:
		s := stringOf(base)
		if s == "" || ac.isPseudonym(s) {
			return v, false, nil
		}
		out = setString(base, ac.pseudonym(f.Category, s))
	case pii.ActionGeneralize:
		g, err := generalize(a.Rule, base)
		if err != nil {
			return v, false, err
		}
		out = g
	default:
		return v, false, fmt.Errorf("retention: unknown action %q", a.Kind)
	}
	if sameValue(out, base) {
		return v, false, nil
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(base.Type())
		p.Elem().Set(out)
		out = p
	}
	return out, true, nil
}

func stringOf(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return v.String()
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
		return string(v.Bytes())
	}
	return ""
}

func setString(like reflect.Value, s string) reflect.Value {
	out := reflect.New(like.Type()).Elem()
	if like.Kind() == reflect.String {
		out.SetString(s)
	} else {
		out.SetBytes([]byte(s))
	}
	return out
}

// pseudonym is the keyed pseudonym of s: HMAC-SHA256 under the pseudonym
// key over the category and the value, so equal values of one category map
// to equal pseudonyms (joins and counts still work) and nothing maps back.
func (ac *actor) pseudonym(category, s string) string {
	m := hmac.New(sha256.New, ac.pseudonymKey)
	m.Write([]byte(category))
	m.Write([]byte{0})
	m.Write([]byte(s))
	return pseudonymPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}

func (ac *actor) isPseudonym(s string) bool {
	rest, ok := strings.CutPrefix(s, pseudonymPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// generalize applies a generalize rule to a non-pointer value.
func generalize(rule string, v reflect.Value) (reflect.Value, error) {
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return v, nil
		}
		switch rule {
		case "year":
			t = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		case "month":
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		default:
			return v, fmt.Errorf("retention: generalize:%s does not apply to time.Time", rule)
		}
		return reflect.ValueOf(t), nil
	}
	s := stringOf(v)
	if s == "" {
		return v, nil
	}
	var g string
	switch {
	case rule == "year" || rule == "month":
		g = generalizeDate(rule, s)
	case rule == "last4":
		n := utf8.RuneCountInString(s)
		if n <= 4 {
			return v, nil
		}
		r := []rune(s)
		g = strings.Repeat("*", n-4) + string(r[n-4:])
	case strings.HasPrefix(rule, "ipv4/"):
		bits, _ := strconv.Atoi(rule[5:])
		g = generalizeIP(s, bits)
	case strings.HasPrefix(rule, "postcode:"):
		n, _ := strconv.Atoi(rule[9:])
		r := []rune(strings.TrimSpace(s))
		if len(r) > n {
			r = r[:n]
		}
		g = strings.TrimSpace(string(r))
	default:
		return v, fmt.Errorf("retention: unknown generalize rule %q", rule)
	}
	return setString(v, g), nil
}

// generalizeDate keeps the year (or year and month) of a date written as
// text. Text that is not a date is dropped rather than kept whole.
func generalizeDate(rule, s string) string {
	n := 4
	if rule == "month" {
		n = 7
	}
	if len(s) == n && dateish(s) {
		return s
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02")[:n]
		}
	}
	return ""
}

func dateish(s string) bool {
	for i, c := range s {
		if !(c >= '0' && c <= '9' || i == 4 && c == '-') {
			return false
		}
	}
	return true
}

// generalizeIP keeps the first bits of an IPv4 address. IPv6 addresses keep
// their /48; anything unparsable is dropped.
func generalizeIP(s string, bits int) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !a.Is4() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}

// sameValue reports whether two values of one type are equal, without
// boxing the common string case.
func sameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.String {
		return a.String() == b.String()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
