package retention

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/fieldguard/pii"
)

// State says where a field stands in its retention lifecycle.
type State int

const (
	// statePending: the retention period has not ended. Due and
	// ReadCheck never report it; Next reads it.
	statePending State = iota
	// Due: the action applies now.
	Due
	// Grace: the period ended but the grace period has not; the value is
	// blocked (auditor only) and the action applies at Item.At.
	Grace
	// Blocked: then=block; the value is kept, readable by the auditor only.
	Blocked
	// Deferred: the action is due but the legal minimum (min=) has not
	// ended; it applies at Item.At.
	Deferred
)

func (s State) String() string {
	switch s {
	case statePending:
		return "pending"
	case Due:
		return "due"
	case Grace:
		return "grace"
	case Blocked:
		return "blocked"
	case Deferred:
		return "deferred"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Item is one field's retention verdict for one record.
type Item struct {
	// Path is the concrete field path ("Email", "Contacts[2].Phone").
	Path string
	// Field is the schema field.
	Field *pii.Field
	// Action is the action the policy prescribes.
	Action pii.Action
	// Policy is the resolved policy, overrides applied.
	Policy Policy
	// Expires is when the retention period ends.
	Expires time.Time
	// At is when the action applies (after grace and min=).
	At time.Time
	// State is the field's lifecycle state at the evaluation time.
	State State
	// Reason explains the verdict without personal data, as the ledger
	// records it.
	Reason string

	v     reflect.Value // the field value, settable
	owner reflect.Value // the struct declaring it, settable
	next  reflect.Value // the value after the action
}

// record is what evaluation needs about one record.
type record struct {
	ti      *typeInfo
	ptr     any
	created time.Time
}

// evaluate returns the verdict for every field of the record with a
// retention policy whose action has not been applied yet. With pending
// false it leaves out fields still in their period.
func (m *Manager) evaluate(now time.Time, r record, pending bool) ([]Item, error) {
	var items []Item
	err := m.walkVerdicts(now, r, !pending, func(it Item, k verdictKind) error {
		if k == verdictItem && (pending || it.State != statePending) {
			items = append(items, it)
		}
		return nil
	})
	return items, err
}

// verdictKind says whether a field got a verdict, and why not.
type verdictKind int

const (
	verdictItem       verdictKind = iota // the Item holds the verdict
	verdictNoPolicy                      // no retention period
	verdictNotStarted                    // the from= clock is unset
	verdictApplied                       // the value already is the action's output
)

// walkVerdicts calls fn with the verdict of every tagged field of the
// record. With skipPending, fields still in their period are passed as
// statePending items without their reason (the sweep's fast path).
func (m *Manager) walkVerdicts(now time.Time, r record, skipPending bool, fn func(Item, verdictKind) error) error {
	s := r.ti.s
	tenant := s.TenantOf(r.ptr)
	var juris string
	if m.jurisdiction != nil {
		juris = m.jurisdiction(r.ptr)
	}
	root := reflect.ValueOf(r.ptr).Elem()
	return s.Walk(r.ptr, func(f *pii.Field, path string, owner, v reflect.Value) error {
		p, floors := m.policies.resolve(tagPolicy(f), s.Name, f.Path, tenant, juris)
		it := Item{Path: path, Field: f, Policy: p, v: v, owner: owner}
		if p.Retain.IsZero() {
			return fn(it, verdictNoPolicy)
		}
		if p.Then.Kind == "" {
			p.Then.Kind = pii.ActionNull
		}
		it.Action, it.Policy = p.Then, p
		clock, from := r.created, "creation"
		if p.From != "" {
			// An unset from= clock has not started: nothing is due yet.
			clock, _ = clockField(root, p.From)
			from = p.From
		}
		if clock.IsZero() {
			return fn(it, verdictNotStarted)
		}
		it.Expires = p.Retain.AddTo(clock)
		it.At = p.Grace.AddTo(it.Expires)
		minEnd, minDur := m.minEnd(root, r.created, p, floors)
		it.Policy.Min = minDur
		if now.Before(it.Expires) {
			it.State = statePending
			if skipPending {
				return fn(it, verdictItem)
			}
			if minEnd.After(it.At) {
				it.At = minEnd
			}
			it.Reason = fmt.Sprintf("retain=%s from %s ends %s", p.Retain, from, it.Expires.UTC().Format(time.RFC3339))
			return fn(it, verdictItem)
		}
		next, changed, err := m.actor.transform(f, p.Then, v)
		if err != nil {
			return fmt.Errorf("retention: %s.%s: %w", s.Name, f.Path, err)
		}
		if !changed && p.Then.Kind != pii.ActionDelete && p.Then.Kind != pii.ActionBlock {
			return fn(it, verdictApplied)
		}
		it.next = next
		it.Reason = "expired " + it.Expires.UTC().Format(time.RFC3339) + " (" + from + " clock)"
		switch {
		case now.Before(it.At):
			it.State = Grace
			it.Reason += fmt.Sprintf("; grace=%s until %s", p.Grace, it.At.UTC().Format(time.RFC3339))
		case p.Then.Kind == pii.ActionBlock:
			it.State = Blocked
		case now.Before(minEnd):
			it.State = Deferred
			it.At = minEnd
			it.Reason += fmt.Sprintf("; min=%s keeps it until %s", minDur, minEnd.UTC().Format(time.RFC3339))
		default:
			it.State = Due
		}
		if it.State == Grace && minEnd.After(it.At) {
			it.At = minEnd
		}
		return fn(it, verdictItem)
	})
}

// minEnd returns when the legal minimum of a field ends, and the min=
// duration that sets it: the latest over the resolved policy and every
// floor (the tag's own min= and each matching override's), so that an
// override can raise min= but never lower it.
func (m *Manager) minEnd(root reflect.Value, created time.Time, p Policy, floors []minFloor) (time.Time, pii.Duration) {
	clock := func(from string) time.Time {
		if from == "" {
			return created
		}
		t, _ := clockField(root, from)
		return t
	}
	var end time.Time
	var dur pii.Duration
	consider := func(d pii.Duration, from string) {
		if d.IsZero() {
			return
		}
		c := clock(from)
		if c.IsZero() {
			return
		}
		if e := d.AddTo(c); e.After(end) {
			end, dur = e, d
		}
	}
	consider(p.Min, p.From)
	for _, f := range floors {
		consider(f.min, f.from)
	}
	return end, dur
}

// clockField reads the time.Time (or *time.Time) field named name.
func clockField(root reflect.Value, name string) (time.Time, bool) {
	fv := root.FieldByName(name)
	if !fv.IsValid() {
		return time.Time{}, false
	}
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return time.Time{}, false
		}
		fv = fv.Elem()
	}
	t, ok := fv.Interface().(time.Time)
	return t, ok && !t.IsZero()
}

