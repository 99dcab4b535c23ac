package retention

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fieldguard/pii"
)

// Policy is the retention rule of one field: how long it is kept, from which
// clock, what happens then, and the legal minimum before anything may be
// erased. The zero value of a member means "not set": in an override it
// inherits the tag's value.
type Policy struct {
	// Retain is the maximum retention, counted from the From clock.
	Retain pii.Duration
	// Min is the legal minimum, counted from the same clock: nothing is
	// erased before it ends, not even on an erasure request.
	Min pii.Duration
	// Grace is extra time after Retain during which the value is blocked
	// (readable only by the auditor role) before Then applies.
	Grace pii.Duration
	// From names the time.Time field of the top-level struct that starts
	// the clock; "" means the record's creation time.
	From string
	// Then is the action applied when the period (plus grace) ends.
	Then pii.Action
	// Purpose is the processing purpose the period serves.
	Purpose string
}

// String returns the policy in tag form, "retain=P2Y,from=LastSeen,then=shred",
// as recorded in the ledger.
func (p Policy) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("retain", p.Retain.String())
	add("min", p.Min.String())
	add("grace", p.Grace.String())
	add("from", p.From)
	add("then", actionString(p.Then))
	add("purpose", p.Purpose)
	return strings.Join(parts, ",")
}

func actionString(a pii.Action) string {
	if a.Kind == "" {
		return ""
	}
	return a.String()
}

// merge returns p with the members set in o replacing its own.
func (p Policy) merge(o Policy) Policy {
	if !o.Retain.IsZero() {
		p.Retain = o.Retain
	}
	if !o.Min.IsZero() {
		p.Min = o.Min
	}
	if !o.Grace.IsZero() {
		p.Grace = o.Grace
	}
	if o.From != "" {
		p.From = o.From
	}
	if o.Then.Kind != "" {
		p.Then = o.Then
	}
	if o.Purpose != "" {
		p.Purpose = o.Purpose
	}
	return p
}

// tagPolicy is the policy written in a field's tag.
func tagPolicy(f *pii.Field) Policy {
	o := f.Opts
	return Policy{Retain: o.Retain, Min: o.Min, Grace: o.Grace, From: o.From, Then: o.Then, Purpose: o.Purpose}
}

// Scope says where an override applies. An empty member matches anything.
type Scope struct {
	// Tenant matches the record's tenant field.
	Tenant string
	// Purpose matches the field's purpose= option.
	Purpose string
	// Jurisdiction matches what [Options.Jurisdiction] returns for the record.
	Jurisdiction string
}

// Policies holds retention overrides registered per tenant, purpose or
// jurisdiction, type and field. When several match a field, they are
// layered least specific first, so for every member of [Policy] the most
// specific override that sets it wins. Specificity counts the scope members
// set (tenant outranks jurisdiction, which outranks purpose), then whether
// the override names the field, then the type; among equals the later
// registration wins. Min is the exception: it is a legal minimum, so the
// longest of the tag's and every matching override's applies.
//
// The zero value holds no overrides and is ready to use
// (&retention.Policies{}). A Policies is safe for concurrent use.
type Policies struct {
	mu    sync.RWMutex
	rules []rule
}

type rule struct {
	scope Scope
	typ   string // schema name, "" any
	field string // schema path, "" any field of typ
	p     Policy
	seq   int
}

func (r rule) rank() int {
	n := 0
	if r.scope.Tenant != "" {
		n += 400
	}
	if r.scope.Jurisdiction != "" {
		n += 200
	}
	if r.scope.Purpose != "" {
		n += 100
	}
	if r.field != "" {
		n += 20
	}
	if r.typ != "" {
		n += 10
	}
	return n
}

