package mask

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Style names a masking style, optionally with an argument after ':':
// "card", "card:bin6", "phone:GB", "email:mask-domain". It is spelled the
// same in a tag (`mask=card:bin6`), in a [Rule] and in [Masker.Mask]. The
// built-in styles are described in the package documentation; a [Masker]
// can add more ([MaskerOptions.Styles]). An unknown style, or an argument a
// built-in style does not take, is an error ("mask: unknown style"), never
// a silent default.
type Style string

// Names of the built-in styles, for use inside the package.
const (
	styleFull      Style = "full"
	styleFixed     Style = "fixed"
	styleLast4     Style = "last4"
	styleFirstChar Style = "first-char"
	styleInitials  Style = "initials"
	styleEmail     Style = "email"
	stylePhone     Style = "phone"
	styleCard      Style = "card"
	styleIBAN      Style = "iban"
	styleIP        Style = "ip"
	styleDate      Style = "date"
	styleHMAC      Style = "hmac"
)

// split returns the style's name and argument.
func (s Style) split() (name, arg string) {
	name, arg, _ = strings.Cut(string(s), ":")
	return name, arg
}

// Placeholder is what the fixed style returns, and what every style returns
// for input it does not recognise. Its length is constant so it does not
// leak the length of the value.
const Placeholder = "********"

// errUnknownStyle is the error of a style that is neither built in nor
// custom, or of an argument a built-in style does not take ("card:bin9"):
// a mistake in a tag, a rule or the code, which no caller handles apart.
var errUnknownStyle = errors.New("mask: unknown style")

// errStyleArg is an errUnknownStyle for an argument a built-in style does
// not take.
var errStyleArg = fmt.Errorf("%w argument", errUnknownStyle)

// MaskerOptions configures a [Masker]. The zero value is usable.
type MaskerOptions struct {
	// Region is the default region for phone numbers written without a
	// country calling code (ISO 3166 code such as "US", "GB"). Default "US".
	Region string
	// HMACKey keys the hmac style and log=hmac pseudonyms. Without it the
	// hmac style returns the fixed placeholder. Test keys must never be
	// hard-coded in production.
	HMACKey []byte
	// HMACKeyID names HMACKey in pseudonyms so they can be re-keyed.
	HMACKeyID string
	// Styles adds custom styles by name: lower-case letters, digits, '-'
	// and '_'; built-in names cannot be replaced. A custom style masks one
	// value; arg is whatever argument the style spec carries ("zip:3"
	// gives "3"), empty when none was given. It must be total: any input
	// gives a masked output, never a panic, never the clear value (a panic
	// or the input returned unchanged gives the [Placeholder]).
	Styles map[string]func(value, arg string) string
}

// styleFunc is a custom style ([MaskerOptions.Styles]).
type styleFunc = func(value, arg string) string

// Masker applies styles: the built-in ones, with its phone region and HMAC
// key, and the custom ones of its [MaskerOptions.Styles]. [Masker.Mask]
// masks one value; [Views] use a Masker ([ViewsOptions.Masker]) for views and [Text];
// [Masker.Redacted] for logs. It is immutable and safe for concurrent use.
type Masker struct {
	region string
	key    []byte
	keyID  string
	custom map[string]styleFunc
}

// NewMasker returns a Masker with the built-in styles. opts may be nil.
func NewMasker(opts *MaskerOptions) (*Masker, error) {
	var o MaskerOptions
	if opts != nil {
		o = *opts
	}
	if o.Region == "" {
		o.Region = "US"
	}
	if phonenumbers.GetCountryCodeForRegion(o.Region) == 0 {
		return nil, errors.New("mask: unknown phone region " + strconv.Quote(o.Region))
	}
	if len(o.HMACKey) > 0 && len(o.HMACKey) < 16 {
		return nil, errors.New("mask: hmac key shorter than 16 bytes")
	}
	if len(o.HMACKey) > 0 && o.HMACKeyID == "" {
		return nil, errors.New("mask: hmac key without key id")
	}
	if strings.ContainsAny(o.HMACKeyID, ": \t\n") {
		return nil, errors.New("mask: hmac key id must not contain ':' or spaces")
	}
	custom := make(map[string]styleFunc, len(o.Styles))
	for _, name := range slices.Sorted(maps.Keys(o.Styles)) {
		fn := o.Styles[name]
		if fn == nil || !validStyleName(name) {
			return nil, errors.New("mask: invalid style name " + strconv.Quote(name) + " or nil function")
		}
		if _, ok := builtins[Style(name)]; ok {
			return nil, errors.New("mask: cannot replace built-in style " + name)
		}
		custom[name] = fn
	}
	return &Masker{
		region: o.Region,
		key:    append([]byte(nil), o.HMACKey...),
		keyID:  o.HMACKeyID,
		custom: custom,
	}, nil
}

