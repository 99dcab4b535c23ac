package pii

import (
	"fmt"
	"reflect"

	"github.com/fieldguard/pii/internal/typeinfo"
)

// typeInfo describes a Go type to the schema builder: reflection
// (reflectInfo) for SchemaOf, go/types for the source tools (see
// internal/typeinfo).
type typeInfo = typeinfo.TypeInfo

// structField describes one struct field, like reflect.StructField.
type structField = typeinfo.FieldInfo

func init() {
	typeinfo.Build = func(t typeinfo.TypeInfo, name string) (any, error) { return schemaFromInfo(t, name) }
	typeinfo.DataCategory = func(tag string) (string, bool) {
		cat, role, _, err := parseTagOnly(tag)
		if err != nil || role != roleData || cat == "-" || cat == "dive" {
			return "", false
		}
		return cat, true
	}
}

// reflectInfo is typeInfo over reflection; SchemaOf builds from it.
type reflectInfo struct{ t reflect.Type }

var _ typeInfo = reflectInfo{}

func infoOf(t reflect.Type) typeInfo { return reflectInfo{t} }

func (r reflectInfo) String() string          { return r.t.String() }
func (r reflectInfo) Name() string            { return r.t.Name() }
func (r reflectInfo) PkgPath() string         { return r.t.PkgPath() }
func (r reflectInfo) Kind() reflect.Kind      { return r.t.Kind() }
func (r reflectInfo) Elem() typeInfo          { return reflectInfo{r.t.Elem()} }
func (r reflectInfo) NumField() int           { return r.t.NumField() }
func (r reflectInfo) Field(i int) structField { return fieldInfo(r.t.Field(i)) }

func (r reflectInfo) FieldByName(name string) (structField, bool) {
	sf, ok := r.t.FieldByName(name)
	if !ok {
		return structField{}, false
	}
	return fieldInfo(sf), true
}

func (r reflectInfo) HasStringMethod() bool {
	return r.t.Implements(stringerType) || reflect.PointerTo(r.t).Implements(stringerType)
}

func fieldInfo(sf reflect.StructField) structField {
	return structField{Name: sf.Name, Type: reflectInfo{sf.Type}, Tag: sf.Tag, Index: sf.Index,
		Anonymous: sf.Anonymous, Exported: sf.IsExported()}
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

// reflectType returns the reflect.Type t describes, or nil when t was not
// made by reflection.
func reflectType(t typeInfo) reflect.Type {
	if r, ok := t.(reflectInfo); ok {
		return r.t
	}
	return nil
}

func isTime(t typeInfo) bool { return t.PkgPath() == "time" && t.Name() == "Time" }
