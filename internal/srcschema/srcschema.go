// Package srcschema builds pii schemas from source: it describes go/types
// types as typeinfo.TypeInfo, so [Schema] applies the library's own tag
// parser and checks to code that is read, not run. The pii command's
// inventory and the piivet analyzer share it.
package srcschema

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"reflect"
	"strconv"
	"strings"

	"golang.org/x/tools/go/types/typeutil"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/typeinfo"
)

// Schema builds the schema of the struct type t describes, by the rules
// pii.SchemaOf applies. name is the type's stable name ("" means
// t.Name()): find it in the program's Register calls (RegisteredNames).
// The result describes the type: its Type and its fields' Type are nil, so
// it reports and checks but cannot Walk values. It is not cached.
func Schema(t typeinfo.TypeInfo, name string) (*pii.Schema, error) {
	s, err := typeinfo.Build(t, name)
	if err != nil {
		return nil, err
	}
	return s.(*pii.Schema), nil
}

// Inventory is pii.Inventory of schemas already built, which cannot fail.
func Inventory(schemas ...*pii.Schema) *pii.Report {
	types := make([]any, len(schemas))
	for i, s := range schemas {
		types[i] = s
	}
	r, err := pii.Inventory(types...)
	if err != nil {
		panic("srcschema: pii.Inventory of built schemas: " + err.Error())
	}
	return r
}

// Module is this module's import path.
const Module = "github.com/fieldguard/pii"

// Types describes go/types types as typeinfo.TypeInfo. Identical types get the
// same (==) TypeInfo, as pii requires. The zero value is ready to use; a
// Types is not safe for concurrent use.
type Types struct {
	m typeutil.Map
}

// Of returns the TypeInfo of t.
func (ts *Types) Of(t types.Type) typeinfo.TypeInfo {
	t = types.Unalias(t)
	if v := ts.m.At(t); v != nil {
		return v.(*info)
	}
	i := &info{ts: ts, t: t}
	ts.m.Set(t, i)
	return i
}

type info struct {
	ts *Types
	t  types.Type
}

var _ typeinfo.TypeInfo = (*info)(nil)

func (i *info) String() string { return TypeString(i.t) }

func (i *info) Name() string {
	if n, ok := i.t.(*types.Named); ok {
		if n.TypeArgs().Len() > 0 {
			return strings.TrimPrefix(TypeString(n), pkgName(n.Obj())+".")
		}
		return n.Obj().Name()
	}
	if b, ok := i.t.(*types.Basic); ok && b.Kind() != types.UnsafePointer {
		return TypeString(b)
	}
	return ""
}

func (i *info) PkgPath() string {
	if n, ok := i.t.(*types.Named); ok && n.Obj().Pkg() != nil {
		return n.Obj().Pkg().Path()
	}
	return ""
}

func (i *info) Kind() reflect.Kind { return Kind(i.t) }

func (i *info) Elem() typeinfo.TypeInfo {
	switch u := i.t.Underlying().(type) {
	case *types.Pointer:
		return i.ts.Of(u.Elem())
	case *types.Slice:
		return i.ts.Of(u.Elem())
	case *types.Array:
		return i.ts.Of(u.Elem())
	case *types.Map:
		return i.ts.Of(u.Elem())
	case *types.Chan:
		return i.ts.Of(u.Elem())
	}
	panic("srcschema: Elem of " + i.String())
}

func (i *info) st() *types.Struct {
	st, ok := i.t.Underlying().(*types.Struct)
	if !ok {
		panic("srcschema: fields of non-struct " + i.String())
	}
	return st
}

func (i *info) NumField() int { return i.st().NumFields() }

func (i *info) Field(n int) typeinfo.FieldInfo {
	st := i.st()
	f := st.Field(n)
	return typeinfo.FieldInfo{Name: f.Name(), Type: i.ts.Of(f.Type()), Tag: reflect.StructTag(st.Tag(n)),
		Index: []int{n}, Anonymous: f.Embedded(), Exported: f.Exported()}
}

