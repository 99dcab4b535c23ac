package pii

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Schema is the parsed `pii` description of one struct type. It is built
// once per type by [SchemaOf] and shared: treat it as read-only.
type Schema struct {
	// Type is the struct type described; nil in a schema a source tool
	// built (the pii command's inventory, piivet).
	Type reflect.Type
	// Name is the stable type name bound into associated data: the name
	// given to [Register], or the Go type's name.
	Name string
	// Fields lists every tagged personal-data field, nested ones included,
	// with full paths, in the order Walk visits them: a struct's own fields
	// (promoted ones included) first, then its nested structs in declaration
	// order.
	Fields []*Field
	// Subject, ID and Tenant are the fields tagged subject, id and tenant on
	// the top-level struct (embedded structs included), or nil.
	Subject, ID, Tenant *Field

	// untagged lists exported fields that carry no `pii` tag (and are not
	// embedded or dived structs), for the inventory's warnings.
	untagged []untaggedField
	info     typeInfo // the type as the builder read it
	root     *plan
	byKey    map[string]*Field
}

// Field is one tagged field.
type Field struct {
	// Path is the field's schema path: "Email", "Address.Street",
	// "Contacts[].Phone", "Labels[].Name" for maps.
	Path string
	// Name is the Go field name.
	Name string
	// Category is the data category ("email", "user.contact.email"), or
	// "subject", "id", "tenant" for those roles.
	Category string
	// Type is the field's Go type; nil in a schema a source tool built.
	Type reflect.Type
	Opts TagOptions
	// Index is the index path within the struct that declares it (through
	// embedded structs), for reflect.Value.FieldByIndex.
	Index []int
	// FromIndex is the index path of the From clock field within the
	// top-level struct, or nil.
	FromIndex []int
	// IndexFieldIndex is the index path of the IndexField companion within
	// the declaring struct, or nil.
	IndexFieldIndex []int
	// WithIndex is the index path of the with= field of a compound index
	// within the declaring struct, or nil.
	WithIndex []int

	info typeInfo // the field's type as the builder read it
	role role     // data in Fields; subject, id or tenant in those slots
}

// untaggedField is an exported field without a `pii` tag.
type untaggedField struct {
	path string
	info typeInfo
}

// plan is the walk plan of one struct position.
type plan struct {
	leaves []*Field
	dives  []*dive
}

type dive struct {
	index  []int
	name   string // path element, e.g. "Contacts"
	kind   reflect.Kind
	ptr    bool  // element is a pointer to struct
	direct bool  // the field itself is a struct (or pointer to one)
	child  *plan // plan of the element struct
}

var (
	cache     sync.Map // reflect.Type -> *cacheEntry
	nameMu    sync.Mutex
	names     = map[reflect.Type]string{}
	nameTypes = map[string]reflect.Type{}
)

type cacheEntry struct {
	s   *Schema
	err error
}

var timeType = reflect.TypeFor[time.Time]()

// Register gives the struct type of v a stable name for associated data.
// Call it from init, before the type is first used: data sealed under one
// name opens only under that name, so when you rename or move a Go type,
// register its old name to keep its data readable. Registering a name used
// by another type, or renaming a type whose schema was already built, is an
// error.
func Register(v any, name string) error {
	t, err := structType(v)
	if err != nil {
		return err
	}
	if name == "" || strings.ContainsAny(name, "\x00") {
		return fmt.Errorf("pii: Register %s: empty or invalid name", t)
	}
	nameMu.Lock()
	defer nameMu.Unlock()
	if other, ok := nameTypes[name]; ok && other != t {
		return fmt.Errorf("pii: Register %s: name %q already names %s", t, name, other)
	}
	if e, ok := cache.Load(t); ok && e.(*cacheEntry).s != nil && e.(*cacheEntry).s.Name != name {
		return fmt.Errorf("pii: Register %s: schema already built under name %q; register in init", t, e.(*cacheEntry).s.Name)
	}
	if old, ok := names[t]; ok {
		delete(nameTypes, old)
	}
	names[t] = name
	nameTypes[name] = t
	return nil
}

