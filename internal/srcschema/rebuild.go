package srcschema

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"go/types"
	"reflect"
	"strings"
	"time"

	"github.com/fieldguard/pii"
)

// known are the defined types Rebuild uses as they are, rather than by
// their underlying type: their methods matter to database/sql, sqlmap or
// pii (time.Time is a clock and a column of its own; the Null types scan
// NULL).
var known = map[string]reflect.Type{
	"time.Time":                reflect.TypeFor[time.Time](),
	"time.Duration":            reflect.TypeFor[time.Duration](),
	"database/sql.NullString":  reflect.TypeFor[sql.NullString](),
	"database/sql.NullInt64":   reflect.TypeFor[sql.NullInt64](),
	"database/sql.NullInt32":   reflect.TypeFor[sql.NullInt32](),
	"database/sql.NullInt16":   reflect.TypeFor[sql.NullInt16](),
	"database/sql.NullByte":    reflect.TypeFor[sql.NullByte](),
	"database/sql.NullFloat64": reflect.TypeFor[sql.NullFloat64](),
	"database/sql.NullBool":    reflect.TypeFor[sql.NullBool](),
	"database/sql.NullTime":    reflect.TypeFor[sql.NullTime](),
	"database/sql.RawBytes":    reflect.TypeFor[sql.RawBytes](),
	"encoding/json.RawMessage": reflect.TypeFor[json.RawMessage](),
	"encoding/json.Number":     reflect.TypeFor[json.Number](),
}

// Rebuild returns a struct type, made with reflect.StructOf, that pii and
// the SQL mappings read as they read the struct type t declared in source:
// the same exported fields in the same order, with the same names, tags
// and kinds. It is for tools that work on values of a type they know only
// from source, such as the pii command reading an application's tables.
//
// Defined types become their underlying type (a type Email string is a
// string), except time.Time, time.Duration and the database/sql Null types,
// which are used as they are. Methods are lost, so a type whose methods
// matter cannot be rebuilt: a driver.Valuer or sql.Scanner other than
// those, or a role field (subject, id, tenant) that is a pointer to a
// fmt.Stringer. Such a field, and a field of a kind reflect cannot make
// (channels, functions, generic types), is left out when it carries no
// pii tag (or pii:"-"), and is an error otherwise. Unexported fields are
// left out. Embedded structs stay embedded.
//
// The result has no name: give it the program's schema name with
// pii.Register, and check it with SameSchema, which catches what a left-out
// field changes.
func Rebuild(t types.Type) (rt reflect.Type, err error) {
	defer func() {
		if r := recover(); r != nil { // reflect.StructOf panics on what it cannot build
			rt, err = nil, fmt.Errorf("%s cannot be rebuilt: %v", TypeString(t), r)
		}
	}()
	b := &rebuilder{seen: map[types.Type]bool{}}
	if _, ok := types.Unalias(t).Underlying().(*types.Struct); !ok {
		return nil, fmt.Errorf("%s is not a struct type", TypeString(t))
	}
	return b.of(t, TypeString(t))
}

type rebuilder struct {
	seen map[types.Type]bool // struct types being built: a type that contains itself cannot be rebuilt
}

// of returns the reflect type of t; where names it in errors.
func (b *rebuilder) of(t types.Type, where string) (reflect.Type, error) {
	t = types.Unalias(t)
	if n, ok := t.(*types.Named); ok {
		if obj := n.Obj(); obj.Pkg() != nil {
			if rt, ok := known[obj.Pkg().Path()+"."+obj.Name()]; ok {
				return rt, nil
			}
		}
		if n.TypeArgs().Len() > 0 {
			return nil, fmt.Errorf("%s: generic type %s", where, TypeString(n))
		}
		if valuer(n) {
			return nil, fmt.Errorf("%s: %s is a driver.Valuer or sql.Scanner whose methods the command cannot run", where, TypeString(n))
		}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		k := Kind(u)
		rt, ok := basicTypes[k]
		if !ok {
			return nil, fmt.Errorf("%s: %s", where, TypeString(t))
		}
		return rt, nil
	case *types.Pointer:
		e, err := b.of(u.Elem(), where)
		if err != nil {
			return nil, err
		}
		return reflect.PointerTo(e), nil
	case *types.Slice:
		e, err := b.of(u.Elem(), where+"[]")
		if err != nil {
			return nil, err
		}
		return reflect.SliceOf(e), nil
	case *types.Array:
		e, err := b.of(u.Elem(), where+"[]")
		if err != nil {
			return nil, err
		}
		return reflect.ArrayOf(int(u.Len()), e), nil
	case *types.Map:
		k, err := b.of(u.Key(), where)
		if err != nil {
			return nil, err
		}
		e, err := b.of(u.Elem(), where+"[]")
		if err != nil {
			return nil, err
		}
		return reflect.MapOf(k, e), nil
	case *types.Interface:
		if u.Empty() {
			return reflect.TypeFor[any](), nil
		}
	case *types.Struct:
		return b.structOf(t, u, where)
	}
	return nil, fmt.Errorf("%s: %s", where, TypeString(t))
}

