package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/retention"
)

// Dialect is the SQL flavour of the database, shared with
// envelope/sqlkeystore and tokenize/sqltokenstore.
type Dialect = sqldialect.Dialect

const (
	// Detect (the zero value) reads the dialect from the driver.
	Detect = sqldialect.Detect
	// SQLite: ? placeholders, BEGIN IMMEDIATE claims.
	SQLite = sqldialect.SQLite
	// Postgres: $n placeholders, FOR UPDATE SKIP LOCKED claims.
	Postgres = sqldialect.Postgres
)

// Mapping maps a struct type to a table. Fields not listed are derived:
// the column is the field's `db` tag (db:"-" leaves it out), or its name in
// snake_case.
//
// A row is identified by its row key: (tenant column, id column) when the
// type has a pii:"tenant" field, else the id column alone. The tenant
// column is the pii:"tenant" field's column; New refuses a type with a
// tenant field that maps to no column, since ids need only be unique
// within a tenant. The table must make the row key unique (its primary
// key), and the tenant column NOT NULL.
type Mapping struct {
	// Table is the table name, optionally schema-qualified
	// ("app.customer"); default the type name in snake_case.
	Table string
	// ID is the id column; default the column of the field tagged pii:"id",
	// else "id".
	ID string
	// Created is the column holding the creation time (the default
	// retention clock); default the column of a CreatedAt field, if any.
	Created string
	// Columns maps Go field names (top level) to columns, overriding the
	// derived names.
	Columns map[string]string
}

// Options configure a Table, a Ledger or Holds; nil means defaults.
// Table names may be schema-qualified ("app.retention_ledger"; on SQLite
// the schema is an attached database).
type Options struct {
	// Dialect defaults to Detect (read from the driver); [DDL] needs it
	// set to SQLite or Postgres.
	Dialect Dialect
	// Mapping overrides the derived table mapping.
	Mapping *Mapping
	// LedgerTable names the ledger table; default "retention_ledger".
	LedgerTable string
	// HoldsTable names the holds table; default "retention_holds".
	HoldsTable string
	// PendingTable names the table of pending key shreds, kept beside the
	// holds; default "retention_pending_shreds".
	PendingTable string
}

func (o *Options) dialect(db *sql.DB) (Dialect, error) {
	var d Dialect
	if o != nil {
		d = o.Dialect
	}
	d, err := sqldialect.Resolve(db, d)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %w", err)
	}
	return d, nil
}

func (o *Options) ledgerTable() string {
	if o != nil && o.LedgerTable != "" {
		return o.LedgerTable
	}
	return "retention_ledger"
}

func (o *Options) holdsTable() string {
	if o != nil && o.HoldsTable != "" {
		return o.HoldsTable
	}
	return "retention_holds"
}

func (o *Options) pendingTable() string {
	if o != nil && o.PendingTable != "" {
		return o.PendingTable
	}
	return "retention_pending_shreds"
}

