// Package storetest runs one retention scenario on every store: the
// in-memory reference store, SQLite and PostgreSQL (through sqlstore). It
// opens the stores, inserts records and dumps whole tables, for tests that
// compare a tenant's rows byte for byte before and after an operation.
// Tests only.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
)

// Kind names a store.
type Kind string

// The stores every scenario runs on.
const (
	Memory   Kind = "memory"
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Kinds lists every store.
func Kinds() []Kind { return []Kind{Memory, SQLite, Postgres} }

// Table describes one tagged type and its SQL table.
type Table struct {
	// Prototype is a pointer to the tagged struct.
	Prototype any
	// Name is the table name.
	Name string
	// Key lists the row key columns, in order ("tenant", "id").
	Key []string
	// DDL returns the CREATE TABLE statement for the dialect.
	DDL func(pg bool) string
}

// Env is a set of stores of one kind sharing a ledger and a hold store.
type Env struct {
	Kind   Kind
	DB     *sql.DB // nil for Memory
	Stores []retention.Store
	Ledger retention.Ledger
	Holds  retention.Holds // also a retention.PendingShreds
	tables []Table
	mem    []*retention.MemoryStore
}

// Open opens the stores of kind for tables (PostgreSQL skips without
// PII_POSTGRES_URL, as testdb does).
func Open(t testing.TB, kind Kind, tables ...Table) *Env {
	t.Helper()
	ctx := context.Background()
	e := &Env{Kind: kind, tables: tables}
	switch kind {
	case Memory:
		l := retention.NewMemoryLedger()
		e.Ledger, e.Holds = l, retention.NewMemoryHolds()
		for _, tb := range tables {
			ms, err := retention.NewMemoryStore(tb.Prototype, l)
			require.NoError(t, err)
			e.mem = append(e.mem, ms)
			e.Stores = append(e.Stores, ms)
		}
		return e
	case SQLite:
		e.DB = testdb.SQLite(t)
	case Postgres:
		e.DB, _ = testdb.Postgres(t)
	default:
		t.Fatalf("storetest: unknown kind %q", kind)
	}
	for _, tb := range tables {
		_, err := e.DB.ExecContext(ctx, tb.DDL(kind == Postgres))
		require.NoError(t, err)
		st, err := sqlstore.New(e.DB, tb.Prototype, &sqlstore.Options{Mapping: &sqlstore.Mapping{Table: tb.Name}})
		require.NoError(t, err)
		e.Stores = append(e.Stores, st)
	}
	l, err := sqlstore.NewLedger(e.DB, nil) // the one the stores append to
	require.NoError(t, err)
	require.NoError(t, l.CreateTables(ctx)) // the ledger, holds and pending shreds tables
	e.Ledger = l
	e.Holds, err = sqlstore.NewHolds(e.DB, nil)
	require.NoError(t, err)
	return e
}

// Put stores the record ptr points to in table i.
func (e *Env) Put(t testing.TB, i int, ptr any, created time.Time) {
	t.Helper()
	if e.Kind == Memory {
		require.NoError(t, e.mem[i].Put(ptr, created))
		return
	}
	rv := reflect.ValueOf(ptr).Elem()
	var cols, phs []string
	var args []any
	for j := 0; j < rv.NumField(); j++ {
		sf := rv.Type().Field(j)
		col, _, _ := strings.Cut(sf.Tag.Get("db"), ",")
		if col == "" || col == "-" {
			continue
		}
		cols = append(cols, col)
		phs = append(phs, "?")
		args = append(args, arg(rv.Field(j)))
	}
	q := "INSERT INTO " + e.tables[i].Name + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
	if e.Kind == Postgres {
		for n := 1; strings.Contains(q, "?"); n++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", n), 1)
		}
	}
	_, err := e.DB.ExecContext(context.Background(), q, args...)
	require.NoError(t, err)
}

func arg(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if tm, ok := v.Interface().(time.Time); ok {
		return tm.UTC()
	}
	return v.Interface()
}

