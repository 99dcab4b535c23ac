package pii

import (
	"fmt"
	"reflect"
)

// TypeInfo describes a Go type to [SchemaFromInfo], for tools that read
// source code instead of running it: the pii command's inventory and the
// piivet analyzer describe types from go/types, and the schema they get is
// built by the same code, from the same tag parser, as [SchemaOf] builds
// from reflection. Its methods are the part of reflect.Type the schema
// builder reads and mean what reflect.Type's do.
//
// Two TypeInfo values describe the same type exactly when they are ==.
type TypeInfo interface {
	// String is the type as reflect.Type.String prints it: "main.Customer",
	// "[]uint8", "*time.Time".
	String() string
	// Name is a defined type's name within its package, "" otherwise.
	Name() string
	// PkgPath is a defined type's import path, "" otherwise.
	PkgPath() string
	// Kind is the kind of the type's underlying type.
	Kind() reflect.Kind
	// Elem is the element type of a pointer, slice, array or map.
	Elem() TypeInfo
	// NumField and Field describe a struct's fields, in declaration order.
	NumField() int
	Field(i int) FieldInfo
	// FieldByName finds a field of a struct, promoted ones included, by the
	// rules of reflect.Type.FieldByName.
	FieldByName(name string) (FieldInfo, bool)
	// HasStringMethod reports whether the type or a pointer to it
	// implements fmt.Stringer.
	HasStringMethod() bool
}

// FieldInfo describes one struct field, like reflect.StructField.
type FieldInfo struct {
	Name      string
	Type      TypeInfo
	Tag       reflect.StructTag
	Index     []int // for FieldByName: the index path from the struct searched
	Anonymous bool  // embedded
	Exported  bool
}

// reflectInfo is TypeInfo over reflection; SchemaOf builds from it.
type reflectInfo struct{ t reflect.Type }

var _ TypeInfo = reflectInfo{}

func infoOf(t reflect.Type) TypeInfo { return reflectInfo{t} }

func (r reflectInfo) String() string        { return r.t.String() }
func (r reflectInfo) Name() string          { return r.t.Name() }
func (r reflectInfo) PkgPath() string       { return r.t.PkgPath() }
func (r reflectInfo) Kind() reflect.Kind    { return r.t.Kind() }
func (r reflectInfo) Elem() TypeInfo        { return reflectInfo{r.t.Elem()} }
func (r reflectInfo) NumField() int         { return r.t.NumField() }
func (r reflectInfo) Field(i int) FieldInfo { return fieldInfo(r.t.Field(i)) }

func (r reflectInfo) FieldByName(name string) (FieldInfo, bool) {
	sf, ok := r.t.FieldByName(name)
	if !ok {
		return FieldInfo{}, false
	}
	return fieldInfo(sf), true
}

func (r reflectInfo) HasStringMethod() bool {
	return r.t.Implements(stringerType) || reflect.PointerTo(r.t).Implements(stringerType)
}

func fieldInfo(sf reflect.StructField) FieldInfo {
	return FieldInfo{Name: sf.Name, Type: reflectInfo{sf.Type}, Tag: sf.Tag, Index: sf.Index,
		Anonymous: sf.Anonymous, Exported: sf.IsExported()}
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

// reflectType returns the reflect.Type t describes, or nil when t was not
// made by reflection.
func reflectType(t TypeInfo) reflect.Type {
	if r, ok := t.(reflectInfo); ok {
		return r.t
	}
	return nil
}

func isTime(t TypeInfo) bool { return t.PkgPath() == "time" && t.Name() == "Time" }