// validTable checks a table name with the identifier rule every SQL store
// of the module shares.
func validTable(what, name string) error {
	if err := sqldialect.ValidTable(what, name); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// Table is a retention.Store over one table.
type Table struct {
	db         *sql.DB
	d          Dialect
	schema     *pii.Schema
	table      string
	idCol      string
	created    string // column or ""
	cols       []column
	byPath     map[string]*column // schema path or Go field path -> column
	clocks     map[string]string  // Go field name of a clock -> column
	subject    string             // subject column or ""
	subjectCol int                // index into cols of the subject column
	idField    int                // index into cols
	tenantCol  string             // tenant column, or "" for types without a tenant
	tenantIdx  int                // index into cols of the tenant column, or -1
	orderBy    string             // the row key columns, in order
	selectList string
	ledger     *Ledger
}

// pos is a row's position in row key order, passed back as Query.After.
type pos struct {
	tenant any // nil without a tenant column
	id     any
}

type column struct {
	name  string
	index []int // from the top-level struct
	typ   reflect.Type
}

var _ retention.Store = (*Table)(nil)

// New returns the store for the struct type of prototype in db, its mapping
// derived from the `pii` and `db` tags and opts. It runs no SQL: the data
// table is the application's, and the ledger it appends to is created by
// [Table.CreateTables] (or by a migration tool applying [DDL]).
func New(db *sql.DB, prototype any, opts *Options) (*Table, error) {
	s, err := pii.SchemaOf(prototype)
	if err != nil {
		return nil, err
	}
	d, err := opts.dialect(db)
	if err != nil {
		return nil, err
	}
	t := &Table{db: db, d: d, schema: s, byPath: map[string]*column{}, clocks: map[string]string{}}
	var mp Mapping
	if opts != nil && opts.Mapping != nil {
		mp = *opts.Mapping
	}
	t.table = mp.Table
	if t.table == "" {
		t.table = snake(s.Type.Name())
	}
	if err := validTable("table", t.table); err != nil {
		return nil, err
	}
	if err := t.derive(s.Type, nil, "", mp); err != nil {
		return nil, err
	}
	for _, c := range t.cols {
		if err := sqldialect.ValidColumn(s.Name+" column", c.name); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
	}
	if mp.Created != "" {
		if err := sqldialect.ValidColumn("Mapping.Created column", mp.Created); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
	}
	for _, f := range s.Fields {
		if _, ok := t.byPath[f.Path]; !ok {
			return nil, fmt.Errorf("sqlstore: %s.%s has no column (only top-level and nested struct fields map to columns)", s.Name, f.Path)
		}
	}
	t.idCol = mp.ID
	if t.idCol == "" && s.ID != nil {
		t.idCol = t.byPath[s.ID.Path].name
	}
	if t.idCol == "" {
		t.idCol = "id"
	}
	t.idField = -1
	for i, c := range t.cols {
		if c.name == t.idCol {
			t.idField = i
		}
	}
	if t.idField < 0 {
		return nil, fmt.Errorf("sqlstore: %s: no field maps to the id column %q", s.Name, t.idCol)
	}
	t.tenantIdx = -1
	t.orderBy = t.idCol
	if s.Tenant != nil {
		c, ok := t.byPath[s.Tenant.Path]
		if !ok {
			return nil, fmt.Errorf("sqlstore: %s has a pii:\"tenant\" field (%s) that maps to no column, so the row key (%s) is not unique: "+
				"ids repeat across tenants; map %s to its column (drop db:\"-\" or name it in Mapping.Columns) and make (tenant, %s) the table's key",
				s.Name, s.Tenant.Path, t.idCol, s.Tenant.Path, t.idCol)
		}
		if c.name == t.idCol {
			return nil, fmt.Errorf("sqlstore: %s: the id column %q is the tenant column; name the record id column in Mapping.ID", s.Name, t.idCol)
		}
		t.tenantCol = c.name
		for i := range t.cols {
			if t.cols[i].name == c.name {
				t.tenantIdx = i
			}
		}
		t.orderBy = t.tenantCol + ", " + t.idCol
	}
	if s.Subject != nil {
		t.subject = t.byPath[s.Subject.Path].name
		for i, c := range t.cols {
			if c.name == t.subject {
				t.subjectCol = i
			}
		}
	}
	t.created = mp.Created
	if t.created == "" {
		if c, ok := t.byPath["CreatedAt"]; ok && c.typ == reflect.TypeFor[time.Time]() {
			t.created = c.name
		}
	}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	t.selectList = strings.Join(names, ", ")
	t.ledger, err = NewLedger(db, opts)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// CreateTables creates the ledger, holds and pending shreds tables if they
// do not exist, in one transaction: the statements [DDL] returns. It does
// not create the data table, which is the application's. It is idempotent.
func (t *Table) CreateTables(ctx context.Context) error {
	return t.ledger.CreateTables(ctx)
}

func (t *Table) derive(st reflect.Type, index []int, prefix string, mp Mapping) error {
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
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			p := prefix
			if !sf.Anonymous {
				p = prefix + sf.Name + "."
			}
			if err := t.derive(ft, idx, p, mp); err != nil {
				return err
			}
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
			name = snake(strings.ReplaceAll(prefix, ".", "_") + sf.Name)
		}
		t.cols = append(t.cols, column{name: name, index: idx, typ: ft})
		if prefix == "" && (ft == reflect.TypeFor[time.Time]() || ft == reflect.TypeFor[*time.Time]()) {
			t.clocks[sf.Name] = name
		}
	}
	// Pointers into t.cols are taken once it stops growing.
	if index == nil {
		for i := range t.cols {
			c := &t.cols[i]
			t.byPath[goPath(st, c.index)] = c
		}
	}
	return nil
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
	if t == reflect.TypeFor[time.Time]() {
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

func snake(s string) string {
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

// Schema returns the stored type's schema.
func (t *Table) Schema() *pii.Schema { return t.schema }

// PipelineClaims reports true on PostgreSQL, where a claim skips rows an
// uncommitted claim still locks: the sweeper evaluates the next batch while
// the previous one commits. See retention.Pipeliner.
func (t *Table) PipelineClaims() bool { return t.d == Postgres }

var _ retention.Pipeliner = (*Table)(nil)

// Ledger returns the ledger the table's commits append to.
func (t *Table) Ledger() retention.Ledger { return t.ledger }
