package mask

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/clock"
	"go.opentelemetry.io/otel/metric"
)

// Viewer is the person looking at data: an agent, a supervisor, a fraud
// analyst. ID identifies them in audit events; Role selects policy rules and
// tag reveal= lists; Channel is where the data will be shown or sent.
type Viewer struct {
	ID      string
	Role    string
	Channel Channel
}

// ViewsOptions configures [NewViews]: the rules and styles that decide
// what a viewer sees, and the audit and budget of reveals.
type ViewsOptions struct {
	// Rules override the tag and category defaults, for a field path, a
	// category, a role or a channel: the most specific matching rule wins
	// (see [Rule]). nil: tag and category defaults only.
	Rules []Rule
	// Masker supplies the styles (and the HMAC key of the hmac style).
	// Default: the built-in styles with no HMAC key.
	Masker *Masker
	// Sensitive lists categories denied on public channels in addition to
	// those the pii package marks sensitive (health, national_id, card, …)
	// and fields tagged `sensitive`.
	Sensitive []string
	// Scan tunes the scanner [Text] uses (phone regions, for example).
	// nil: defaults.
	Scan *ScanOptions
	// Audit receives reveal and alert events. Default: [SlogAudit] on
	// slog.Default(); there is no way to turn auditing off.
	Audit AuditSink
	// RevealBudget is how many values one viewer may reveal in
	// RevealWindow before the [EventBudgetExceeded] alert (the breach
	// signal). Defaults: 20 per hour.
	RevealBudget int
	RevealWindow time.Duration
	// RefuseOverBudget refuses reveals once a viewer is over budget,
	// instead of only raising the alert.
	RefuseOverBudget bool
	// Clock stamps audit events and slides the budget window. nil: the
	// system clock.
	Clock pii.Clock
	// MeterProvider receives the count of audited reveal attempts
	// (pii.mask.reveals). nil: the global provider.
	MeterProvider metric.MeterProvider
}

// Views decides, for each (field, viewer role, channel), whether a field
// is revealed, masked (and how) or denied: tags give the defaults, rules
// override them. It renders role- and channel-aware views of pii-tagged
// structs, performs audited reveals and masks free text ([Text]). It is
// safe for concurrent use; it caches one plan per (struct type, role,
// channel).
type Views struct {
	policy *policy
	audit  AuditSink
	max    int
	window time.Duration
	refuse bool
	clock  pii.Clock

	mu      sync.Mutex
	reveals map[string][]time.Time // viewer id -> reveal times within the window
}

// NewViews checks the rules and returns Views. opts may be nil: tag and
// category defaults, no rules, reveals audited to slog.Default().
func NewViews(opts *ViewsOptions) (*Views, error) {
	var o ViewsOptions
	if opts != nil {
		o = *opts
	}
	if o.RevealBudget < 0 || o.RevealWindow < 0 {
		return nil, fmt.Errorf("mask: negative reveal budget")
	}
	pol, err := newPolicy(&o)
	if err != nil {
		return nil, err
	}
	v := &Views{policy: pol, audit: o.Audit, max: o.RevealBudget, window: o.RevealWindow,
		refuse: o.RefuseOverBudget, clock: clock.Or(o.Clock), reveals: map[string][]time.Time{}}
	if v.max == 0 {
		v.max = 20
	}
	if v.window == 0 {
		v.window = time.Hour
	}
	if v.audit == nil {
		v.audit = SlogAudit(nil)
	}
	v.audit = countingAudit(v.audit, o.MeterProvider)
	return v, nil
}

// fieldPlan is the precomputed treatment of one field.
type fieldPlan struct {
	action Action
	style  func(string) string
	date   bool // style is the date style: time.Time keeps its year
	reveal bool
}

type viewPlan struct {
	schema *pii.Schema
	fields map[*pii.Field]*fieldPlan
}

const maxPlans = 4096

type planKey struct {
	t       reflect.Type
	role    string
	channel Channel
}

// plan returns the cached plan for the struct type ptr points to.
func (p *policy) plan(t reflect.Type, role string, ch Channel) (*viewPlan, error) {
	k := planKey{t, role, ch}
	if vp, ok := p.plans.Load(k); ok {
		return vp.(*viewPlan), nil
	}
	s, err := pii.SchemaOf(t)
	if err != nil {
		return nil, err
	}
	vp := &viewPlan{schema: s, fields: make(map[*pii.Field]*fieldPlan, len(s.Fields))}
	for _, f := range s.Fields {
		d := p.decide(f.Path, f.Category, f.Opts, role, ch)
		fp := &fieldPlan{action: d.Action, reveal: d.Revealable}
		if d.Action == ActionMask {
			if d.Style == styleHMAC {
				// Same domain as log=hmac: pseudonyms link within a
				// category, not across categories.
				d.Style += Style(":" + f.Category)
			}
			fn, err := p.masker.style(d.Style)
			if err != nil {
				return nil, &wrapError{msg: fmt.Sprintf("mask: %s.%s: style %q", s.Name, f.Path, d.Style), err: err}
			}
			fp.style = fn
			name, _ := d.Style.split()
			fp.date = Style(name) == styleDate
		}
		vp.fields[f] = fp
	}
	// Roles and channels are caller-supplied strings: cap the cache so
	// that arbitrary ones cannot grow it without bound.
	if p.nplans.Load() >= maxPlans {
		return vp, nil
	}
	actual, loaded := p.plans.LoadOrStore(k, vp)
	if !loaded {
		p.nplans.Add(1)
	}
	return actual.(*viewPlan), nil
}

