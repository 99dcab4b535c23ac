// Package sqlmap maps a tagged struct type to the columns of one table
// through its `db` tags, and converts field values to and from driver
// values. retention/sqlstore (retention's view of a table) and guard.Table
// (the application's typed table helper) share it, so one table is read
// and written with one mapping.
//
// Every exported top-level field, and the fields of nested structs
// (Address.Postcode becomes address_postcode), map to a column: the `db`
// tag's name, or the field name in snake_case; db:"-" leaves a field out
// unless Mapping.Columns names it. The row key is (tenant column, id
// column), or the id column alone for types without a pii:"tenant" field.
//
// Errors carry no package prefix: the caller adds its own.
package sqlmap

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
)

// Mapping overrides the derived mapping; see retention/sqlstore.Mapping.
type Mapping struct {
	Table   string
	ID      string
	Created string
	Columns map[string]string
}

// Column is one mapped field.
type Column struct {
	Name  string
	Index []int // from the top-level struct
	Type  reflect.Type
}

// Map is the mapping of one struct type to one table. Treat it as
// read-only once built.
type Map struct {
	Schema *pii.Schema
	Table  string
	Cols   []Column
	// ByPath finds a column by schema path or Go field path.
	ByPath map[string]*Column
	// Clocks maps the Go name of a top-level time field to its column.
	Clocks map[string]string
	// ID, Tenant, Subject and Created index Cols (-1: none; ID is always
	// set).
	ID, Tenant, Subject, Created int
	// IDCol, TenantCol, SubjectCol and CreatedCol name those columns (""
	// for none). CreatedCol may name a column no field maps to
	// (Mapping.Created).
	IDCol, TenantCol, SubjectCol, CreatedCol string
	// SelectList is every column, comma-separated, in Cols order.
	SelectList string
	// OrderBy is the row key columns, comma-separated.
	OrderBy string
}

// New derives the mapping of the type s describes.
func New(s *pii.Schema, mp Mapping) (*Map, error) {
	m := &Map{Schema: s, ByPath: map[string]*Column{}, Clocks: map[string]string{},
		ID: -1, Tenant: -1, Subject: -1, Created: -1}
	m.Table = mp.Table
	if m.Table == "" {
		m.Table = Snake(s.Type.Name())
	}
	if err := sqldialect.ValidTable("table", m.Table); err != nil {
		return nil, err
	}
	m.derive(s.Type, nil, "", mp)
	for _, c := range m.Cols {
		if err := sqldialect.ValidColumn(s.Name+" column", c.Name); err != nil {
			return nil, err
		}
	}
	if mp.Created != "" {
		if err := sqldialect.ValidColumn("Mapping.Created column", mp.Created); err != nil {
			return nil, err
		}
	}
	for _, f := range s.Fields {
		if _, ok := m.ByPath[f.Path]; !ok {
			return nil, fmt.Errorf("%s.%s has no column (only top-level and nested struct fields map to columns)", s.Name, f.Path)
		}
	}
	m.IDCol = mp.ID
	if m.IDCol == "" && s.ID != nil {
		m.IDCol = m.ByPath[s.ID.Path].Name
	}
	if m.IDCol == "" {
		m.IDCol = "id"
	}
	m.ID = m.Col(m.IDCol)
	if m.ID < 0 {
		return nil, fmt.Errorf("%s: no field maps to the id column %q", s.Name, m.IDCol)
	}
	m.OrderBy = m.IDCol
	if s.Tenant != nil {
		c, ok := m.ByPath[s.Tenant.Path]
		if !ok {
			return nil, fmt.Errorf("%s has a pii:\"tenant\" field (%s) that maps to no column, so the row key (%s) is not unique: "+
				"ids repeat across tenants; map %s to its column (drop db:\"-\" or name it in Mapping.Columns) and make (tenant, %s) the table's key",
				s.Name, s.Tenant.Path, m.IDCol, s.Tenant.Path, m.IDCol)
		}
		if c.Name == m.IDCol {
			return nil, fmt.Errorf("%s: the id column %q is the tenant column; name the record id column in Mapping.ID", s.Name, m.IDCol)
		}
		m.TenantCol = c.Name
		m.Tenant = m.Col(c.Name)
		m.OrderBy = m.TenantCol + ", " + m.IDCol
	}
	if s.Subject != nil {
		m.SubjectCol = m.ByPath[s.Subject.Path].Name
		m.Subject = m.Col(m.SubjectCol)
	}
	m.CreatedCol = mp.Created
	if m.CreatedCol == "" {
		if c, ok := m.ByPath["CreatedAt"]; ok && c.Type == reflect.TypeFor[time.Time]() {
			m.CreatedCol = c.Name
		}
	}
	if m.CreatedCol != "" {
		m.Created = m.Col(m.CreatedCol)
	}
	names := make([]string, len(m.Cols))
	for i, c := range m.Cols {
		names[i] = c.Name
	}
	m.SelectList = strings.Join(names, ", ")
	return m, nil
}