// Dump returns every row of table i as text, in row key order, each
// starting with its key columns ("north|c-001|...").
func (e *Env) Dump(t testing.TB, i int) []string {
	t.Helper()
	ctx := context.Background()
	if e.Kind == Memory {
		var out []string
		q := retention.Query{All: true, ReadOnly: true, Limit: 1000}
		for {
			cl, err := e.mem[i].Claim(ctx, q)
			require.NoError(t, err)
			recs := cl.Records()
			require.NoError(t, cl.Rollback())
			for _, r := range recs {
				out = append(out, r.Tenant+"|"+r.Key+"|"+r.Created.UTC().String()+"|"+format(reflect.ValueOf(r.Value)))
			}
			if len(recs) < q.Limit {
				return out
			}
			q.After = recs[len(recs)-1].Pos
		}
	}
	tb := e.tables[i]
	key := strings.Join(tb.Key, ", ")
	rows, err := e.DB.QueryContext(ctx, "SELECT "+key+", * FROM "+tb.Name+" ORDER BY "+key)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		require.NoError(t, rows.Scan(ptrs...))
		parts := make([]string, len(vals))
		for j, v := range vals {
			switch x := v.(type) {
			case []byte:
				parts[j] = fmt.Sprintf("%q", x)
			case time.Time:
				parts[j] = x.UTC().Format(time.RFC3339Nano)
			default:
				parts[j] = fmt.Sprintf("%v", x)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	require.NoError(t, rows.Err())
	return out
}

// DumpTenant returns the rows of table i that belong to tenant (the first
// key column).
func (e *Env) DumpTenant(t testing.TB, i int, tenant string) []string {
	t.Helper()
	var out []string
	for _, r := range e.Dump(t, i) {
		if strings.HasPrefix(r, tenant+"|") {
			out = append(out, r)
		}
	}
	return out
}

// Backup is a copy of a table's rows.
type Backup struct {
	table int
	recs  []retention.Record // Memory
	name  string             // SQL: the backup table
}

// Backup copies table i.
func (e *Env) Backup(t testing.TB, i int) Backup {
	t.Helper()
	ctx := context.Background()
	b := Backup{table: i}
	if e.Kind == Memory {
		cl, err := e.mem[i].Claim(ctx, retention.Query{All: true, ReadOnly: true})
		require.NoError(t, err)
		b.recs = slices.Clone(cl.Records())
		require.NoError(t, cl.Rollback())
		return b
	}
	b.name = e.tables[i].Name + "_backup"
	_, err := e.DB.ExecContext(ctx, "CREATE TABLE "+b.name+" AS SELECT * FROM "+e.tables[i].Name)
	require.NoError(t, err)
	return b
}

// Restore puts back the backed-up rows of tenant (the first key column),
// replacing that tenant's current rows.
func (e *Env) Restore(t testing.TB, b Backup, tenant string) {
	t.Helper()
	ctx := context.Background()
	if e.Kind == Memory {
		for _, r := range b.recs {
			if r.Tenant == tenant {
				require.NoError(t, e.mem[b.table].Put(r.Value, r.Created))
			}
		}
		return
	}
	tb := e.tables[b.table]
	ph := "?"
	if e.Kind == Postgres {
		ph = "$1"
	}
	_, err := e.DB.ExecContext(ctx, "DELETE FROM "+tb.Name+" WHERE "+tb.Key[0]+" = "+ph, tenant)
	require.NoError(t, err)
	_, err = e.DB.ExecContext(ctx, "INSERT INTO "+tb.Name+" SELECT * FROM "+b.name+" WHERE "+tb.Key[0]+" = "+ph, tenant)
	require.NoError(t, err)
}

// format prints a value with pointers followed, so equal records print
// alike.
func format(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return format(v.Elem())
	case reflect.Struct:
		if tm, ok := v.Interface().(time.Time); ok {
			return tm.UTC().Format(time.RFC3339Nano)
		}
		parts := make([]string, v.NumField())
		for i := range parts {
			parts[i] = v.Type().Field(i).Name + ":" + format(v.Field(i))
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v.Interface()))
}

// Customer and Invoice are the fixture of the "shredding never destroys
// what must be kept" scenario: a then=shred note due after 30 days and a
// tax id under min=7y on the same record, and an invoice of the same
// subject (another type) that a legal hold keeps. Every encrypted field is
// sealed under the subject's key.
type Customer struct {
	Tenant    string    `db:"tenant" pii:"tenant"`
	ID        string    `db:"id" pii:"subject"`
	Note      string    `db:"note" pii:"health,encrypt,retain=30d,then=shred"`
	TaxID     string    `db:"tax_id" pii:"national_id,encrypt,retain=7y,min=7y,then=null"`
	CreatedAt time.Time `db:"created_at"`
}

// Invoice belongs to the Customer named by its subject field.
type Invoice struct {
	Tenant    string    `db:"tenant" pii:"tenant"`
	ID        string    `db:"id" pii:"id"`
	Customer  string    `db:"customer" pii:"subject"`
	Amount    string    `db:"amount" pii:"name,encrypt,retain=10d,then=null"`
	CreatedAt time.Time `db:"created_at"`
}

func ts(pg bool) string {
	if pg {
		return "TIMESTAMPTZ"
	}
	return "TIMESTAMP"
}

// CustomerTable and InvoiceTable map the fixture.
var (
	CustomerTable = Table{Prototype: &Customer{}, Name: "customer", Key: []string{"tenant", "id"}, DDL: func(pg bool) string {
		return `CREATE TABLE customer (tenant TEXT NOT NULL, id TEXT NOT NULL, note TEXT, tax_id TEXT,
			created_at ` + ts(pg) + ` NOT NULL, PRIMARY KEY (tenant, id))`
	}}
	InvoiceTable = Table{Prototype: &Invoice{}, Name: "invoice", Key: []string{"tenant", "id"}, DDL: func(pg bool) string {
		return `CREATE TABLE invoice (tenant TEXT NOT NULL, id TEXT NOT NULL, customer TEXT NOT NULL, amount TEXT,
			created_at ` + ts(pg) + ` NOT NULL, PRIMARY KEY (tenant, id))`
	}}
)

// Get returns the record (tenant, id) of table i as the store reads it, or nil.
func (e *Env) Get(t testing.TB, i int, tenant, id string) any {
	t.Helper()
	cl, err := e.Stores[i].Claim(context.Background(), retention.Query{Tenant: tenant, Record: id, ReadOnly: true, Limit: 1})
	require.NoError(t, err)
	recs := cl.Records()
	require.NoError(t, cl.Rollback())
	if len(recs) == 0 {
		return nil
	}
	return recs[0].Value
}