func (i *info) FieldByName(name string) (typeinfo.FieldInfo, bool) {
	var pkg *types.Package
	if n, ok := i.t.(*types.Named); ok {
		pkg = n.Obj().Pkg()
	}
	obj, index, _ := types.LookupFieldOrMethod(i.t, false, pkg, name)
	v, ok := obj.(*types.Var)
	if !ok || !v.IsField() {
		return typeinfo.FieldInfo{}, false
	}
	// The tag sits on the struct that declares the field: follow the path.
	t := i.t
	for _, x := range index[:len(index)-1] {
		t = t.Underlying().(*types.Struct).Field(x).Type()
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
	}
	last := index[len(index)-1]
	return typeinfo.FieldInfo{Name: v.Name(), Type: i.ts.Of(v.Type()), Tag: reflect.StructTag(t.Underlying().(*types.Struct).Tag(last)),
		Index: index, Anonymous: v.Embedded(), Exported: v.Exported()}, true
}

// stringer is fmt.Stringer.
var stringer = types.NewInterfaceType([]*types.Func{
	types.NewFunc(token.NoPos, nil, "String", types.NewSignatureType(nil, nil, nil, nil,
		types.NewTuple(types.NewVar(token.NoPos, nil, "", types.Typ[types.String])), false)),
}, nil).Complete()

func (i *info) HasStringMethod() bool {
	if types.Implements(i.t, stringer) {
		return true
	}
	_, isPtr := i.t.Underlying().(*types.Pointer)
	_, isIface := i.t.Underlying().(*types.Interface)
	return !isPtr && !isIface && types.Implements(types.NewPointer(i.t), stringer)
}

// Kind is the reflect.Kind of t's underlying type.
func Kind(t types.Type) reflect.Kind {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return basicKinds[u.Kind()]
	case *types.Pointer:
		return reflect.Pointer
	case *types.Slice:
		return reflect.Slice
	case *types.Array:
		return reflect.Array
	case *types.Map:
		return reflect.Map
	case *types.Chan:
		return reflect.Chan
	case *types.Signature:
		return reflect.Func
	case *types.Interface:
		return reflect.Interface
	case *types.Struct:
		return reflect.Struct
	}
	return reflect.Invalid
}

var basicKinds = map[types.BasicKind]reflect.Kind{
	types.Bool: reflect.Bool, types.Int: reflect.Int, types.Int8: reflect.Int8, types.Int16: reflect.Int16,
	types.Int32: reflect.Int32, types.Int64: reflect.Int64, types.Uint: reflect.Uint, types.Uint8: reflect.Uint8,
	types.Uint16: reflect.Uint16, types.Uint32: reflect.Uint32, types.Uint64: reflect.Uint64,
	types.Uintptr: reflect.Uintptr, types.Float32: reflect.Float32, types.Float64: reflect.Float64,
	types.Complex64: reflect.Complex64, types.Complex128: reflect.Complex128, types.String: reflect.String,
	types.UnsafePointer: reflect.UnsafePointer,
}

// TypeString prints t as reflect.Type.String prints the same type, so a
// report read from source equals the one the running program gives.
func TypeString(t types.Type) string {
	var b strings.Builder
	writeType(&b, t, false)
	return b.String()
}

