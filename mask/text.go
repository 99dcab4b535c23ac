package mask

import (
	"slices"
	"strings"

	"github.com/fieldguard/pii"
)

// kindCategory maps scanner kinds to data categories for policy decisions.
var kindCategory = map[Kind]string{
	KindCard: "card", KindEmail: "email", KindPhone: "phone", KindIBAN: "iban",
	KindSSN: "national_id", KindIP: "ip", KindDOB: "dob",
	KindNationalID: "national_id", KindPassport: "national_id",
}

// Text masks the identifiers found in msg as v's rules (nil: tag and
// category defaults, no rules) decide for channel ch, with no viewer
// role, and returns the masked message and the findings (spans into msg,
// not into the result). Denied findings are replaced by "[<kind> removed]".
// The scanner runs with v's [ViewsOptions.Scan]. Text neither reveals
// nor audits.
func Text(msg string, v *Views, ch Channel) (string, []Finding) {
	p := defaultPolicy
	if v != nil {
		p = v.policy
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
		d := p.decide("", kindCategory[f.Kind], pii.TagOptions{}, "", ch)
		val := msg[f.Start:f.End]
		switch d.Action {
		case ActionReveal:
			b.WriteString(val)
		case ActionMask:
			if d.Style == stylePhone && p.scan != nil && len(p.scan.Regions) > 0 {
				// Mask national numbers with the region the scanner used.
				d.Style += Style(":" + p.scan.Regions[0])
			}
			out, err := p.masker.Mask(d.Style, val)
			if err != nil {
				out = Placeholder
			}
			b.WriteString(out)
		default:
			b.WriteString("[" + string(f.Kind) + " removed]")
		}
		last = f.End
	}
	b.WriteString(msg[last:])
	return b.String(), fs
}

// floorKind reports the kinds only the secure chat and the phone carry:
// card numbers and national identifiers (social security numbers and the
// like, passports).
func floorKind(k Kind) bool {
	return k == KindCard || k == KindSSN || k == KindNationalID || k == KindPassport
}

// allowed reports whether channel ch may carry identifiers of kind: see
// [Check].
func allowed(kind Kind, ch Channel) bool {
	switch ch {
	case ChannelSecureChat, ChannelPhone:
		return true
	case ChannelDirectMessage, ChannelEmail:
		return !floorKind(kind)
	}
	return false
}

// Check scans msg, which an agent is about to send on ch, with opts (nil:
// defaults) and returns a *[ChannelError] listing the kinds of identifiers
// found that ch must not carry, or nil. Public channels (and unknown ones)
// carry none; direct messages and e-mail carry no card numbers, social
// security numbers or other national identifiers; the brand's secure chat and the phone carry all. These
// floors do not depend on the rules of any [Views]. The error never contains the values.
func Check(msg string, ch Channel, opts *ScanOptions) error {
	var kinds []Kind
	for _, f := range Scan(msg, opts) {
		if !allowed(f.Kind, ch) && !slices.Contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	slices.Sort(kinds)
	advice := "move the conversation to a direct message, the secure chat or the phone"
	if slices.ContainsFunc(kinds, floorKind) {
		advice = "move the conversation to the secure chat or the phone"
	}
	return countRefusal(opts, &ChannelError{Channel: ch, Kinds: kinds, Advice: advice})
}
