package mask

// A tenant's own recognisers, allow list and deny list.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fieldguard/pii/internal/checkdigit"
)

// Recognizer adds a kind of identifier to the scanner (or another layout
// of a built-in kind): a pattern, an optional check and optional context
// words.
type Recognizer struct {
	// Kind is what a match is reported as: a kind of one's own
	// ("employee_id") or a built-in one.
	Kind Kind `json:"kind" yaml:"kind"`
	// Pattern is a regular expression (RE2 syntax, as package regexp). A
	// match counts only as a whole token: not glued to a letter or digit
	// on either side.
	Pattern string `json:"pattern" yaml:"pattern"`
	// Check names a check-digit algorithm the match must pass, computed
	// over its digits: "luhn", "verhoeff" or "mod11-10" (ISO 7064 MOD
	// 11,10); or "iban" (mod 97 over its letters and digits). "" for none.
	Check string `json:"check,omitempty" yaml:"check,omitempty"`
	// Validate, if set, must accept the match too. Code only: a file
	// cannot carry it.
	Validate func(match string) bool `json:"-" yaml:"-"`
	// Context, if not empty, lists words of which one must stand before
	// the match on the same line, within 64 bytes ("employee", "staff
	// no"). Matched case-insensitively at the start of a word.
	Context []string `json:"context,omitempty" yaml:"context,omitempty"`
	// Confidence of a match, in (0, 1]. Default 0.9.
	Confidence float64 `json:"confidence,omitempty" yaml:"confidence,omitempty"`
}

// ScanConfig is what a tenant adds to the scanner, written in code or read
// from a JSON or YAML file by [ParseScanConfig]; [NewScanRules] compiles it.
type ScanConfig struct {
	// Recognizers add kinds of identifiers.
	Recognizers []Recognizer `json:"recognizers,omitempty" yaml:"recognizers,omitempty"`
	// Allow lists what is never reported, however much it looks like an
	// identifier: the tenant's order numbers, tracking ids, its own
	// hotline. Regular expressions; a finding that lies inside a match is
	// dropped.
	Allow []string `json:"allow,omitempty" yaml:"allow,omitempty"`
	// Deny lists what is always reported as the given kind, whatever the
	// context, the allow list or [ScanOptions.MinConfidence]: values the
	// tenant knows to be identifiers. Regular expressions by kind.
	Deny map[Kind][]string `json:"deny,omitempty" yaml:"deny,omitempty"`
}

// ScanRules are a compiled [ScanConfig], for [ScanOptions.Rules]. They are
// immutable and safe for concurrent use: compile a tenant's once and keep
// them.
type ScanRules struct {
	recs  []customRecognizer
	allow []*regexp.Regexp
	deny  []customRecognizer
}

type customRecognizer struct {
	kind     Kind
	re       *regexp.Regexp
	check    func(string) bool
	validate func(string) bool
	context  []string // lower case
	conf     float64
}