// writeType writes t; full qualifies defined types by import path, as
// reflect does inside the brackets of an instantiated generic type.
func writeType(b *strings.Builder, t types.Type, full bool) {
	switch t := types.Unalias(t).(type) {
	case *types.Basic:
		switch t.Kind() {
		case types.Byte:
			b.WriteString("uint8")
		case types.Rune:
			b.WriteString("int32")
		case types.UnsafePointer:
			b.WriteString("unsafe.Pointer")
		default:
			b.WriteString(t.Name())
		}
	case *types.Named:
		if obj := t.Obj(); obj.Pkg() != nil {
			if full {
				b.WriteString(obj.Pkg().Path())
			} else {
				b.WriteString(pkgName(obj))
			}
			b.WriteByte('.')
		}
		b.WriteString(t.Obj().Name())
		if args := t.TypeArgs(); args.Len() > 0 {
			b.WriteByte('[')
			for i := range args.Len() {
				if i > 0 {
					b.WriteByte(',')
				}
				writeType(b, args.At(i), true)
			}
			b.WriteByte(']')
		}
	case *types.Pointer:
		b.WriteByte('*')
		writeType(b, t.Elem(), full)
	case *types.Slice:
		b.WriteString("[]")
		writeType(b, t.Elem(), full)
	case *types.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		writeType(b, t.Elem(), full)
	case *types.Map:
		b.WriteString("map[")
		writeType(b, t.Key(), full)
		b.WriteByte(']')
		writeType(b, t.Elem(), full)
	case *types.Chan:
		switch t.Dir() {
		case types.SendOnly:
			b.WriteString("chan<- ")
		case types.RecvOnly:
			b.WriteString("<-chan ")
		default:
			b.WriteString("chan ")
		}
		writeType(b, t.Elem(), full)
	case *types.Signature:
		b.WriteString("func")
		writeSignature(b, t, full)
	case *types.Interface:
		if t.NumMethods() == 0 {
			b.WriteString("interface {}")
			return
		}
		b.WriteString("interface {")
		for i := range t.NumMethods() {
			if i > 0 {
				b.WriteByte(';')
			}
			m := t.Method(i)
			b.WriteString(" " + m.Name())
			writeSignature(b, m.Type().(*types.Signature), full)
		}
		b.WriteString(" }")
	case *types.Struct:
		if t.NumFields() == 0 {
			b.WriteString("struct {}")
			return
		}
		b.WriteString("struct {")
		for i := range t.NumFields() {
			if i > 0 {
				b.WriteByte(';')
			}
			f := t.Field(i)
			b.WriteByte(' ')
			if !f.Embedded() {
				b.WriteString(f.Name() + " ")
			}
			writeType(b, f.Type(), full)
			if tag := t.Tag(i); tag != "" {
				b.WriteString(" " + strconv.Quote(tag))
			}
		}
		b.WriteString(" }")
	default:
		b.WriteString(types.TypeString(t, nil))
	}
}

func writeSignature(b *strings.Builder, s *types.Signature, full bool) {
	b.WriteByte('(')
	for i := range s.Params().Len() {
		if i > 0 {
			b.WriteString(", ")
		}
		pt := s.Params().At(i).Type()
		if s.Variadic() && i == s.Params().Len()-1 {
			b.WriteString("...")
			pt = pt.(*types.Slice).Elem()
		}
		writeType(b, pt, full)
	}
	b.WriteByte(')')
	switch n := s.Results().Len(); n {
	case 0:
	case 1:
		b.WriteByte(' ')
		writeType(b, s.Results().At(0).Type(), full)
	default:
		b.WriteString(" (")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			writeType(b, s.Results().At(i).Type(), full)
		}
		b.WriteByte(')')
	}
}

func pkgName(obj *types.TypeName) string {
	if obj.Pkg() == nil {
		return ""
	}
	return obj.Pkg().Name()
}

// Tagged reports whether struct type t carries a `pii` tag other than "-",
// on its own fields or on those of the structs it embeds.
func Tagged(t types.Type) bool { return tagged(t, map[types.Type]bool{}) }