// Set registers an override for the field at schema path field ("Email",
// "Contacts[].Phone") of the type named typ ([pii.Schema.Name]). An empty
// typ or field matches every type or field. The override applies only to
// fields that carry a retain= tag or are given one by an override. An
// override's Min can only raise the legal minimum: the longest min= among
// the tag and every matching override applies.
func (ps *Policies) Set(s Scope, typ, field string, p Policy) error {
	if p == (Policy{}) {
		return fmt.Errorf("retention: override for %s.%s sets nothing", typ, field)
	}
	if field != "" && typ == "" {
		return fmt.Errorf("retention: override for field %s needs a type", field)
	}
	if p.Then.Kind != "" {
		if err := checkAction(p.Then); err != nil {
			return err
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.rules = append(ps.rules, rule{scope: s, typ: typ, field: field, p: p, seq: len(ps.rules)})
	return nil
}

// minFloor is a min= that applies besides the resolved policy's own: the
// tag's, or another matching override's, counted from its clock.
type minFloor struct {
	min  pii.Duration
	from string
}

// resolve layers the matching overrides onto base. The floors it returns
// are the other min= values that still apply: min= is a legal minimum, so
// the latest end among the tag's and every matching override's wins, and
// an override can raise it but never lower it (nor move it earlier by
// changing the clock).
func (ps *Policies) resolve(base Policy, typ, field, tenant, jurisdiction string) (Policy, []minFloor) {
	if ps == nil {
		return base, nil
	}
	ps.mu.RLock()
	var match []rule
	for _, r := range ps.rules {
		if (r.typ == "" || r.typ == typ) && (r.field == "" || r.field == field) &&
			(r.scope.Tenant == "" || r.scope.Tenant == tenant) &&
			(r.scope.Jurisdiction == "" || r.scope.Jurisdiction == jurisdiction) &&
			(r.scope.Purpose == "" || r.scope.Purpose == base.Purpose) {
			match = append(match, r)
		}
	}
	ps.mu.RUnlock()
	slices.SortStableFunc(match, func(a, b rule) int {
		if d := a.rank() - b.rank(); d != 0 {
			return d
		}
		return a.seq - b.seq
	})
	p := base
	for _, r := range match {
		p = p.merge(r.p)
	}
	var floors []minFloor
	if !base.Min.IsZero() && (base.Min != p.Min || base.From != p.From) {
		floors = append(floors, minFloor{base.Min, base.From})
	}
	for _, r := range match {
		if !r.p.Min.IsZero() && r.p.Min != p.Min {
			floors = append(floors, minFloor{r.p.Min, p.From})
		}
	}
	return p, floors
}

// shortest returns, over base and every override that could apply to the
// field, the shortest Retain+Grace: the sweeper's conservative candidate
// cutoff must not miss a record that some tenant's override makes due.
func (ps *Policies) shortest(base Policy, typ, field string, now time.Time) time.Time {
	best := cutoff(base, now)
	if ps == nil {
		return best
	}
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	for _, r := range ps.rules {
		if (r.typ == "" || r.typ == typ) && (r.field == "" || r.field == field) && !r.p.Retain.IsZero() {
			p := base.merge(r.p)
			if c := cutoff(p, now); c.After(best) {
				best = c
			}
		}
	}
	return best
}

// cutoff returns a time such that every clock value c with
// p.Grace.AddTo(p.Retain.AddTo(c)) <= now satisfies c <= cutoff. Calendar
// arithmetic is not invertible (AddDate normalises 31 January plus a month
// to early March), so the subtraction is padded by a few days; the exact
// test is made per record.
func cutoff(p Policy, now time.Time) time.Time {
	if p.Retain.IsZero() {
		return time.Time{}
	}
	neg := func(d pii.Duration) pii.Duration {
		return pii.Duration{Years: -d.Years, Months: -d.Months, Days: -d.Days, Clock: -d.Clock}
	}
	c := neg(p.Retain).AddTo(neg(p.Grace).AddTo(now))
	if p.Retain.Years != 0 || p.Retain.Months != 0 || p.Grace.Years != 0 || p.Grace.Months != 0 {
		c = c.AddDate(0, 0, 4)
	}
	return c
}

// policyText caches the texts the ledger records for a policy, which a
// sweep would otherwise format once per field action.
type policyText struct {
	tag string // Policy.String()
}

func (m *Manager) policyText(p Policy) policyText {
	if v, ok := m.texts.Load(p); ok {
		return v.(policyText)
	}
	t := policyText{tag: p.String()}
	m.texts.Store(p, t)
	return t
}
