// Package typeinfo is how tools that read source code instead of running
// it (the pii command's inventory, the piivet analyzer, through
// internal/srcschema) describe Go types to package pii, so the schema they
// get is built by the same code, from the same tag parser, as pii.SchemaOf
// builds from reflection.
package typeinfo

import "reflect"

// TypeInfo describes a Go type to package pii (through [Build]), for tools that read
// source code instead of running it: the pii command's inventory and the
// piivet analyzer describe types from go/types, and the schema they get is
// built by the same code, from the same tag parser, as pii.SchemaOf builds
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

// Build builds the schema (a *pii.Schema) of the struct type t describes,
// by the rules pii.SchemaOf applies. name is the type's stable name (""
// means t.Name()). The result describes the type: its Type and its fields'
// Type are nil, so it reports and checks but cannot Walk values. Package
// pii sets Build when it is initialised; internal/srcschema gives it its
// type.
var Build func(t TypeInfo, name string) (any, error)

// DataCategory returns the category of a `pii` tag value that marks
// personal data, parsed on its own (without the checks that need the
// field's type); false for a role (subject, id, tenant), "-", dive, or a
// tag that does not parse. Package pii sets it when it is initialised.
var DataCategory func(tag string) (category string, ok bool)
