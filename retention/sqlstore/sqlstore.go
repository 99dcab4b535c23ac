package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/retention"
)

// Dialect is the SQL flavour of the database, shared with
// envelope/sqlkeystore and tokenize's SQLStore.
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

// TableName returns the mapped table name.
func (t *Table) TableName() string { return t.table }

// Column returns the column a field path maps to.
func (t *Table) Column(path string) (string, bool) {
	c, ok := t.byPath[path]
	if !ok {
		return "", false
	}
	return c.name, true
}

// querier is what a *sql.Tx and a *sql.Conn share.
type querier interface {
	pii.Executor
	preparer
}

// preparer is the optional ability of a pii.Executor to prepare statements.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// txn is a transaction: a *sql.Tx on PostgreSQL, and on SQLite a
// connection in BEGIN IMMEDIATE, so the write lock is taken before the
// claim reads (two deferred transactions upgrading at once deadlock).
type txn struct {
	q      querier
	tx     *sql.Tx
	conn   *sql.Conn
	closed bool
}

func (t *Table) begin(ctx context.Context, readOnly bool) (*txn, error) {
	return begin(ctx, t.db, t.d, readOnly)
}

func begin(ctx context.Context, db *sql.DB, d Dialect, readOnly bool) (*txn, error) {
	if d == Postgres {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
		if err != nil {
			return nil, fmt.Errorf("sqlstore: begin: %w", err)
		}
		return &txn{q: tx, tx: tx}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	stmt := "BEGIN IMMEDIATE"
	if readOnly {
		stmt = "BEGIN"
	}
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	return &txn{q: conn, conn: conn}, nil
}

func (x *txn) commit() error {
	if x.closed {
		return errors.New("sqlstore: transaction already closed")
	}
	x.closed = true
	if x.tx != nil {
		return x.tx.Commit()
	}
	_, err := x.conn.ExecContext(context.Background(), "COMMIT")
	if err != nil {
		x.conn.ExecContext(context.Background(), "ROLLBACK")
	}
	x.conn.Close()
	return err
}

func (x *txn) rollback() error {
	if x.closed {
		return nil
	}
	x.closed = true
	if x.tx != nil {
		return x.tx.Rollback()
	}
	_, err := x.conn.ExecContext(context.Background(), "ROLLBACK")
	x.conn.Close()
	return err
}

// ph returns the n-th (1-based) placeholder.
func (t *Table) ph(n int) string { return t.d.Placeholder(n) }

// Claim selects, locks and decodes the next batch. Subject and Record
// queries always filter by the tenant column (a type without one holds
// only the tenant ""); rows come in row key order.
func (t *Table) Claim(ctx context.Context, q retention.Query) (retention.Claim, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return t.ph(len(args))
	}
	if q.After != nil {
		p, ok := q.After.(pos)
		if !ok {
			return nil, fmt.Errorf("sqlstore: %s: Query.After is not a position this table returned", t.schema.Name)
		}
		if t.tenantCol != "" {
			where = append(where, "("+t.tenantCol+", "+t.idCol+") > ("+arg(p.tenant)+", "+arg(p.id)+")")
		} else {
			where = append(where, t.idCol+" > "+arg(p.id))
		}
	}
	tenant := func() bool {
		if t.tenantCol == "" {
			return q.Tenant == ""
		}
		where = append(where, t.tenantCol+" = "+arg(t.keyArg(t.tenantIdx, q.Tenant)))
		return true
	}
	switch {
	case q.All:
	case q.Record != "":
		if !tenant() {
			return &claim{t: t}, nil
		}
		where = append(where, t.idCol+" = "+arg(t.idArg(q.Record)))
	case q.Subject != "":
		if t.subject == "" {
			return nil, fmt.Errorf("sqlstore: %s has no subject column", t.schema.Name)
		}
		if !tenant() {
			return &claim{t: t}, nil
		}
		where = append(where, t.subject+" = "+arg(t.keyArg(t.subjectCol, q.Subject)))
	default:
		var ors []string
		for _, c := range q.Clocks {
			col := t.created
			if c.Field != "" {
				col = t.clocks[c.Field]
			}
			if col == "" {
				return nil, fmt.Errorf("sqlstore: %s: no column for the clock %q", t.schema.Name, c.Field)
			}
			ors = append(ors, col+" <= "+arg(c.Before.UTC()))
		}
		if len(ors) == 0 {
			return &claim{t: t}, nil
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	query := "SELECT " + t.selectList + " FROM " + t.table
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + t.orderBy
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	if t.d == Postgres && !q.ReadOnly {
		query += " FOR UPDATE SKIP LOCKED"
	}
	x, err := t.begin(ctx, q.ReadOnly)
	if err != nil {
		return nil, err
	}
	recs, err := t.load(ctx, x.q, query, args, q.Limit)
	if err != nil {
		x.rollback()
		return nil, err
	}
	return &claim{t: t, x: x, recs: recs}, nil
}

// idArg converts a record key back to the id column's type.
func (t *Table) idArg(key string) any { return t.keyArg(t.idField, key) }

// keyArg converts text back to the type of column i.
func (t *Table) keyArg(i int, key string) any {
	switch t.cols[i].typ.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, err := strconv.ParseInt(key, 10, 64); err == nil {
			return n
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, err := strconv.ParseUint(key, 10, 64); err == nil {
			return int64(n)
		}
	}
	return key
}

func (t *Table) load(ctx context.Context, q querier, query string, args []any, limit int) ([]retention.Record, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: select %s: %w", t.table, err)
	}
	defer rows.Close()
	recs := make([]retention.Record, 0, max(limit, 0))
	raw := make([]any, len(t.cols))
	dest := make([]any, len(t.cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	createdIdx := -1
	for i, c := range t.cols {
		if c.name == t.created {
			createdIdx = i
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlstore: scan %s: %w", t.table, err)
		}
		pv := reflect.New(t.schema.Type)
		root := pv.Elem()
		for i, c := range t.cols {
			fv, err := root.FieldByIndexErr(c.index)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: %s.%s: nil embedded pointer", t.table, c.name)
			}
			if err := assign(fv, raw[i]); err != nil {
				return nil, fmt.Errorf("sqlstore: column %s.%s: %w", t.table, c.name, err)
			}
		}
		rec := retention.Record{Value: pv.Interface()}
		var p pos
		rec.Key, p.id = keyOf(root.FieldByIndex(t.cols[t.idField].index))
		if t.tenantIdx >= 0 {
			rec.Tenant, p.tenant = keyOf(root.FieldByIndex(t.cols[t.tenantIdx].index))
		}
		rec.Pos = p
		if createdIdx >= 0 {
			if tm, ok := root.FieldByIndex(t.cols[createdIdx].index).Interface().(time.Time); ok {
				rec.Created = tm
			}
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: select %s: %w", t.table, err)
	}
	return recs, nil
}

// keyOf returns a key column's value as text and as the driver argument
// that orders like it.
func keyOf(v reflect.Value) (string, any) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), int64(v.Uint())
	}
	k := fmt.Sprint(v.Interface())
	return k, k
}

