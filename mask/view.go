package mask

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sealedtext"
)

// Viewer is the person looking at data: an agent, a supervisor, a fraud
// analyst. ID identifies them in audit events; Role selects policy rules and
// tag reveal= lists; Channel is where the data will be shown or sent.
type Viewer struct {
	ID      string
	Role    string
	Channel Channel
}

// Budget limits how many values one viewer may reveal in a sliding window.
type Budget struct {
	Max    int           // reveals allowed per window; 0 = default 20
	Window time.Duration // 0 = default one hour
}

// ViewsOptions configures [NewViews].
type ViewsOptions struct {
	// Audit receives reveal and alert events. Default: [NewSlogAudit] on
	// slog.Default(); there is no way to turn auditing off.
	Audit AuditSink
	// Budget is the per-viewer reveal budget (the breach signal).
	Budget Budget
	// RefuseOverBudget refuses reveals once a viewer is over budget,
	// instead of only raising the alert.
	RefuseOverBudget bool
	// Now is the clock; default time.Now. Tests inject one.
	Now func() time.Time
}

// Views renders role- and channel-aware views of pii-tagged structs and
// performs audited reveals. It is safe for concurrent use.
type Views struct {
	policy *Policy
	audit  AuditSink
	budget Budget
	refuse bool
	now    func() time.Time

	mu      sync.Mutex
	reveals map[string][]time.Time // viewer id -> reveal times within the window
}