// SchemaOf returns the cached schema of v's struct type. v may be a struct,
// a pointer to one (nil pointers are fine), or a reflect.Type of either.
// The first call for a type parses and checks its tags; later calls cost
// one map lookup and allocate nothing.
func SchemaOf(v any) (*Schema, error) {
	t, ok := v.(reflect.Type)
	if !ok {
		t = reflect.TypeOf(v)
	}
	if e, ok := cache.Load(t); ok {
		ce := e.(*cacheEntry)
		return ce.s, ce.err
	}
	return schemaSlow(t)
}

func schemaSlow(t reflect.Type) (*Schema, error) {
	st := t
	for st != nil && st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	var entry *cacheEntry
	switch {
	case st == nil || st.Kind() != reflect.Struct:
		entry = &cacheEntry{err: fmt.Errorf("pii: SchemaOf: %v is not a struct or a pointer to a struct", t)}
	default:
		e, ok := cache.Load(st)
		if !ok {
			s, err := build(st)
			e, _ = cache.LoadOrStore(st, &cacheEntry{s: s, err: err})
		}
		entry = e.(*cacheEntry)
	}
	// Entries are never mutated once stored; pointer types share the
	// struct type's entry.
	e, _ := cache.LoadOrStore(t, entry)
	ce := e.(*cacheEntry)
	return ce.s, ce.err
}

func structType(v any) (reflect.Type, error) {
	t, ok := v.(reflect.Type)
	if !ok {
		t = reflect.TypeOf(v)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("pii: %v is not a struct or a pointer to a struct", t)
	}
	return t, nil
}

type builder struct {
	top   typeInfo
	s     *Schema
	stack []typeInfo
}

func build(t reflect.Type) (*Schema, error) {
	nameMu.Lock()
	name, ok := names[t]
	nameMu.Unlock()
	if !ok {
		name = t.Name()
		if name == "" {
			name = t.String()
		}
	}
	s, err := buildInfo(infoOf(t), name)
	if err != nil {
		return nil, err
	}
	s.Type = t
	return s, nil
}

// schemaFromInfo builds the schema of the struct type t describes, by the
// rules SchemaOf applies, for tools that read types from source (see
// internal/typeinfo). name is the type's stable name ("" means t.Name()): a source
// tool finds it in the program's Register calls. The result describes the
// type: its Type and its fields' Type are nil, so it reports and checks but
// cannot Walk values. It is not cached.
func schemaFromInfo(t typeInfo, name string) (*Schema, error) {
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("pii: schema from source: %v is not a struct", t)
	}
	if name == "" {
		name = t.Name()
		if name == "" {
			name = t.String()
		}
	}
	return buildInfo(t, name)
}

func buildInfo(t typeInfo, name string) (*Schema, error) {
	s := &Schema{Name: name, info: t, byKey: map[string]*Field{}}
	b := &builder{top: t, s: s}
	root, err := b.plan(t, "", nil, true)
	if err != nil {
		return nil, err
	}
	s.root = root
	s.collect(root)
	return s, nil
}

// collect lists the fields in walk order: a struct's own fields first, then
// its nested structs in declaration order.
func (s *Schema) collect(p *plan) {
	for _, f := range p.leaves {
		s.Fields = append(s.Fields, f)
		s.byKey[f.Path] = f
	}
	for _, d := range p.dives {
		s.collect(d.child)
	}
}

// plan builds the walk plan of struct type t found at path prefix. embed is
// the index prefix when t is embedded (promoted fields); top says whether t
// is (part of) the top-level struct.
func (b *builder) plan(t typeInfo, prefix string, embed []int, top bool) (*plan, error) {
	for _, seen := range b.stack {
		if seen == t {
			return nil, badTag(b.top.String(), strings.TrimSuffix(strings.TrimSuffix(prefix, "."), "[]"), "", fmt.Sprintf("recursive dive into %s is not supported", t))
		}
	}
	b.stack = append(b.stack, t)
	defer func() { b.stack = b.stack[:len(b.stack)-1] }()
	p := &plan{}
	if err := b.fields(p, t, t, prefix, embed, top); err != nil {
		return nil, err
	}
	return p, nil
}