// assign stores a scanned database value into a field.
func assign(fv reflect.Value, src any) error {
	if src == nil {
		fv.Set(reflect.Zero(fv.Type()))
		return nil
	}
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := assign(p.Elem(), src); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if fv.Type() == reflect.TypeFor[time.Time]() {
		switch v := src.(type) {
		case time.Time:
			fv.Set(reflect.ValueOf(v.UTC()))
			return nil
		case string:
			tm, err := parseTime(v)
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(tm))
			return nil
		case []byte:
			tm, err := parseTime(string(v))
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(tm))
			return nil
		}
		return fmt.Errorf("cannot read %T as a time", src)
	}
	switch fv.Kind() {
	case reflect.String:
		switch v := src.(type) {
		case string:
			fv.SetString(v)
		case []byte:
			fv.SetString(string(v))
		default:
			fv.SetString(fmt.Sprint(v))
		}
		return nil
	case reflect.Slice:
		switch v := src.(type) {
		case []byte:
			fv.SetBytes(slices.Clone(v))
		case string:
			fv.SetBytes([]byte(v))
		default:
			return fmt.Errorf("cannot read %T as bytes", src)
		}
		return nil
	case reflect.Bool:
		switch v := src.(type) {
		case bool:
			fv.SetBool(v)
		case int64:
			fv.SetBool(v != 0)
		default:
			return fmt.Errorf("cannot read %T as bool", src)
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(src)
		if err != nil {
			return err
		}
		fv.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := toInt(src)
		if err != nil {
			return err
		}
		fv.SetUint(uint64(n))
		return nil
	case reflect.Float32, reflect.Float64:
		switch v := src.(type) {
		case float64:
			fv.SetFloat(v)
		case int64:
			fv.SetFloat(float64(v))
		default:
			return fmt.Errorf("cannot read %T as float", src)
		}
		return nil
	}
	return fmt.Errorf("unsupported field type %s", fv.Type())
}