// checks are the algorithms a [Recognizer] may name.
var checks = map[string]func(string) bool{
	"luhn":     func(m string) bool { return checkdigit.LuhnText(m) },
	"verhoeff": func(m string) bool { return checkdigit.Verhoeff(digitsOf(m)) },
	"mod11-10": func(m string) bool { return checkdigit.Mod11_10(digitsOf(m)) },
	"iban": func(m string) bool {
		b := checkdigit.CompactIBAN(m)
		return b != nil && checkdigit.IBANValid(b)
	},
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ParseScanConfig reads a [ScanConfig] from JSON or YAML (YAML is read by
// go.yaml.in/yaml/v3, which reads JSON too). Unknown fields are errors.
func ParseScanConfig(data []byte) (ScanConfig, error) {
	var cfg ScanConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return ScanConfig{}, fmt.Errorf("mask: scan config: %w", err)
	}
	return cfg, nil
}

// NewScanRules checks and compiles cfg. An error names the recognizer or
// list entry at fault.
func NewScanRules(cfg ScanConfig) (*ScanRules, error) {
	r := &ScanRules{}
	for i, rec := range cfg.Recognizers {
		c, err := compileRecognizer(rec)
		if err != nil {
			return nil, fmt.Errorf("mask: recognizer %d (kind %q): %w", i, rec.Kind, err)
		}
		r.recs = append(r.recs, c)
	}
	for i, p := range cfg.Allow {
		re, err := compilePattern(p)
		if err != nil {
			return nil, fmt.Errorf("mask: allow %d: %w", i, err)
		}
		r.allow = append(r.allow, re)
	}
	for _, k := range slices.Sorted(mapsKeysOf(cfg.Deny)) {
		for i, p := range cfg.Deny[k] {
			c, err := compileRecognizer(Recognizer{Kind: k, Pattern: p, Confidence: 1})
			if err != nil {
				return nil, fmt.Errorf("mask: deny %q %d: %w", k, i, err)
			}
			r.deny = append(r.deny, c)
		}
	}
	return r, nil
}

func mapsKeysOf[V any](m map[Kind]V) func(func(Kind) bool) {
	return func(yield func(Kind) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var kindName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func compileRecognizer(rec Recognizer) (customRecognizer, error) {
	if !kindName.MatchString(string(rec.Kind)) {
		return customRecognizer{}, errors.New("kind must be 1–32 lower-case letters, digits and '_', starting with a letter")
	}
	re, err := compilePattern(rec.Pattern)
	if err != nil {
		return customRecognizer{}, err
	}
	c := customRecognizer{kind: rec.Kind, re: re, validate: rec.Validate, conf: rec.Confidence}
	if rec.Check != "" {
		if c.check = checks[rec.Check]; c.check == nil {
			return customRecognizer{}, fmt.Errorf("unknown check %q (luhn, verhoeff, mod11-10, iban)", rec.Check)
		}
	}
	if c.conf == 0 {
		c.conf = 0.9
	}
	if c.conf < 0 || c.conf > 1 {
		return customRecognizer{}, errors.New("confidence must be in (0, 1]")
	}
	for _, w := range rec.Context {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			return customRecognizer{}, errors.New("empty context word")
		}
		c.context = append(c.context, w)
	}
	return c, nil
}

func compilePattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, errors.New("empty pattern")
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	if re.MatchString("") {
		return nil, errors.New("pattern matches the empty string")
	}
	return re, nil
}

// custom runs the tenant's recognisers over the text.
func (s *scanner) custom(r *ScanRules) {
	for i := range r.recs {
		s.recognize(&r.recs[i], false)
	}
}

// recognize adds the whole-token matches of one recogniser that pass its
// check, validator and context.
func (s *scanner) recognize(c *customRecognizer, deny bool) {
	t := s.text
	if !s.wants(c.kind) {
		return
	}
	for _, m := range c.re.FindAllStringIndex(t, -1) {
		a, b := m[0], m[1]
		if a > 0 && isAlnum(t[a-1]) && isAlnum(t[a]) || b < len(t) && isAlnum(t[b]) && isAlnum(t[b-1]) {
			continue
		}
		v := t[a:b]
		if c.check != nil && !c.check(v) || c.validate != nil && !c.validate(v) {
			continue
		}
		if len(c.context) > 0 && !contextBefore(t, a, c.context) {
			continue
		}
		if deny {
			s.denied = append(s.denied, Finding{Kind: c.kind, Start: a, End: b, Confidence: c.conf})
			continue
		}
		s.add(c.kind, a, b, c.conf)
	}
}

// contextBefore reports whether one of the lower-case words starts a word
// in the 64 bytes before i on the same line.
func contextBefore(t string, i int, words []string) bool {
	lo := max(0, i-64)
	if k := strings.LastIndexByte(t[lo:i], '\n'); k >= 0 {
		lo += k + 1
	}
	for w := lo; w < i; w++ {
		if w > 0 && isLetter(t[w-1]) {
			continue
		}
		for _, cw := range words {
			if i-w >= len(cw) && hasPrefixFold(t[w:i], cw) {
				return true
			}
		}
	}
	return false
}

// applyLists drops the findings inside a match of the allow list and puts
// the deny list's matches in, in place of whatever they overlap.
func (s *scanner) applyLists(fs []Finding, r *ScanRules) []Finding {
	if len(fs) > 0 && len(r.allow) > 0 {
		var spans [][]int
		for _, re := range r.allow {
			spans = append(spans, re.FindAllStringIndex(s.text, -1)...)
		}
		fs = slices.DeleteFunc(fs, func(f Finding) bool {
			for _, sp := range spans {
				if sp[0] <= f.Start && f.End <= sp[1] {
					return true
				}
			}
			return false
		})
	}
	for i := range r.deny {
		s.recognize(&r.deny[i], true)
	}
	if len(s.denied) == 0 {
		return fs
	}
	fs = slices.DeleteFunc(fs, func(f Finding) bool {
		for _, d := range s.denied {
			if f.Start < d.End && d.Start < f.End {
				return true
			}
		}
		return false
	})
	s.findings = append(fs, s.denied...)
	return s.resolve()
}