// defaultMasker holds the built-in styles, region US and no HMAC key. It is
// never modified after init.
var defaultMasker = func() *Masker {
	m, err := NewMasker(nil)
	if err != nil {
		panic(err)
	}
	return m
}()

// builtin is a built-in style: the function and the arguments it takes.
type builtin struct {
	fn  func(m *Masker, v, arg string) string
	arg func(arg string) bool // nil: no argument
}

var builtins = map[Style]builtin{
	styleFull:      {fn: func(_ *Masker, v, _ string) string { return maskFull(v) }},
	styleFixed:     {fn: func(*Masker, string, string) string { return Placeholder }},
	styleLast4:     {fn: func(_ *Masker, v, _ string) string { return maskLast4(v) }},
	styleFirstChar: {fn: func(_ *Masker, v, _ string) string { return maskFirstChar(v) }},
	styleInitials:  {fn: func(_ *Masker, v, _ string) string { return maskInitials(v) }},
	styleEmail: {
		fn:  func(_ *Masker, v, arg string) string { return maskEmail(v, arg == "mask-domain") },
		arg: func(a string) bool { return a == "mask-domain" },
	},
	stylePhone: {
		fn: func(m *Masker, v, arg string) string {
			if arg == "" {
				arg = m.region
			}
			return maskPhone(v, arg)
		},
		arg: func(a string) bool { return phonenumbers.GetCountryCodeForRegion(a) != 0 },
	},
	styleCard: {
		fn: func(_ *Masker, v, arg string) string {
			switch arg {
			case "bin6":
				return maskCard(v, 6)
			case "bin8":
				return maskCard(v, 8)
			}
			return maskCard(v, 0)
		},
		arg: func(a string) bool { return a == "bin6" || a == "bin8" },
	},
	styleIBAN: {fn: func(_ *Masker, v, _ string) string { return maskIBAN(v) }},
	styleIP:   {fn: func(_ *Masker, v, _ string) string { return maskIP(v) }},
	styleDate: {fn: func(_ *Masker, v, _ string) string { return maskDate(v) }},
	// The argument separates domains: the same value under two domains
	// gives unlinkable pseudonyms.
	styleHMAC: {fn: func(m *Masker, v, arg string) string { return m.hmac(v, arg) }, arg: func(string) bool { return true }},
}

// Mask masks value with style ("card", "card:bin6", "phone:GB"). An
// unknown style, or an argument a built-in style does not take, returns
// the [Placeholder] and an error.
func (m *Masker) Mask(style Style, value string) (string, error) {
	f, err := m.style(style)
	if err != nil {
		return Placeholder, err
	}
	return f(value), nil
}

// style returns the function of a style with its argument bound.
func (m *Masker) style(s Style) (func(string) string, error) {
	name, arg := s.split()
	if b, ok := builtins[Style(name)]; ok {
		if arg != "" && (b.arg == nil || !b.arg(arg)) {
			return nil, errStyleArg
		}
		fn := func(v, arg string) string { return b.fn(m, v, arg) }
		return func(v string) string { return safeApply(fn, v, arg) }, nil
	}
	fn, ok := m.custom[name]
	if !ok {
		return nil, errUnknownStyle
	}
	return func(v string) string { return safeApply(fn, v, arg) }, nil
}

// safeApply runs a style and turns a panic into the placeholder, so a
// faulty custom style cannot leak the value in a crash.
func safeApply(fn styleFunc, v, arg string) (out string) {
	defer func() {
		if recover() != nil {
			out = Placeholder
		}
	}()
	out = fn(v, arg)
	if out == v && v != "" {
		return Placeholder
	}
	return out
}

func validStyleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
