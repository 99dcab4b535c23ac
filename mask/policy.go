package mask

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fieldguard/pii"
)

// Channel is where a viewer sees or sends data.
type Channel string

// Channels known to the default policy. An unknown channel is treated as
// public: what the policy does not know is not trusted.
const (
	PublicSocial  Channel = "public_social"  // a public post or reply
	DirectMessage Channel = "direct_message" // a platform's private messages
	SecureChat    Channel = "secure_chat"    // the brand's own authenticated chat
	Email         Channel = "email"
	Phone         Channel = "phone"
)

// Public reports whether c is public (PublicSocial or unknown).
func (c Channel) Public() bool {
	switch c {
	case DirectMessage, SecureChat, Email, Phone:
		return false
	}
	return true
}

// Action is what a policy does with a field for a viewer.
type Action int

const (
	// ActionDeny hides the field: zero in a struct view, absent from maps
	// and JSON. It is the zero value, so a forgotten action fails closed.
	ActionDeny Action = iota
	// ActionMask shows the field through a masking style.
	ActionMask
	// ActionReveal shows the clear value in views.
	ActionReveal
)

func (a Action) String() string {
	switch a {
	case ActionMask:
		return "mask"
	case ActionReveal:
		return "reveal"
	}
	return "deny"
}

// Rule is one policy entry. Empty selectors match anything; the most
// specific matching rule wins (field path, then category, then role, then
// channel), and among equally specific rules the later one.
type Rule struct {
	Field    string  // schema path ("Email", "Contacts[].Phone"); "" = any
	Category string  // data category ("email", "card"); "" = any
	Role     string  // viewer role; "" = any
	Channel  Channel // "" = any
	Action   Action
	Style    string // for ActionMask: style spec ("card:bin6"); "" = tag or category default
}

// PolicyOptions configures a [Policy].
type PolicyOptions struct {
	// Masker supplies the styles (and the HMAC key of the hmac style).
	// Default: the built-in styles with no HMAC key.
	Masker *Masker
	// Sensitive lists categories denied on public channels in addition to
	// those the pii package marks sensitive (health, national_id, card, …)
	// and fields tagged `sensitive`.
	Sensitive []string
	// Scan tunes the scanner used by [Text] and [Policy.Check] (phone
	// regions, for example). nil: defaults.
	Scan *ScanOptions
}

// Policy decides, for each (field, viewer role, channel), whether a field
// is revealed, masked (and how) or denied. Tags give the defaults; rules
// override them. A Policy is immutable and safe for concurrent use; it
// caches one plan per (struct type, role, channel).
type Policy struct {
	rules     []Rule
	masker    *Masker
	sensitive map[string]bool
	scan      *ScanOptions
	plans     sync.Map // planKey -> *viewPlan
	nplans    atomic.Int64
}

// Decision is the outcome of [Policy.Decide].
type Decision struct {
	Action Action
	Style  string // style spec for ActionMask
	// Revealable says whether [Views.Reveal] may return the clear value:
	// the role is in the tag's reveal= list or a rule reveals the field,
	// and the channel does not deny it.
	Revealable bool
}

// NewPolicy checks rules and returns a Policy. opts may be nil.
func NewPolicy(rules []Rule, opts *PolicyOptions) (*Policy, error) {
	p := &Policy{rules: slices.Clone(rules), masker: defaultMasker, sensitive: map[string]bool{}}
	if opts != nil {
		if opts.Masker != nil {
			p.masker = opts.Masker
		}
		for _, c := range opts.Sensitive {
			p.sensitive[c] = true
		}
		if opts.Scan != nil {
			sc := *opts.Scan
			p.scan = &sc
		}
	}
	for i, r := range p.rules {
		if r.Action < ActionDeny || r.Action > ActionReveal {
			return nil, fmt.Errorf("mask: rule %d: unknown action %d", i, r.Action)
		}
		if r.Style != "" {
			if r.Action != ActionMask {
				return nil, fmt.Errorf("mask: rule %d: style given for action %s", i, r.Action)
			}
			if _, err := p.masker.Style(r.Style); err != nil {
				return nil, &wrapError{msg: fmt.Sprintf("mask: rule %d: style %q", i, r.Style), err: err}
			}
		}
	}
	return p, nil
}

var defaultPolicy, _ = NewPolicy(nil, nil)

// DefaultPolicy returns the policy with no rules: tag defaults only.
func DefaultPolicy() *Policy { return defaultPolicy }

