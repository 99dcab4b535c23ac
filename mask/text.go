package mask

import (
	"errors"
	"slices"
	"strings"

	"github.com/fieldguard/pii"
)

// kindCategory maps scanner kinds to data categories for policy decisions.
var kindCategory = map[string]string{
	KindCard: "card", KindEmail: "email", KindPhone: "phone", KindIBAN: "iban",
	KindSSN: "national_id", KindIP: "ip", KindDOB: "dob",
}

// Text masks the identifiers found in msg as policy p (nil: the default
// policy) decides for channel ch, with no viewer role, and returns the
// masked message and the findings (spans into msg, not into the result).
// Denied findings are replaced by "[<kind> removed]".
func Text(msg string, p *Policy, ch Channel) (string, []Finding) {
	if p == nil {
		p = DefaultPolicy()
	}
	fs := Scan(msg, p.scan)
	if len(fs) == 0 {
		return msg, nil
	}
	var b strings.Builder
	b.Grow(len(msg))
	last := 0
	for _, f := range fs {
		b.WriteString(msg[last:f.Start])
		cat := kindCategory[f.Kind]
		d := p.decide("", cat, pii.Options{}, "", ch)
		val := msg[f.Start:f.End]
		switch d.Action {
		case ActionReveal:
			b.WriteString(val)
		case ActionMask:
			if d.Style == StylePhone && p.scan != nil && len(p.scan.Regions) > 0 {
				// Mask national numbers with the region the scanner used.
				d.Style += ":" + p.scan.Regions[0]
			}
			out, err := p.masker.Mask(d.Style, val)
			if err != nil {
				out = Placeholder
			}
			b.WriteString(out)
		default:
			b.WriteString("[" + f.Kind + " removed]")
		}
		last = f.End
	}
	b.WriteString(msg[last:])
	return b.String(), fs
}

// ErrChannel is wrapped by the errors [Check] returns.
var ErrChannel = errors.New("mask: identifiers not allowed on this channel")

// ChannelError lists the kinds of identifiers a message holds that its
// channel must not carry, with advice on where to move the conversation.
type ChannelError struct {
	Channel Channel
	Kinds   []string
	Advice  string
}

func (e *ChannelError) Error() string {
	return "mask: " + string(e.Channel) + " must not carry " + strings.Join(e.Kinds, ", ") + "; " + e.Advice
}

// Unwrap returns ErrChannel.
func (e *ChannelError) Unwrap() error { return ErrChannel }

// Allowed reports whether channel ch may carry identifiers of kind. Public
// channels (and unknown ones) carry none; direct messages and e-mail carry
// no card numbers or social security numbers; the brand's secure chat and
// the phone carry all.
func Allowed(kind string, ch Channel) bool {
	switch ch {
	case SecureChat, Phone:
		return true
	case DirectMessage, Email:
		return kind != KindCard && kind != KindSSN
	}
	return false
}

// Check scans msg, which an agent is about to send on ch, and returns a
// *ChannelError (wrapping ErrChannel) listing the kinds found that ch must
// not carry ([Allowed]), or nil. The error never contains the values.
func Check(msg string, ch Channel) error { return check(msg, ch, nil) }

// Check is [Check] with the policy's scan options.
func (p *Policy) Check(msg string, ch Channel) error { return check(msg, ch, p.scan) }

func check(msg string, ch Channel, opts *ScanOptions) error {
	var kinds []string
	for _, f := range Scan(msg, opts) {
		if !Allowed(f.Kind, ch) && !slices.Contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	slices.Sort(kinds)
	advice := "move the conversation to a direct message, the secure chat or the phone"
	if slices.Contains(kinds, KindCard) || slices.Contains(kinds, KindSSN) {
		advice = "move the conversation to the secure chat or the phone"
	}
	return &ChannelError{Channel: ch, Kinds: kinds, Advice: advice}
}