func toInt(src any) (int64, error) {
	switch v := src.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case float64:
		return int64(v), nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("cannot read %T as integer", src)
}

var timeLayouts = []string{
	"2006-01-02T15:04:05.000Z",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("unrecognised time format")
}

// value converts a field to a driver argument. Zero values are written as
// NULL: null and shred mean NULL in SQL.
func value(fv reflect.Value) any {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	if fv.IsZero() {
		return nil
	}
	if tm, ok := fv.Interface().(time.Time); ok {
		return tm.UTC()
	}
	switch fv.Kind() {
	case reflect.String:
		return fv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(fv.Uint())
	}
	return fv.Interface()
}

type claim struct {
	t    *Table
	x    *txn
	recs []retention.Record
}

func (c *claim) Records() []retention.Record { return c.recs }

func (c *claim) Rollback() error {
	if c.x == nil {
		return nil
	}
	return c.x.rollback()
}

// Commit writes the changes and ledger entries and commits.
func (c *claim) Commit(ctx context.Context, changes []retention.Change, entries []retention.Entry) error {
	if c.x == nil {
		if len(changes) > 0 || len(entries) > 0 {
			return errors.New("sqlstore: commit on an empty claim")
		}
		return nil
	}
	if err := c.write(ctx, changes, entries); err != nil {
		c.x.rollback()
		return err
	}
	if err := c.x.commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// rowKey is a row's key as driver arguments: the tenant (nil without a
// tenant column) and the id.
type rowKey struct{ tenant, id any }

func (t *Table) rowKey(tenant, key string) rowKey {
	k := rowKey{id: t.idArg(key)}
	if t.tenantIdx >= 0 {
		k.tenant = t.keyArg(t.tenantIdx, tenant)
	}
	return k
}

// keyWhere is the WHERE condition on the row key, with placeholders from n
// on (1-based).
func (t *Table) keyWhere(n int) string {
	if t.tenantCol == "" {
		return t.idCol + " = " + t.ph(n)
	}
	return t.tenantCol + " = " + t.ph(n) + " AND " + t.idCol + " = " + t.ph(n+1)
}

func (t *Table) keyArgs(args []any, k rowKey) []any {
	if t.tenantCol != "" {
		args = append(args, k.tenant)
	}
	return append(args, k.id)
}

func (c *claim) write(ctx context.Context, changes []retention.Change, entries []retention.Entry) error {
	t := c.t
	claimed := make(map[[2]string]bool, len(c.recs))
	for _, r := range c.recs {
		claimed[[2]string{r.Tenant, r.Key}] = true
	}
	var deletes []rowKey
	type group struct {
		cols []*column
		rows []retention.Change
	}
	groups := map[string]*group{}
	var order []string
	for _, ch := range changes {
		// A claim writes only the rows it claimed: never a row of another
		// tenant that shares the id.
		if !claimed[[2]string{ch.Tenant, ch.Key}] {
			return fmt.Errorf("sqlstore: %s: a change names a row the claim did not select", t.schema.Name)
		}
		if ch.Delete {
			deletes = append(deletes, t.rowKey(ch.Tenant, ch.Key))
			continue
		}
		if len(ch.Fields) == 0 {
			continue
		}
		cols := make([]*column, 0, len(ch.Fields))
		for _, p := range ch.Fields {
			col, ok := t.byPath[p]
			if !ok {
				return fmt.Errorf("sqlstore: %s: no column for field %s", t.schema.Name, p)
			}
			if col.name == t.idCol || col.name == t.tenantCol {
				return fmt.Errorf("sqlstore: %s: field %s is part of the row key and is never changed", t.schema.Name, p)
			}
			if !slices.Contains(cols, col) {
				cols = append(cols, col)
			}
		}
		var key strings.Builder
		for _, col := range cols {
			key.WriteString(col.name)
			key.WriteByte(',')
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{cols: cols}
			groups[key.String()] = g
			order = append(order, key.String())
		}
		g.rows = append(g.rows, ch)
	}
	for _, k := range order {
		g := groups[k]
		var err error
		if t.d == Postgres {
			err = c.updateValues(ctx, g.cols, g.rows)
		} else {
			err = c.updateRows(ctx, g.cols, g.rows)
		}
		if err != nil {
			return err
		}
	}
	if len(deletes) > 0 {
		var err error
		if t.d == Postgres {
			err = c.deleteValues(ctx, deletes)
		} else {
			err = c.deleteRows(ctx, deletes)
		}
		if err != nil {
			return err
		}
	}
	return t.ledger.append(ctx, c.x.q, entries)
}

// deleteRows deletes rows by key with one prepared statement (SQLite).
func (c *claim) deleteRows(ctx context.Context, keys []rowKey) error {
	t := c.t
	st, err := c.x.q.PrepareContext(ctx, "DELETE FROM "+t.table+" WHERE "+t.keyWhere(1))
	if err != nil {
		return fmt.Errorf("sqlstore: prepare delete: %w", err)
	}
	defer st.Close()
	args := make([]any, 0, 2)
	for _, k := range keys {
		if _, err := st.ExecContext(ctx, t.keyArgs(args[:0], k)...); err != nil {
			return fmt.Errorf("sqlstore: delete from %s: %w", t.table, err)
		}
	}
	return nil
}

// deleteValues deletes rows by key in one statement whose text does not
// depend on their number (pgx caches a prepared statement per distinct
// text, so varying IN lists would grow it).
func (c *claim) deleteValues(ctx context.Context, keys []rowKey) error {
	t := c.t
	args, v, on, err := t.keyArrays(keys)
	if err != nil {
		return err
	}
	q := "DELETE FROM " + t.table + " AS t USING unnest(" + v + ") AS v(" + t.orderBy + ") WHERE " + on
	if _, err := c.x.q.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("sqlstore: delete from %s: %w", t.table, err)
	}
	return nil
}