// categoryStyles are the styles used when neither a rule nor the tag names
// one.
var categoryStyles = map[string]string{
	"email": StyleEmail, "phone": StylePhone, "card": StyleCard, "iban": StyleIBAN,
	"ip": StyleIP, "dob": StyleDate, "name": StyleInitials, "account": StyleLast4,
	"national_id": StyleLast4, "ssn": StyleLast4, "username": StyleFirst1,
	"postcode": StyleFirst1,
}

// sensitiveCategory reports whether c is denied on public channels.
func (p *Policy) sensitiveCategory(c string) bool {
	return p.sensitive[c] || pii.SensitiveCategory(c) || c == KindSSN
}

// Decide returns what viewer role sees of field f on channel ch.
func (p *Policy) Decide(f *pii.Field, role string, ch Channel) Decision {
	return p.decide(f.Path, f.Category, f.Opts, role, ch)
}

func (p *Policy) decide(path, category string, o pii.Options, role string, ch Channel) Decision {
	best, bestScore := -1, -1
	for i, r := range p.rules {
		if (r.Field != "" && r.Field != path) || (r.Category != "" && r.Category != category) ||
			(r.Role != "" && r.Role != role) || (r.Channel != "" && r.Channel != ch) {
			continue
		}
		score := 0
		if r.Field != "" {
			score += 8
		}
		if r.Category != "" {
			score += 4
		}
		if r.Role != "" {
			score += 2
		}
		if r.Channel != "" {
			score++
		}
		if score >= bestScore {
			best, bestScore = i, score
		}
	}
	tagReveal := role != "" && slices.Contains(o.Reveal, role)
	style := o.Mask
	if style != "" && o.MaskArg != "" {
		style += ":" + o.MaskArg
	}
	if style == "" {
		style = categoryStyles[category]
	}
	if style == "" {
		style = StyleFixed
	}
	// Sensitive data on a public channel is denied unless a rule names that
	// channel explicitly: a rule for a role or category alone ("fraud sees
	// cards as BIN + last 4") must not lift the floor on public posts.
	if ch.Public() && (o.Sensitive || p.sensitiveCategory(category)) && (best < 0 || p.rules[best].Channel == "") {
		return Decision{Action: ActionDeny}
	}
	if best >= 0 {
		r := p.rules[best]
		d := Decision{Action: r.Action}
		switch r.Action {
		case ActionMask:
			d.Style = style
			if r.Style != "" {
				d.Style = r.Style
			}
			d.Revealable = tagReveal
		case ActionReveal:
			d.Revealable = true
		}
		return d
	}
	return Decision{Action: ActionMask, Style: style, Revealable: tagReveal}
}

// Errors returned by views and reveals.
var (
	ErrDenied         = errors.New("mask: not allowed to reveal this field")
	ErrReasonRequired = errors.New("mask: a reason is required to reveal a value")
	ErrBudgetExceeded = errors.New("mask: reveal budget exceeded")
	ErrNoField        = errors.New("mask: no such tagged field")
	// ErrSealed: a field to be shown still holds an envelope ciphertext
	// ("pii1.…"): the record was not opened before the view.
	ErrSealed = errors.New("mask: field is still sealed; open the record before viewing it")
	// ErrTokenized: a token= field to be shown holds a value its format
	// marks as a token (a card number failing the Luhn check, an IBAN
	// failing mod 97): the record was not reversed before the view.
	ErrTokenized = errors.New("mask: field holds a token; reverse it before viewing it")
)

// FieldError is the error of a view or reveal for one field that cannot be
// shown. It names the type, the concrete field path and the field that
// identifies the record (not its value), never the field's value. Err is
// ErrSealed or ErrTokenized; errors.Is sees through FieldError.
type FieldError struct {
	Type   string // schema name of the struct type
	Path   string // concrete field path, "Contacts[1].Phone"
	Record string // path of the id field (or the subject field when there is no id); "" when the type has neither
	Err    error
}

// Error returns "mask: <Type>.<Path> (record id in <Type>.<Record>): <cause>",
// with the cause's own "mask: " prefix dropped so it appears once.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("mask: ")
	b.WriteString(e.Type)
	b.WriteByte('.')
	b.WriteString(e.Path)
	if e.Record != "" {
		b.WriteString(" (record id in ")
		b.WriteString(e.Type)
		b.WriteByte('.')
		b.WriteString(e.Record)
		b.WriteByte(')')
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "mask: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// wrapError puts context in front of an error of this package without
// repeating its "mask: " prefix.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + strings.TrimPrefix(e.err.Error(), "mask: ") }
func (e *wrapError) Unwrap() error { return e.err }