func tagged(t types.Type, seen map[types.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	for i := range st.NumFields() {
		tag, ok := reflect.StructTag(st.Tag(i)).Lookup("pii")
		if ok && strings.TrimSpace(tag) != "-" {
			return true
		}
		if !ok && st.Field(i).Embedded() {
			ft := st.Field(i).Type()
			if p, isPtr := ft.Underlying().(*types.Pointer); isPtr {
				ft = p.Elem()
			}
			if tagged(ft, seen) {
				return true
			}
		}
	}
	return false
}

// Parts returns the defined struct types t dives into or embeds (its
// parts, reported inside it).
func Parts(t types.Type) []*types.Named {
	var out []*types.Named
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	for i := range st.NumFields() {
		tag, isTagged := reflect.StructTag(st.Tag(i)).Lookup("pii")
		f := st.Field(i)
		if !(isTagged && strings.TrimSpace(tag) == "dive") && !(!isTagged && f.Embedded()) {
			continue
		}
		if n, ok := types.Unalias(Inner(f.Type())).(*types.Named); ok {
			out = append(out, n)
		}
	}
	return out
}

// Elem returns the element type of a pointer, slice, array or map, and
// false for any other type.
func Elem(t types.Type) (types.Type, bool) {
	switch u := types.Unalias(t).Underlying().(type) {
	case *types.Pointer:
		return u.Elem(), true
	case *types.Slice:
		return u.Elem(), true
	case *types.Array:
		return u.Elem(), true
	case *types.Map:
		return u.Elem(), true
	}
	return t, false
}

// Inner strips pointers, slices, arrays and maps from t: the type a dive
// reaches. A type that is its own element (type L []L) stops after a few
// levels.
func Inner(t types.Type) types.Type {
	for range 16 {
		e, ok := Elem(t)
		if !ok {
			return t
		}
		t = e
	}
	return t
}

// FieldPos returns where the field at schema path (as in pii.Field.Path,
// pii.FieldError.Path, pii.Warning.Field) of struct type t is declared, or
// token.NoPos.
func FieldPos(t types.Type, path string) token.Pos {
	if v := FieldVar(t, path); v != nil {
		return v.Pos()
	}
	return token.NoPos
}

// FieldVar returns the field at schema path of struct type t, or nil.
func FieldVar(t types.Type, path string) *types.Var {
	var v *types.Var
	for _, elem := range strings.Split(path, ".") {
		elem = strings.TrimSuffix(elem, "[]")
		if v != nil {
			t = Inner(v.Type())
		}
		v = findField(t, elem, map[types.Type]bool{})
		if v == nil {
			return nil
		}
	}
	return v
}

// findField finds the field name of struct t, in t itself or promoted from
// the structs it embeds without a tag (which the schema flattens).
func findField(t types.Type, name string, seen map[types.Type]bool) *types.Var {
	st, ok := t.Underlying().(*types.Struct)
	if !ok || seen[t] {
		return nil
	}
	seen[t] = true
	for i := range st.NumFields() {
		if st.Field(i).Name() == name {
			return st.Field(i)
		}
	}
	for i := range st.NumFields() {
		f := st.Field(i)
		if _, isTagged := reflect.StructTag(st.Tag(i)).Lookup("pii"); !f.Embedded() || isTagged {
			continue
		}
		ft := f.Type()
		if p, ok := ft.Underlying().(*types.Pointer); ok {
			ft = p.Elem()
		}
		if v := findField(ft, name, seen); v != nil {
			return v
		}
	}
	return nil
}

// RegisteredNames finds the pii.Register(v, "name") calls of the given
// files, whose name is a constant, and returns the names by type.
func RegisteredNames(info *types.Info, files []*ast.File, names map[*types.TypeName]string) {
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			fn, ok := typeutil.Callee(info, call).(*types.Func)
			if !ok || fn.FullName() != Module+".Register" {
				return true
			}
			tv, ok := info.Types[call.Args[1]]
			if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
				return true
			}
			t := info.TypeOf(call.Args[0])
			for t != nil {
				p, ok := t.Underlying().(*types.Pointer)
				if !ok {
					break
				}
				t = p.Elem()
			}
			if n, ok := types.Unalias(t).(*types.Named); ok {
				names[n.Obj()] = constant.StringVal(tv.Value)
			}
			return true
		})
	}
}