func (b *rebuilder) structOf(t types.Type, st *types.Struct, where string) (reflect.Type, error) {
	if b.seen[t] {
		return nil, fmt.Errorf("%s: %s contains itself", where, TypeString(t))
	}
	b.seen[t] = true
	defer delete(b.seen, t)
	var fields []reflect.StructField
	for i := range st.NumFields() {
		f := st.Field(i)
		if !f.Exported() {
			continue
		}
		tag := reflect.StructTag(st.Tag(i))
		piiTag, tagged := tag.Lookup("pii")
		needed := tagged && strings.TrimSpace(piiTag) != "-"
		ft, err := b.of(f.Type(), where+"."+f.Name())
		if err == nil && needed && roleTag(piiTag) && stringerPtr(f.Type()) {
			err = fmt.Errorf("%s.%s: a pointer to a fmt.Stringer, whose String method the command cannot run", where, f.Name())
		}
		if err != nil {
			if needed {
				return nil, fmt.Errorf("cannot rebuild %s", err)
			}
			continue
		}
		fields = append(fields, reflect.StructField{Name: f.Name(), Type: ft, Tag: tag, Anonymous: f.Embedded()})
	}
	return reflect.StructOf(fields), nil
}

func roleTag(tag string) bool {
	first, _, _ := strings.Cut(tag, ",")
	switch strings.TrimSpace(first) {
	case "subject", "id", "tenant":
		return true
	}
	return false
}

func stringerPtr(t types.Type) bool {
	_, isPtr := types.Unalias(t).Underlying().(*types.Pointer)
	return isPtr && types.Implements(t, stringer)
}

// valuer reports whether t or *t has a Value() or Scan method, as
// driver.Valuer and sql.Scanner do.
func valuer(t types.Type) bool {
	for _, tt := range []types.Type{t, types.NewPointer(t)} {
		ms := types.NewMethodSet(tt)
		for i := range ms.Len() {
			switch ms.At(i).Obj().Name() {
			case "Value", "Scan":
				return true
			}
		}
	}
	return false
}

var basicTypes = map[reflect.Kind]reflect.Type{
	reflect.Bool: reflect.TypeFor[bool](), reflect.Int: reflect.TypeFor[int](), reflect.Int8: reflect.TypeFor[int8](),
	reflect.Int16: reflect.TypeFor[int16](), reflect.Int32: reflect.TypeFor[int32](), reflect.Int64: reflect.TypeFor[int64](),
	reflect.Uint: reflect.TypeFor[uint](), reflect.Uint8: reflect.TypeFor[uint8](), reflect.Uint16: reflect.TypeFor[uint16](),
	reflect.Uint32: reflect.TypeFor[uint32](), reflect.Uint64: reflect.TypeFor[uint64](), reflect.Uintptr: reflect.TypeFor[uintptr](),
	reflect.Float32: reflect.TypeFor[float32](), reflect.Float64: reflect.TypeFor[float64](),
	reflect.Complex64: reflect.TypeFor[complex64](), reflect.Complex128: reflect.TypeFor[complex128](),
	reflect.String: reflect.TypeFor[string](),
}

// SameSchema reports, as an error naming the first difference, whether a
// schema built at run time (pii.SchemaOf of a Rebuild result) describes
// the fields the source schema does: the name, every field's path,
// category, role and options, and the subject, id and tenant fields. Equal
// schemas bind sealed values and tokens to the same associated data.
func SameSchema(src, run *pii.Schema) error {
	if src.Name != run.Name {
		return fmt.Errorf("named %q, not %q", run.Name, src.Name)
	}
	if len(src.Fields) != len(run.Fields) {
		return fmt.Errorf("%s: %d tagged fields rebuilt, %d in source", src.Name, len(run.Fields), len(src.Fields))
	}
	for i, f := range src.Fields {
		g := run.Fields[i]
		if f.Path != g.Path || f.Category != g.Category || !reflect.DeepEqual(f.Opts, g.Opts) {
			return fmt.Errorf("%s.%s differs once rebuilt", src.Name, f.Path)
		}
	}
	for _, pair := range [][2]*pii.Field{{src.Subject, run.Subject}, {src.ID, run.ID}, {src.Tenant, run.Tenant}} {
		if (pair[0] == nil) != (pair[1] == nil) || pair[0] != nil && pair[0].Path != pair[1].Path {
			return fmt.Errorf("%s: its subject, id or tenant field differs once rebuilt", src.Name)
		}
	}
	return nil
}