// keyArrays returns the row keys as PostgreSQL arrays ($1, and $2 with a
// tenant column), the unnest argument list, and the join condition of t
// to v on the key.
func (t *Table) keyArrays(keys []rowKey) (args []any, unnest, on string, err error) {
	ids := make([]any, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	idArr, err := pgArray(t.cols[t.idField].typ, ids)
	if err != nil {
		return nil, "", "", err
	}
	if t.tenantCol == "" {
		return []any{idArr}, "$1::" + pgType(t.cols[t.idField].typ) + "[]", "t." + t.idCol + " = v." + t.idCol, nil
	}
	tenants := make([]any, len(keys))
	for i, k := range keys {
		tenants[i] = k.tenant
	}
	tenArr, err := pgArray(t.cols[t.tenantIdx].typ, tenants)
	if err != nil {
		return nil, "", "", err
	}
	return []any{tenArr, idArr},
		"$1::" + pgType(t.cols[t.tenantIdx].typ) + "[], $2::" + pgType(t.cols[t.idField].typ) + "[]",
		"t." + t.tenantCol + " = v." + t.tenantCol + " AND t." + t.idCol + " = v." + t.idCol, nil
}

// updateRows updates rows that change the same columns with one prepared
// statement: in-process SQLite runs it faster than a VALUES join.
func (c *claim) updateRows(ctx context.Context, cols []*column, rows []retention.Change) error {
	t := c.t
	sets := make([]string, len(cols))
	for i, col := range cols {
		sets[i] = col.name + " = " + t.ph(i+1)
	}
	st, err := c.x.q.PrepareContext(ctx, "UPDATE "+t.table+" SET "+strings.Join(sets, ", ")+" WHERE "+t.keyWhere(len(cols)+1))
	if err != nil {
		return fmt.Errorf("sqlstore: prepare update: %w", err)
	}
	defer st.Close()
	args := make([]any, 0, len(cols)+2)
	for _, ch := range rows {
		root := reflect.ValueOf(ch.Value).Elem()
		args = args[:0]
		for _, col := range cols {
			args = append(args, value(root.FieldByIndex(col.index)))
		}
		args = t.keyArgs(args, t.rowKey(ch.Tenant, ch.Key))
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlstore: update %s: %w", t.table, err)
		}
	}
	return nil
}

