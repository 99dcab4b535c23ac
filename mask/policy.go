package mask

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/category"
)

// Channel is where a viewer sees or sends data.
type Channel string

// Channels known to the default policy. Any other channel is public: what
// the policy does not know is not trusted.
const (
	ChannelPublicSocial  Channel = "public_social"  // a public post or reply
	ChannelDirectMessage Channel = "direct_message" // a platform's private messages
	ChannelSecureChat    Channel = "secure_chat"    // the brand's own authenticated chat
	ChannelEmail         Channel = "email"
	ChannelPhone         Channel = "phone"
)

// public reports whether c is public: ChannelPublicSocial or unknown.
func (c Channel) public() bool {
	switch c {
	case ChannelDirectMessage, ChannelSecureChat, ChannelEmail, ChannelPhone:
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
	Style    Style // for ActionMask: "card:bin6"; "" = tag or category default
}

// policy decides, for each (field, viewer role, channel), whether a field
// is revealed, masked (and how) or denied. Tags give the defaults; rules
// override them. A policy is immutable and safe for concurrent use; it
// caches one plan per (struct type, role, channel).
type policy struct {
	rules     []Rule
	masker    *Masker
	sensitive map[string]bool
	scan      *ScanOptions
	plans     sync.Map // planKey -> *viewPlan
	nplans    atomic.Int64
}

// Decision is the outcome of [Views.Decide].
type Decision struct {
	Action Action
	Style  Style // for ActionMask
	// Revealable says whether [Views.Reveal] may return the clear value:
	// the role is in the tag's reveal= list or a rule reveals the field,
	// and the channel does not deny it.
	Revealable bool
}

// newPolicy checks o's rules and returns their policy. o may be nil.
func newPolicy(o *ViewsOptions) (*policy, error) {
	if o == nil {
		o = &ViewsOptions{}
	}
	p := &policy{rules: slices.Clone(o.Rules), masker: defaultMasker, sensitive: map[string]bool{}}
	if o.Masker != nil {
		p.masker = o.Masker
	}
	for _, c := range o.Sensitive {
		p.sensitive[c] = true
	}
	if o.Scan != nil {
		sc := *o.Scan
		p.scan = &sc
	}
	for i, r := range p.rules {
		if r.Action < ActionDeny || r.Action > ActionReveal {
			return nil, fmt.Errorf("mask: rule %d: unknown action %d", i, r.Action)
		}
		if r.Style != "" {
			if r.Action != ActionMask {
				return nil, fmt.Errorf("mask: rule %d: style given for action %s", i, r.Action)
			}
			if _, err := p.masker.style(r.Style); err != nil {
				return nil, &wrapError{msg: fmt.Sprintf("mask: rule %d: style %q", i, r.Style), err: err}
			}
		}
	}
	return p, nil
}

// defaultPolicy has no rules: tag defaults only. It is what a nil *Views
// means to [Text].
var defaultPolicy, _ = newPolicy(nil)

// categoryStyles are the styles used when neither a rule nor the tag names
// one.
var categoryStyles = map[string]Style{
	"email": styleEmail, "phone": stylePhone, "card": styleCard, "iban": styleIBAN,
	"ip": styleIP, "dob": styleDate, "name": styleInitials, "account": styleLast4,
	"national_id": styleLast4, "username": styleFirstChar,
	"postcode": styleFirstChar,
}

// sensitiveCategory reports whether c is denied on public channels: c or,
// for a dotted key ("billing.card"), its last part is sensitive to pii or
// listed in ViewsOptions.Sensitive.
func (p *policy) sensitiveCategory(c string) bool {
	if p.sensitive[c] || category.Sensitive(c) {
		return true
	}
	if i := strings.LastIndexByte(c, '.'); i >= 0 {
		last := c[i+1:]
		return p.sensitive[last] || category.Sensitive(last)
	}
	return false
}

// Decide returns what viewer role sees of field f on channel ch.
func (v *Views) Decide(f *pii.Field, role string, ch Channel) Decision {
	return v.policy.decide(f.Path, f.Category, f.Opts, role, ch)
}

func (p *policy) decide(path, category string, o pii.TagOptions, role string, ch Channel) Decision {
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
	style := tagStyle(category, o)
	// Sensitive data on a public channel is denied unless a rule names that
	// channel explicitly: a rule for a role or category alone ("fraud sees
	// cards as BIN + last 4") must not lift the floor on public posts.
	if ch.public() && (o.Sensitive || p.sensitiveCategory(category)) && (best < 0 || p.rules[best].Channel == "") {
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

// tagStyle is the style of a field when no rule names one: the tag's
// mask=, else its category's default, else the fixed placeholder.
func tagStyle(category string, o pii.TagOptions) Style {
	style := Style(o.Mask)
	if style != "" && o.MaskArg != "" {
		style += Style(":" + o.MaskArg)
	}
	if style == "" {
		style = categoryStyles[category]
	}
	if style == "" {
		style = styleFixed
	}
	return style
}