func (m *Manager) recordOf(ptr any, created time.Time) (record, error) {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return record{}, fmt.Errorf("retention: need a non-nil pointer to a struct, got %T", ptr)
	}
	ti, err := m.typeOf(rv.Type())
	if err != nil {
		return record{}, err
	}
	if created.IsZero() {
		if m.created != nil {
			created = m.created(ptr)
		} else if ti.created != nil {
			created = rv.Elem().FieldByIndex(ti.created).Interface().(time.Time)
		}
	}
	return record{ti: ti, ptr: ptr, created: created}, nil
}

// Due returns the retention verdicts of the record ptr points to at time
// now: every field whose retention period has ended and whose action has
// not been applied yet, with its state (Due, Grace, Blocked, Deferred),
// action, policy and reason. Only items in state Due are applied by a sweep.
// Legal holds are not consulted (they live in the hold store; sweeps and
// Forget check them).
func (m *Manager) Due(now time.Time, ptr any) ([]Item, error) {
	r, err := m.recordOf(ptr, time.Time{})
	if err != nil {
		return nil, err
	}
	return m.evaluate(now, r, false)
}

// Next returns when the next retention event of the record falls due after
// now: an action, the end of a grace period or of a legal minimum. ok is
// false when nothing more will happen to the record.
func (m *Manager) Next(now time.Time, ptr any) (t time.Time, ok bool, err error) {
	r, err := m.recordOf(ptr, time.Time{})
	if err != nil {
		return time.Time{}, false, err
	}
	items, err := m.evaluate(now, r, true)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, it := range items {
		at := it.At
		if it.State == statePending {
			at = it.Expires
		}
		if at.After(now) && (!ok || at.Before(t)) {
			t, ok = at, true
		}
	}
	return t, ok, nil
}

// ReadCheck is read-time enforcement: it returns ErrExpired when field f of
// the record ptr points to is past its retention and still holds a value
// its action would change, so the value is never shown even before a sweep
// erases it. Values kept by then=block, a grace period or min= return
// ErrBlocked unless the context carries the auditor role ([WithRole]).
// Its signature is the one envelope's Options.ReadCheck takes; s may be
// nil. Application code names the field by its schema path:
//
//	s, err := pii.SchemaOf(c)
//	...
//	err = m.ReadCheck(ctx, s, s.Field("Email"), c)
func (m *Manager) ReadCheck(ctx context.Context, s *pii.Schema, f *pii.Field, ptr any) error {
	if f == nil {
		return errors.New("retention: ReadCheck: nil field (not a tagged field of the schema?)")
	}
	r, err := m.recordOf(ptr, time.Time{})
	if err != nil {
		return err
	}
	if s != nil && r.ti.s != s {
		return fmt.Errorf("retention: ReadCheck: schema %s does not describe %T", s.Name, ptr)
	}
	items, err := m.evaluate(m.clock.Now(), r, false)
	if err != nil {
		return err
	}
	auditor := roleFrom(ctx) == m.auditor
	for _, it := range items {
		if it.Field != f {
			continue
		}
		switch it.State {
		case Due:
			return ErrExpired
		case Grace, Blocked, Deferred:
			if !auditor {
				return ErrBlocked
			}
		}
	}
	return nil
}