// updateValues updates many rows that change the same columns in one
// statement: UPDATE t SET c = v.c FROM unnest($1::text[], $2::bigint[],
// $3::text[], ...) v WHERE t.tenant = v.tenant AND t.id = v.id. PostgreSQL
// pays a round trip per statement, so this is what keeps a sweep close to
// the speed of hand-written SQL; and the statement text depends only on
// the columns, so the driver's prepared statement cache stays small
// however many rows a batch holds.
func (c *claim) updateValues(ctx context.Context, cols []*column, rows []retention.Change) error {
	t := c.t
	keys := make([]rowKey, len(rows))
	for r, ch := range rows {
		keys[r] = t.rowKey(ch.Tenant, ch.Key)
	}
	args, unnest, on, err := t.keyArrays(keys)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("UPDATE " + t.table + " AS t SET ")
	for i, col := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col.name + " = v." + col.name)
	}
	b.WriteString(" FROM unnest(" + unnest)
	vals := make([]any, len(rows))
	for _, col := range cols {
		for r, ch := range rows {
			vals[r] = value(reflect.ValueOf(ch.Value).Elem().FieldByIndex(col.index))
		}
		arr, err := pgArray(col.typ, vals)
		if err != nil {
			return err
		}
		args = append(args, arr)
		b.WriteString(", $" + strconv.Itoa(len(args)) + "::" + pgType(col.typ) + "[]")
	}
	b.WriteString(") AS v(" + t.orderBy)
	for _, col := range cols {
		b.WriteString(", " + col.name)
	}
	b.WriteString(") WHERE " + on)
	if _, err := c.x.q.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("sqlstore: update %s: %w", t.table, err)
	}
	return nil
}

// pgArray turns driver values of one column into a typed slice of
// pointers (nil for NULL), which the PostgreSQL driver sends as an array.
func pgArray(t reflect.Type, vals []any) (any, error) {
	switch pgType(t) {
	case "text":
		return pgSlice[string](vals)
	case "bigint":
		return pgSlice[int64](vals)
	case "timestamptz":
		return pgSlice[time.Time](vals)
	case "boolean":
		return pgSlice[bool](vals)
	case "double precision":
		out := make([]*float64, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case float64:
				out[i] = &x
			case float32:
				f := float64(x)
				out[i] = &f
			default:
				return nil, fmt.Errorf("sqlstore: cannot send %T as double precision", v)
			}
		}
		return out, nil
	case "bytea":
		out := make([][]byte, len(vals))
		for i, v := range vals {
			if v != nil {
				b, ok := v.([]byte)
				if !ok {
					return nil, fmt.Errorf("sqlstore: cannot send %T as bytea", v)
				}
				out[i] = b
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("sqlstore: no array type for %s", t)
}

func pgSlice[T any](vals []any) ([]*T, error) {
	out := make([]*T, len(vals))
	for i, v := range vals {
		if v == nil {
			continue
		}
		x, ok := v.(T)
		if !ok {
			var zero T
			return nil, fmt.Errorf("sqlstore: cannot send %T as %T", v, zero)
		}
		out[i] = &x
	}
	return out, nil
}

// pgType is the PostgreSQL type a field's values are sent as.
func pgType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return "timestamptz"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "bigint"
	case reflect.Float32, reflect.Float64:
		return "double precision"
	case reflect.Slice:
		return "bytea"
	}
	return "text"
}