// NewViews returns Views applying policy (nil: [DefaultPolicy]). opts may
// be nil.
func NewViews(policy *Policy, opts *ViewsOptions) (*Views, error) {
	if policy == nil {
		policy = DefaultPolicy()
	}
	v := &Views{policy: policy, now: time.Now, reveals: map[string][]time.Time{}}
	if opts != nil {
		v.audit, v.budget, v.refuse = opts.Audit, opts.Budget, opts.RefuseOverBudget
		if opts.Now != nil {
			v.now = opts.Now
		}
	}
	if v.budget.Max < 0 || v.budget.Window < 0 {
		return nil, fmt.Errorf("mask: negative reveal budget")
	}
	if v.budget.Max == 0 {
		v.budget.Max = 20
	}
	if v.budget.Window == 0 {
		v.budget.Window = time.Hour
	}
	if v.audit == nil {
		v.audit = NewSlogAudit(nil)
	}
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
func (p *Policy) plan(t reflect.Type, role string, ch Channel) (*viewPlan, error) {
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
		d := p.Decide(f, role, ch)
		fp := &fieldPlan{action: d.Action, reveal: d.Revealable}
		if d.Action == ActionMask {
			if d.Style == StyleHMAC {
				// Same domain as log=hmac: pseudonyms link within a
				// category, not across categories.
				d.Style += ":" + f.Category
			}
			fn, err := p.masker.Style(d.Style)
			if err != nil {
				return nil, &wrapError{msg: fmt.Sprintf("mask: %s.%s: style %q", s.Name, f.Path, d.Style), err: err}
			}
			fp.style = fn
			name, _, _ := strings.Cut(d.Style, ":")
			fp.date = name == StyleDate
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

// View returns a masked deep copy of the struct ptr points to, as a pointer
// of the same type. The original is never modified. A shown field that is
// still sealed or tokenized fails the view with a [FieldError] (see the
// package documentation). Masked strings hold
// the style's output; a masked time.Time with the date style keeps only its
// year (January 1st, UTC); other masked or denied non-string fields are
// zero. Untagged fields that can hold tagged structs (a `Referrer
// *Customer` without `pii:"dive"`, an `any` holding one) are zero: the
// policy cannot reach them, so they are not shown. Unexported fields are
// copied shallowly.
func (v *Views) View(ctx context.Context, viewer Viewer, ptr any) (any, error) {
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
	err = vp.schema.Walk(cp.Interface(), func(f *pii.Field, path string, fv reflect.Value) error {
		fp := vp.fields[f]
		if fp.action != ActionDeny {
			if err := notClear(vp.schema, f, path, fv); err != nil {
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

// ViewOf is [Views.View] with the type kept.
func ViewOf[T any](ctx context.Context, v *Views, viewer Viewer, ptr *T) (*T, error) {
	out, err := v.View(ctx, viewer, ptr)
	if err != nil {
		return nil, err
	}
	return out.(*T), nil
}

// ViewMap returns the tagged personal-data fields of the struct ptr points
// to, masked for viewer, keyed by concrete path ("Email",
// "Contacts[1].Phone"). Denied fields are absent; nil pointers are absent.
// Values are strings.
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
	err = vp.schema.Walk(cp.Interface(), func(f *pii.Field, path string, fv reflect.Value) error {
		fp := vp.fields[f]
		if fp.action == ActionDeny {
			return nil
		}
		if err := notClear(vp.schema, f, path, fv); err != nil {
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

// ViewJSON is [Views.ViewMap] encoded as a JSON object (keys sorted).
func (v *Views) ViewJSON(ctx context.Context, viewer Viewer, ptr any) ([]byte, error) {
	m, err := v.ViewMap(ctx, viewer, ptr)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
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

// notClear returns a *FieldError when the value of field f at path is not
// a clear value a view may show: an envelope ciphertext, or a token its
// format marks as one (see tokenize.Card and tokenize.IBAN; formats whose
// tokens look like values cannot be told apart).
func notClear(s *pii.Schema, f *pii.Field, path string, fv reflect.Value) error {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	var cause error
	switch {
	case fv.Kind() == reflect.String:
		cause = notClearString(f, fv.String())
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Uint8:
		cause = notClearString(f, string(fv.Bytes()))
	case (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Array) && fv.Type().Elem().Kind() == reflect.String:
		for i := 0; i < fv.Len() && cause == nil; i++ {
			cause = notClearString(f, fv.Index(i).String())
		}
	}
	if cause == nil {
		return nil
	}
	fe := &FieldError{Type: s.Name, Path: path, Err: cause}
	switch {
	case s.ID != nil:
		fe.Record = s.ID.Path
	case s.Subject != nil:
		fe.Record = s.Subject.Path
	}
	return fe
}

func notClearString(f *pii.Field, v string) error {
	switch {
	case v == "":
		return nil
	case sealedtext.IsSealed(v):
		return ErrSealed
	case looksTokenized(f, v):
		return ErrTokenized
	}
	return nil
}

// looksTokenized reports whether v, the value of a reversible token= field,
// is marked as a token by its category's default format: card tokens fail
// the Luhn check and IBAN tokens the mod-97 check, which real values pass.
// Pseudonyms (token=hmac, "<key id>:<base64>") never have the shape of a
// card number or IBAN, so they are shown like values.
func looksTokenized(f *pii.Field, v string) bool {
	if f.Opts.Token == "" {
		return false
	}
	category := f.Category
	if i := strings.LastIndexByte(category, '.'); i >= 0 {
		category = category[i+1:]
	}
	switch category {
	case "card":
		return Card(v, 0) != Placeholder && !luhnSpan(v)
	case "iban":
		c := compactIBAN(v)
		return c != "" && !ibanValid([]byte(c))
	}
	return false
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
		return DateOf(fv.Interface().(time.Time)), true
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

// deepCopy copies v, duplicating what pointers, slices and maps reach
// through exported fields, so that masking the copy cannot touch the
// original. Shared and cyclic pointers stay shared and cyclic in the copy.
func deepCopy(v reflect.Value) reflect.Value {
	var c copier
	return c.copy(v)
}

type copier struct {
	seen map[seenKey]reflect.Value // allocated on the first pointer
}

type seenKey struct {
	p uintptr
	t reflect.Type
}

func (c *copier) copy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		k := seenKey{v.Pointer(), v.Type()}
		if c.seen == nil {
			c.seen = map[seenKey]reflect.Value{}
		} else if done, ok := c.seen[k]; ok {
			return done
		}
		np := reflect.New(v.Type().Elem())
		c.seen[k] = np
		np.Elem().Set(c.copy(v.Elem()))
		return np
	case reflect.Struct:
		if v.Type() == timeType {
			return v
		}
		nv := reflect.New(v.Type()).Elem()
		nv.Set(v)
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			fv := v.Field(i)
			if scalar(sf.Type) {
				continue
			}
			if tag := sf.Tag.Get("pii"); !sf.Anonymous && (tag == "" || tag == "-") {
				// Not walked by the schema: if it can hold tagged
				// personal data, the policy cannot mask it, so it is
				// left out of the copy.
				if reachesTagged(sf.Type) || (sf.Type.Kind() == reflect.Interface && !fv.IsNil() && reachesTagged(fv.Elem().Type())) {
					nv.Field(i).SetZero()
					continue
				}
			}
			nv.Field(i).Set(c.copy(fv))
		}
		return nv
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		ns := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(ns, v)
		if !scalar(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				ns.Index(i).Set(c.copy(v.Index(i)))
			}
		}
		return ns
	case reflect.Array:
		na := reflect.New(v.Type()).Elem()
		na.Set(v)
		if !scalar(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				na.Index(i).Set(c.copy(v.Index(i)))
			}
		}
		return na
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		nm := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			nm.SetMapIndex(it.Key(), c.copy(it.Value()))
		}
		return nm
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		if reachesTagged(v.Elem().Type()) {
			return reflect.Zero(v.Type())
		}
		nv := reflect.New(v.Type()).Elem()
		nv.Set(c.copy(v.Elem()))
		return nv
	}
	return v
}

var reachCache sync.Map // reflect.Type -> bool

// reachesTagged reports whether values of t can hold a struct with tagged
// personal-data fields (through pointers, slices, arrays, maps and struct
// fields).
func reachesTagged(t reflect.Type) bool {
	if r, ok := reachCache.Load(t); ok {
		return r.(bool)
	}
	r := reaches(t, map[reflect.Type]bool{})
	reachCache.Store(t, r)
	return r
}

func reaches(t reflect.Type, visiting map[reflect.Type]bool) bool {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			t = t.Elem()
			continue
		case reflect.Map:
			if reaches(t.Key(), visiting) {
				return true
			}
			t = t.Elem()
			continue
		}
		break
	}
	if t.Kind() != reflect.Struct || t == timeType || visiting[t] {
		return false
	}
	visiting[t] = true
	if s, err := pii.SchemaOf(t); err == nil && len(s.Fields) > 0 {
		return true
	}
	for i := 0; i < t.NumField(); i++ {
		if reaches(t.Field(i).Type, visiting) {
			return true
		}
	}
	return false
}

// scalar reports types whose values hold no references.
func scalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Struct, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return false
	}
	return true
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
	_ = vp.schema.Walk(cp.Interface(), func(f *pii.Field, p string, fv reflect.Value) error {
		if field == nil && (p == fieldPath || f.Path == fieldPath) {
			field, path, val = f, p, fv
		}
		return nil
	})
	if field == nil {
		return "", ErrNoField
	}
	if err := notClear(vp.schema, field, path, val); err != nil {
		return "", err
	}
	ev := AuditEvent{
		Time: v.now(), Kind: EventReveal, Viewer: viewer.ID, Role: viewer.Role, Channel: viewer.Channel,
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
		alert.Kind, alert.Count, alert.Window = EventBudgetExceeded, n, v.budget.Window
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
	cut := now.Add(-v.budget.Window)
	k := 0
	for k < len(ts) && !ts[k].After(cut) {
		k++
	}
	ts = ts[k:]
	n := len(ts) + 1
	over := n > v.budget.Max
	if !over || !v.refuse {
		if len(ts) >= v.budget.Max*2 {
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