func (b *builder) fields(p *plan, owner, t typeInfo, prefix string, embed []int, top bool) error {
	typeName := b.top.String()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		index := append(append([]int(nil), embed...), i)
		tag, tagged := sf.Tag.Lookup("pii")
		path := prefix + sf.Name
		if !sf.Exported {
			if tagged && !sf.Anonymous {
				return badTag(typeName, path, "", "unexported field cannot be tagged (the library cannot read or set it)")
			}
			if !sf.Anonymous {
				continue
			}
		}
		if !tagged {
			ft := sf.Type
			if sf.Anonymous {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					if sf.Type.Kind() == reflect.Pointer {
						// Embedded pointer: walk through it like a dive with an empty path element.
						child, err := b.plan(ft, prefix, nil, top)
						if err != nil {
							return err
						}
						p.dives = append(p.dives, &dive{index: index, kind: reflect.Pointer, direct: true, ptr: true, child: child})
						continue
					}
					if err := b.fields(p, owner, ft, prefix, index, top); err != nil {
						return err
					}
					continue
				}
			}
			if sf.Exported {
				b.s.untagged = append(b.s.untagged, untaggedField{path: path, info: sf.Type})
			}
			continue
		}
		pt, err := parseTag(typeName, path, tag)
		if err != nil {
			return err
		}
		if pt.skip {
			continue
		}
		if pt.dive {
			d, err := b.dive(sf, index, path)
			if err != nil {
				return err
			}
			p.dives = append(p.dives, d)
			continue
		}
		f := &Field{Path: path, Name: sf.Name, Category: pt.category, role: pt.role, Type: reflectType(sf.Type), info: sf.Type, Opts: pt.opts, Index: index}
		if err := b.check(f, owner, top); err != nil {
			return err
		}
		if f.role != roleData {
			if !top {
				// Roles count on the top-level type only; a nested struct's
				// own id or subject is ordinary, non-personal data here.
				continue
			}
			slot := map[role]**Field{roleSubject: &b.s.Subject, roleID: &b.s.ID, roleTenant: &b.s.Tenant}[f.role]
			if *slot != nil {
				return badTag(typeName, path, f.role.String(), fmt.Sprintf("second %s field (the first is %s)", f.role, (*slot).Path))
			}
			*slot = f
			continue
		}
		p.leaves = append(p.leaves, f)
	}
	return nil
}

func (b *builder) dive(sf structField, index []int, path string) (*dive, error) {
	fail := func(msg string) (*dive, error) {
		return nil, badTag(b.top.String(), path, "dive", msg)
	}
	d := &dive{index: index, name: sf.Name, kind: sf.Type.Kind()}
	elem := sf.Type
	suffix := "."
	switch sf.Type.Kind() {
	case reflect.Struct:
		d.direct = true
	case reflect.Pointer:
		d.direct, d.ptr = true, true
		elem = sf.Type.Elem()
	case reflect.Slice, reflect.Array, reflect.Map:
		elem = sf.Type.Elem()
		suffix = "[]."
		if elem.Kind() == reflect.Pointer {
			d.ptr = true
			elem = elem.Elem()
		}
	default:
		return fail(fmt.Sprintf("dive needs a struct, a pointer to one, or a slice, array or map of them, not %s", sf.Type))
	}
	if elem.Kind() != reflect.Struct || isTime(elem) {
		return fail(fmt.Sprintf("dive needs struct elements, not %s", elem))
	}
	child, err := b.plan(elem, path+suffix, nil, false)
	if err != nil {
		return nil, err
	}
	d.child = child
	return d, nil
}