// Col returns the index in Cols of the column named name, or -1 (the last
// one when several fields map to the same name, as the mapping always did).
func (m *Map) Col(name string) int {
	i := -1
	for j, c := range m.Cols {
		if c.Name == name {
			i = j
		}
	}
	return i
}

func (m *Map) derive(st reflect.Type, index []int, prefix string, mp Mapping) {
	for i := 0; i < st.NumField(); i++ {
		sf := st.Field(i)
		idx := append(slices.Clone(index), i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("db")
		if _, named := mp.Columns[prefix+sf.Name]; tag == "-" && !named {
			continue
		}
		ft := sf.Type
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() && !Valuer(ft) {
			p := prefix
			if !sf.Anonymous {
				p = prefix + sf.Name + "."
			}
			m.derive(ft, idx, p, mp)
			continue
		}
		if !scalar(ft) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			name = ""
		}
		if c, ok := mp.Columns[prefix+sf.Name]; ok {
			name = c
		}
		if name == "" {
			name = Snake(strings.ReplaceAll(prefix, ".", "_") + sf.Name)
		}
		m.Cols = append(m.Cols, Column{Name: name, Index: idx, Type: ft})
		if prefix == "" && (ft == reflect.TypeFor[time.Time]() || ft == reflect.TypeFor[*time.Time]()) {
			m.Clocks[sf.Name] = name
		}
	}
	// Pointers into m.Cols are taken once it stops growing.
	if index == nil {
		for i := range m.Cols {
			c := &m.Cols[i]
			m.ByPath[goPath(st, c.Index)] = c
		}
	}
}

// goPath is the dotted Go field path of index within st, skipping embedded
// structs as the schema paths do.
func goPath(st reflect.Type, index []int) string {
	var parts []string
	for _, i := range index {
		sf := st.Field(i)
		if !sf.Anonymous {
			parts = append(parts, sf.Name)
		}
		st = sf.Type
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
	}
	return strings.Join(parts, ".")
}

func scalar(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() || Valuer(t) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8
	}
	return false
}

// Snake is s in snake_case ("CreatedAt" -> "created_at", "HTTPServer" ->
// "http_server").
func Snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) && r[i-1] != '_' {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Decode assigns the scanned values raw (one per column, in Cols order) to
// a new value of the mapped type and returns a pointer to it.
func (m *Map) Decode(raw []any) (reflect.Value, error) {
	pv := reflect.New(m.Schema.Type)
	if err := m.DecodeInto(pv.Elem(), raw); err != nil {
		return reflect.Value{}, err
	}
	return pv, nil
}

// DecodeInto assigns the scanned values raw (one per column, in Cols
// order) to the fields of root, a settable struct of the mapped type.
func (m *Map) DecodeInto(root reflect.Value, raw []any) error {
	for i, c := range m.Cols {
		fv, err := root.FieldByIndexErr(c.Index)
		if err != nil {
			return fmt.Errorf("%s.%s: nil embedded pointer", m.Table, c.Name)
		}
		if err := Assign(fv, raw[i]); err != nil {
			return fmt.Errorf("column %s.%s: %w", m.Table, c.Name, err)
		}
	}
	return nil
}

// Field returns the value of column i in root (a struct of the mapped
// type).
func (m *Map) Field(root reflect.Value, i int) reflect.Value {
	return root.FieldByIndex(m.Cols[i].Index)
}

// KeyArg converts text (a tenant, record or subject key) back to the type
// of column i.
func (m *Map) KeyArg(i int, key string) any { return keyArg(m.Cols[i].Type, key) }