func structPtr(ptr any) (reflect.Value, error) {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("mask: need a non-nil pointer to a tagged struct, got %T", ptr)
	}
	return rv, nil
}

// view is ViewOf for a pointer of any type.
func (v *Views) view(ctx context.Context, viewer Viewer, ptr any) (any, error) {
	rv, err := structPtr(ptr)
	if err != nil {
		return nil, err
	}
	vp, err := v.policy.plan(rv.Type().Elem(), viewer.Role, viewer.Channel)
	if err != nil {
		return nil, err
	}
	cp := reflect.New(rv.Type().Elem())
	cp.Elem().Set(deepCopy(rv.Elem()))
	err = vp.schema.Walk(cp.Interface(), func(f *pii.Field, path string, _, fv reflect.Value) error {
		fp := vp.fields[f]
		if fp.action != ActionDeny {
			if err := notClear(vp.schema, cp.Interface(), f, path, fv); err != nil {
				return err
			}
		}
		applyStruct(fp, fv)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cp.Interface(), nil
}

// ViewOf returns a masked deep copy of the tagged struct ptr points to, as
// viewer may see it; the original is never modified. Masked strings hold
// the style's output; a masked time.Time with the date style keeps only its
// year (January 1st, UTC); other masked or denied non-string fields are
// zero. Untagged fields that can hold tagged structs (a `Referrer
// *Customer` without `pii:"dive"`, an `any` holding one) are zero: the
// policy cannot reach them, so they are not shown. Unexported fields are
// copied shallowly. A shown field that is still sealed or tokenized fails
// the view with a [pii.FieldError] (see the package documentation).
func ViewOf[T any](ctx context.Context, v *Views, viewer Viewer, ptr *T) (*T, error) {
	out, err := v.view(ctx, viewer, ptr)
	if err != nil {
		return nil, err
	}
	return out.(*T), nil
}

// ViewAny is [ViewOf] for a pointer whose type is known only at run time
// (code that handles many tagged types through `any`): it returns the
// masked deep copy, of the same pointer type as ptr.
func (v *Views) ViewAny(ctx context.Context, viewer Viewer, ptr any) (any, error) {
	return v.view(ctx, viewer, ptr)
}

// ViewMap returns the tagged personal-data fields of the struct ptr points
// to, masked for viewer, keyed by concrete path ("Email",
// "Contacts[1].Phone"), for templates, UIs and JSON (json.Marshal sorts the
// keys). Denied fields are absent; nil pointers are absent. Values are
// strings. Sealed or tokenized fields fail as in [ViewOf].
func (v *Views) ViewMap(ctx context.Context, viewer Viewer, ptr any) (map[string]any, error) {
	rv, err := structPtr(ptr)
	if err != nil {
		return nil, err
	}
	vp, err := v.policy.plan(rv.Type().Elem(), viewer.Role, viewer.Channel)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(vp.schema.Fields))
	// Walk stores map elements back; walk a copy so the original is
	// untouched even then.
	cp := reflect.New(rv.Type().Elem())
	cp.Elem().Set(deepCopy(rv.Elem()))
	err = vp.schema.Walk(cp.Interface(), func(f *pii.Field, path string, _, fv reflect.Value) error {
		fp := vp.fields[f]
		if fp.action == ActionDeny {
			return nil
		}
		if err := notClear(vp.schema, cp.Interface(), f, path, fv); err != nil {
			return err
		}
		if s, ok := render(fp, fv); ok {
			out[path] = s
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var timeType = reflect.TypeFor[time.Time]()

// applyStruct masks one field of a struct copy in place.
func applyStruct(fp *fieldPlan, fv reflect.Value) {
	switch fp.action {
	case ActionReveal:
		return
	case ActionDeny:
		fv.SetZero()
		return
	}
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return
		}
		if fv.Type().Elem().Kind() == reflect.String {
			np := reflect.New(fv.Type().Elem())
			np.Elem().SetString(fp.style(fv.Elem().String()))
			fv.Set(np)
			return
		}
		if fv.Type().Elem() == timeType && fp.date {
			np := reflect.New(timeType)
			np.Elem().Set(reflect.ValueOf(yearOnly(fv.Elem().Interface().(time.Time))))
			fv.Set(np)
			return
		}
		fv.SetZero()
		return
	}
	switch {
	case fv.Kind() == reflect.String:
		fv.SetString(fp.style(fv.String()))
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Uint8:
		if fv.Len() > 0 {
			fv.SetBytes([]byte(fp.style(string(fv.Bytes()))))
		}
	case fv.Type() == timeType && fp.date:
		fv.Set(reflect.ValueOf(yearOnly(fv.Interface().(time.Time))))
	default:
		fv.SetZero()
	}
}

func yearOnly(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
}

// render returns the display string of a field for maps and JSON.
func render(fp *fieldPlan, fv reflect.Value) (string, bool) {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return "", false
		}
		fv = fv.Elem()
	}
	if fp.action == ActionMask && fp.date && fv.Type() == timeType {
		return maskDateOf(fv.Interface().(time.Time)), true
	}
	s := clearString(fv)
	if fp.action == ActionReveal {
		return s, true
	}
	return fp.style(s), true
}

// clearString formats a field value for a style or a reveal.
func clearString(fv reflect.Value) string {
	switch fv.Kind() {
	case reflect.String:
		return fv.String()
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.Uint8 {
			return string(fv.Bytes())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(fv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(fv.Uint(), 10)
	}
	if fv.Type() == timeType {
		t := fv.Interface().(time.Time)
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
			return t.Format(time.DateOnly)
		}
		return t.Format(time.RFC3339)
	}
	if fv.CanInterface() {
		return fmt.Sprint(fv.Interface())
	}
	return ""
}

// Reveal returns the clear value of one field (schema path "Email" or
// concrete path "Contacts[1].Phone") to a viewer allowed to see it, for a
// stated reason, and records an audit event (never the value). A denied or
// over-budget attempt is audited too. If the audit sink fails, nothing is
// revealed.
func (v *Views) Reveal(ctx context.Context, viewer Viewer, ptr any, fieldPath, reason string) (string, error) {
	rv, err := structPtr(ptr)
	if err != nil {
		return "", err
	}
	vp, err := v.policy.plan(rv.Type().Elem(), viewer.Role, viewer.Channel)
	if err != nil {
		return "", err
	}
	var (
		field *pii.Field
		path  string
		val   reflect.Value
	)
	cp := reflect.New(rv.Type().Elem())
	cp.Elem().Set(deepCopy(rv.Elem()))
	_ = vp.schema.Walk(cp.Interface(), func(f *pii.Field, p string, _, fv reflect.Value) error {
		if field == nil && (p == fieldPath || f.Path == fieldPath) {
			field, path, val = f, p, fv
		}
		return nil
	})
	if field == nil {
		return "", errNoField
	}
	if err := notClear(vp.schema, cp.Interface(), field, path, val); err != nil {
		return "", err
	}
	ev := AuditEvent{
		Time: v.clock.Now(), Kind: EventReveal, Viewer: viewer.ID, Role: viewer.Role, Channel: viewer.Channel,
		Tenant: vp.schema.TenantOf(ptr), Type: vp.schema.Name, Record: vp.schema.RecordOf(ptr), Field: path,
		Category: field.Category, Reason: strings.TrimSpace(reason),
	}
	if ev.Reason == "" {
		return "", ErrReasonRequired
	}
	if viewer.ID == "" || !vp.fields[field].reveal {
		ev.Kind = EventRevealDenied
		if err := v.audit.Audit(ctx, ev); err != nil {
			return "", fmt.Errorf("mask: audit: %w", err)
		}
		return "", ErrDenied
	}
	if n, over := v.spend(viewer.ID, ev.Time); over {
		alert := ev
		alert.Kind, alert.Count, alert.Window = EventBudgetExceeded, n, v.window
		if err := v.audit.Audit(ctx, alert); err != nil {
			return "", fmt.Errorf("mask: audit: %w", err)
		}
		if v.refuse {
			return "", ErrBudgetExceeded
		}
	}
	if err := v.audit.Audit(ctx, ev); err != nil {
		return "", fmt.Errorf("mask: audit: %w", err)
	}
	if val.Kind() == reflect.Pointer {
		if val.IsNil() {
			return "", nil
		}
		val = val.Elem()
	}
	return clearString(val), nil
}

// spend records a reveal at now and reports the number of reveals in the
// window (this one included) and whether that is over budget. A refused
// reveal is not recorded when refusal is on, so the budget refills as the
// window slides.
func (v *Views) spend(id string, now time.Time) (int, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ts := v.reveals[id]
	cut := now.Add(-v.window)
	k := 0
	for k < len(ts) && !ts[k].After(cut) {
		k++
	}
	ts = ts[k:]
	n := len(ts) + 1
	over := n > v.max
	if !over || !v.refuse {
		if len(ts) >= v.max*2 {
			ts = ts[1:] // bound memory; the count stays over budget
		}
		ts = append(ts, now)
	}
	if len(ts) == 0 {
		delete(v.reveals, id)
	} else {
		v.reveals[id] = ts
	}
	return n, over
}