// check applies the rules that need the field's type.
func (b *builder) check(f *Field, owner typeInfo, top bool) error {
	typeName := b.top.String()
	fail := func(token, msg string) error {
		return badTag(typeName, f.Path, token, msg)
	}
	ft := f.info
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	isString := ft.Kind() == reflect.String
	isBytes := ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8
	switch f.role {
	case roleSubject, roleID, roleTenant:
		if !isString && !isInteger(ft.Kind()) && !ft.HasStringMethod() {
			return fail(f.role.String(), fmt.Sprintf("a %s field must be a string, an integer or a fmt.Stringer, not %s", f.role, f.info))
		}
		return nil
	}
	o := &f.Opts
	if o.Encrypt != EncryptNone && !isString && !isBytes {
		tok := "encrypt"
		if o.Encrypt == EncryptDet {
			tok = "encrypt=det"
		}
		return fail(tok, fmt.Sprintf("a %s field cannot hold a ciphertext; use string or []byte (store dates as RFC 3339 strings)", f.info))
	}
	if o.Token != "" && !isString {
		return fail("token="+o.Token, fmt.Sprintf("a %s field cannot hold a token; use string", f.info))
	}
	if o.IndexField != "" {
		sf, ok := owner.FieldByName(o.IndexField)
		if !ok {
			return fail("index="+o.IndexField, fmt.Sprintf("no field %s in %s", o.IndexField, owner))
		}
		k := sf.Type
		if k.Kind() != reflect.String && !(k.Kind() == reflect.Slice && k.Elem().Kind() == reflect.Uint8) {
			return fail("index="+o.IndexField, fmt.Sprintf("companion field %s must be string or []byte, not %s", o.IndexField, k))
		}
		// Index is relative to owner, the struct the walk stands on, so the
		// companion's index path is too.
		f.IndexFieldIndex = sf.Index
	}
	if !isString {
		switch {
		case o.Norm != 0:
			return fail("norm="+o.Norm.String(), fmt.Sprintf("norm= normalises text; %s is not a string field", f.info))
		case o.Prefix > 0:
			return fail("prefix="+strconv.Itoa(o.Prefix), fmt.Sprintf("prefix= counts characters; %s is not a string field", f.info))
		case o.With != "":
			return fail("with="+o.With, fmt.Sprintf("a compound index is over text; %s is not a string field", f.info))
		}
	}
	if o.With != "" {
		sf, ok := owner.FieldByName(o.With)
		switch {
		case !ok:
			return fail("with="+o.With, fmt.Sprintf("no field %s in %s", o.With, owner))
		case o.With == f.Name:
			return fail("with="+o.With, "a compound index needs a second field, not the field itself")
		case sf.Type.Kind() != reflect.String:
			return fail("with="+o.With, fmt.Sprintf("field %s must be a string, not %s", o.With, sf.Type))
		}
		f.WithIndex = sf.Index
	}
	if o.From != "" {
		sf, ok := b.top.FieldByName(o.From)
		if !ok {
			return fail("from="+o.From, fmt.Sprintf("no field %s in %s (from= names a time.Time field of the top-level struct)", o.From, b.top))
		}
		k := sf.Type
		if k.Kind() == reflect.Pointer {
			k = k.Elem()
		}
		if !isTime(k) {
			return fail("from="+o.From, fmt.Sprintf("field %s is %s, not time.Time", o.From, sf.Type))
		}
		f.FromIndex = sf.Index
	}
	return nil
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// Field returns the field with the given schema path ("Contacts[].Phone"),
// or nil.
func (s *Schema) Field(path string) *Field { return s.byKey[path] }

// errNotPointer is returned by Walk when it is not given a non-nil pointer
// to the schema's struct type: a programming error.
var errNotPointer = errors.New("pii: need a non-nil pointer to the struct")

// Walk calls fn for every tagged personal-data field of the struct ptr
// points to, in the order of Schema.Fields, descending through embedded structs,
// pointers, dived structs, slices, arrays and maps. v is settable. path is
// the concrete path ("Contacts[2].Phone", `Labels["home"].Street`). Nil
// pointers and empty containers are skipped. Map elements that are struct
// values are copied, walked and stored back. The first error stops the walk.
// owner is the struct value that declares the field (settable), so
// callers can reach its companion fields with
// owner.FieldByIndex(f.IndexFieldIndex).
func (s *Schema) Walk(ptr any, fn func(f *Field, path string, owner, v reflect.Value) error) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Type().Elem() != s.Type {
		return fmt.Errorf("%w: %s, got %T", errNotPointer, s.Type, ptr)
	}
	return walk(s.root, rv.Elem(), "", fn)
}

func walk(p *plan, v reflect.Value, prefix string, fn func(*Field, string, reflect.Value, reflect.Value) error) error {
	for _, f := range p.leaves {
		path := f.Path
		if prefix != "" {
			path = prefix + f.Name
		}
		if err := fn(f, path, v, v.FieldByIndex(f.Index)); err != nil {
			return err
		}
	}
	for _, d := range p.dives {
		fv := v.FieldByIndex(d.index)
		if d.direct {
			if d.ptr {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			next := prefix
			if d.name != "" {
				next = prefix + d.name + "."
			}
			if err := walk(d.child, fv, next, fn); err != nil {
				return err
			}
			continue
		}
		switch d.kind {
		case reflect.Slice, reflect.Array:
			for i := 0; i < fv.Len(); i++ {
				ev := fv.Index(i)
				if d.ptr {
					if ev.IsNil() {
						continue
					}
					ev = ev.Elem()
				}
				if err := walk(d.child, ev, prefix+d.name+"["+strconv.Itoa(i)+"].", fn); err != nil {
					return err
				}
			}
		case reflect.Map:
			keys := fv.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
			for _, k := range keys {
				ev := fv.MapIndex(k)
				elemPath := prefix + d.name + "[" + mapKey(k) + "]."
				if d.ptr {
					if ev.IsNil() {
						continue
					}
					if err := walk(d.child, ev.Elem(), elemPath, fn); err != nil {
						return err
					}
					continue
				}
				cp := reflect.New(ev.Type()).Elem()
				cp.Set(ev)
				if err := walk(d.child, cp, elemPath, fn); err != nil {
					return err
				}
				fv.SetMapIndex(k, cp)
			}
		}
	}
	return nil
}

func mapKey(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return strconv.Quote(k.String())
	}
	return fmt.Sprint(k.Interface())
}

// SubjectOf returns the subject id of the struct ptr points to, or "" when
// the type has no subject field.
func (s *Schema) SubjectOf(ptr any) string { return s.roleValue(ptr, s.Subject) }

// TenantOf returns the tenant id, or "" when the type has no tenant field.
func (s *Schema) TenantOf(ptr any) string { return s.roleValue(ptr, s.Tenant) }

// RecordOf returns the id that binds a record's values: its id field, or
// its subject when it has no id.
func (s *Schema) RecordOf(ptr any) string {
	if s.ID != nil {
		return s.roleValue(ptr, s.ID)
	}
	return s.SubjectOf(ptr)
}

func (s *Schema) roleValue(ptr any, f *Field) string {
	if f == nil {
		return ""
	}
	rv := reflect.ValueOf(ptr)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Type() != s.Type {
		return ""
	}
	fv, err := rv.FieldByIndexErr(f.Index)
	if err != nil {
		return ""
	}
	return formatID(fv)
}

// clockOf returns the value of f's from= clock field in the struct ptr
// points to; ok is false when f has no clock or the clock is unset.
func (s *Schema) clockOf(ptr any, f *Field) (t time.Time, ok bool) {
	if f.FromIndex == nil {
		return time.Time{}, false
	}
	rv := reflect.ValueOf(ptr)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return time.Time{}, false
		}
		rv = rv.Elem()
	}
	if rv.Type() != s.Type {
		return time.Time{}, false
	}
	fv, err := rv.FieldByIndexErr(f.FromIndex)
	if err != nil {
		return time.Time{}, false
	}
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return time.Time{}, false
		}
		fv = fv.Elem()
	}
	t = fv.Interface().(time.Time)
	return t, !t.IsZero()
}

func formatID(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		if st, ok := v.Interface().(fmt.Stringer); ok {
			return st.String()
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	}
	if st, ok := v.Interface().(fmt.Stringer); ok {
		return st.String()
	}
	if v.CanAddr() {
		if st, ok := v.Addr().Interface().(fmt.Stringer); ok {
			return st.String()
		}
	}
	return ""
}
