package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
)

func TestSQLStoreRefusesNonUniqueRowKey(t *testing.T) {
	type NoTenantColumn struct {
		Tenant string `db:"-" pii:"tenant"`
		ID     string `db:"id" pii:"subject"`
		Email  string `db:"email" pii:"email,retain=1y,then=null"`
	}
	type TenantAsID struct {
		Tenant string `db:"tenant" pii:"tenant"`
		ID     string `db:"id" pii:"subject"`
		Email  string `db:"email" pii:"email,retain=1y,then=null"`
	}
	db := testdb.SQLite(t)
	_, err := sqlstore.New(db, &NoTenantColumn{}, nil)
	require.ErrorContains(t, err, `has a pii:"tenant" field (Tenant) that maps to no column`)
	require.ErrorContains(t, err, "map Tenant to its column")
	require.ErrorContains(t, err, "(tenant, id)")
	_, err = sqlstore.New(db, &TenantAsID{}, &sqlstore.Options{Mapping: &sqlstore.Mapping{ID: "tenant"}})
	require.ErrorContains(t, err, "is the tenant column")
	// Mapped, the same type is accepted.
	_, err = sqlstore.New(db, &NoTenantColumn{}, &sqlstore.Options{Mapping: &sqlstore.Mapping{Columns: map[string]string{"Tenant": "tenant"}}})
	require.NoError(t, err)
	_, err = sqlstore.New(db, &TenantAsID{}, nil)
	require.NoError(t, err)
}

func TestSQLStoreValidatesNames(t *testing.T) {
	type BadColumn struct {
		ID    string `db:"id" pii:"subject"`
		Email string `db:"e-mail" pii:"email,retain=1y,then=null"`
	}
	type Good struct {
		ID    string `db:"id" pii:"subject"`
		Email string `db:"email" pii:"email,retain=1y,then=null"`
	}
	db := testdb.SQLite(t)
	for _, tc := range []struct {
		name  string
		proto any
		opts  sqlstore.Options
		what  string
	}{
		{"table", &Good{}, sqlstore.Options{Mapping: &sqlstore.Mapping{Table: "good; DROP TABLE x"}}, "table"},
		{"three parts", &Good{}, sqlstore.Options{Mapping: &sqlstore.Mapping{Table: "a.b.c"}}, "table"},
		{"tag column", &BadColumn{}, sqlstore.Options{}, "column"},
		{"mapped column", &Good{}, sqlstore.Options{Mapping: &sqlstore.Mapping{Columns: map[string]string{"Email": "email OR 1=1"}}}, "column"},
		{"created column", &Good{}, sqlstore.Options{Mapping: &sqlstore.Mapping{Created: "created at"}}, "Created column"},
		{"ledger table", &Good{}, sqlstore.Options{LedgerTable: "ledger-1"}, "ledger table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlstore.New(db, tc.proto, &tc.opts)
			require.ErrorContains(t, err, tc.what)
			require.ErrorContains(t, err, "letters, digits and underscores")
			require.ErrorContains(t, err, "sqlstore: ")
		})
	}
	_, err := sqlstore.NewHolds(db, &sqlstore.Options{HoldsTable: "1holds"})
	require.ErrorContains(t, err, "holds table")
	_, err = sqlstore.NewHolds(db, &sqlstore.Options{PendingTable: "pending.x.y"})
	require.ErrorContains(t, err, "pending shreds table")
	_, err = sqlstore.NewLedger(db, &sqlstore.Options{LedgerTable: `"quoted"`})
	require.ErrorContains(t, err, "ledger table")
	_, err = sqlstore.DDL(&sqlstore.Options{Dialect: pii.SQLite, LedgerTable: "x.y.z"})
	require.ErrorContains(t, err, "ledger table")
	_, err = sqlstore.DDL(&sqlstore.Options{Dialect: pii.Postgres, PendingTable: "p q"})
	require.ErrorContains(t, err, "pending shreds table")
	_, err = sqlstore.DDL(nil)
	require.ErrorContains(t, err, "Options.Dialect")
	_, err = sqlstore.DDL(&sqlstore.Options{})
	require.ErrorContains(t, err, "Options.Dialect")
}

// schemaDB returns a database with a second schema named "app" (SQLite: an
// attached database, on a single connection since ATTACH is per
// connection) and a query listing the tables in it.
func schemaDB(t *testing.T, kind string) (db *sql.DB, schema string, tables func() []string) {
	t.Helper()
	ctx := context.Background()
	if kind == "sqlite" {
		db = testdb.SQLite(t)
		db.SetMaxOpenConns(1)
		_, err := db.ExecContext(ctx, "ATTACH DATABASE ? AS app", filepath.Join(t.TempDir(), "app.db"))
		require.NoError(t, err)
		list := func(q string) []string {
			rows, err := db.QueryContext(ctx, q)
			require.NoError(t, err)
			defer rows.Close()
			var out []string
			for rows.Next() {
				var n string
				require.NoError(t, rows.Scan(&n))
				out = append(out, n)
			}
			return out
		}
		return db, "app", func() []string {
			require.Empty(t, list("SELECT name FROM main.sqlite_master WHERE name LIKE 'retention%' OR name = 'client'"), "nothing in main")
			return list("SELECT type || ' ' || name FROM app.sqlite_master ORDER BY type, name")
		}
	}
	db, _ = testdb.Postgres(t)
	var cur string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&cur))
	schema = cur + "_app"
	_, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE") })
	return db, schema, func() []string {
		var out []string
		for _, q := range []string{
			"SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
			"SELECT 'function ' || routine_name FROM information_schema.routines WHERE routine_schema = $1 ORDER BY 1",
			"SELECT 'trigger ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1",
		} {
			rows, err := db.QueryContext(ctx, q, schema)
			require.NoError(t, err)
			for rows.Next() {
				var n string
				require.NoError(t, rows.Scan(&n))
				out = append(out, n)
			}
			rows.Close()
		}
		var stray int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'retention_ledger%' AND pronamespace = current_schema()::regnamespace").Scan(&stray))
		require.Zero(t, stray, "no function outside the schema")
		return out
	}
}

// TestSchemaQualifiedNames runs the table, ledger, holds and pending shreds
// under schema-qualified names: an attached database on SQLite, a schema on
// PostgreSQL.
func TestSchemaQualifiedNames(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, schema, tables := schemaDB(t, kind)
			ddl := clientTable.DDL(kind == "postgres")
			_, err := db.ExecContext(ctx, "CREATE TABLE "+schema+"."+ddl[len("CREATE TABLE "):])
			require.NoError(t, err)
			opts := &sqlstore.Options{Mapping: &sqlstore.Mapping{Table: schema + ".client"}, LedgerTable: schema + ".retention_ledger",
				HoldsTable: schema + ".retention_holds", PendingTable: schema + ".retention_pending_shreds"}
			tbl, err := sqlstore.New(db, &Client{}, opts)
			require.NoError(t, err)
			ledger, err := sqlstore.NewLedger(db, opts) // the one tbl appends to
			require.NoError(t, err)
			require.NoError(t, ledger.CreateTables(ctx))
			holds, err := sqlstore.NewHolds(db, opts)
			require.NoError(t, err)
			require.NoError(t, ledger.CreateTables(ctx)) // a second time is fine
			rec := &recorder{}
			m, err := retention.New(&retention.Options{Clock: piitest.NewClock(tenantNow), LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
				Shredder: rec, Tokens: rec, Holds: holds, Ledger: ledger})
			require.NoError(t, err)
			require.NoError(t, m.Register(tbl))
			p := "?"
			if kind == "postgres" {
				p = "$1"
			}
			for i, tenant := range []string{"north", "south"} {
				_, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s.client (tenant, id, email, secret, last_seen, created_at) VALUES (%s, 'c-1', 'a@example.com', 'sealed', %s, %s)",
					schema, p, ph(kind, 2), ph(kind, 3)), tenant, tenantNow.AddDate(-2+i, 0, 0), tenantNow.AddDate(-3, 0, 0))
				require.NoError(t, err)
			}
			_, err = m.Hold(ctx, retention.Subject("south", "c-1"), "case", time.Time{})
			require.NoError(t, err)
			st, err := m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.EqualValues(t, 1, st.KeysShredded)
			rep, err := m.Forget(ctx, "south", "c-1")
			require.NoError(t, err)
			require.True(t, rep.ShredPending, "held: pending, kept in the schema's pending table")
			_, err = m.Release(ctx, retention.Subject("south", "c-1"))
			require.NoError(t, err)
			require.Equal(t, []string{"forget:north/c-1", "tokens:north/c-1", "forget:south/c-1", "tokens:south/c-1"}, rec.Calls())
			n := countEntries(ctx, t, ledger, "")
			require.Positive(t, n)
			_, err = db.ExecContext(ctx, "UPDATE "+schema+".retention_ledger SET outcome = 'x'")
			require.ErrorContains(t, err, "append-only")
			_, err = db.ExecContext(ctx, "DELETE FROM "+schema+".retention_ledger")
			require.ErrorContains(t, err, "append-only")
			if kind == "sqlite" {
				require.Equal(t, []string{"index sqlite_autoindex_client_1", "index sqlite_autoindex_retention_holds_1",
					"index sqlite_autoindex_retention_pending_shreds_1", "table client", "table retention_holds", "table retention_ledger",
					"table retention_pending_shreds", "trigger retention_ledger_no_delete", "trigger retention_ledger_no_update"}, tables())
			} else {
				require.Equal(t, []string{"table client", "table retention_holds", "table retention_ledger", "table retention_pending_shreds",
					"function retention_ledger_append_only", "trigger retention_ledger_append_only"}, tables())
			}
		})
	}
}

func ph(kind string, n int) string {
	if kind == "postgres" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// TestNewLedgerLeavesNothingBehind: when creating the ledger fails half-way
// (here its name is taken by a view, on which the trigger cannot be made),
// nothing it created stays: no table, no function, no trigger.
func TestNewLedgerLeavesNothingBehind(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, schema, tables := schemaDB(t, kind)
			_, err := db.ExecContext(ctx, "CREATE VIEW "+schema+".retention_ledger AS SELECT 1 AS seq")
			require.NoError(t, err)
			l, err := sqlstore.NewLedger(db, &sqlstore.Options{LedgerTable: schema + ".retention_ledger",
				HoldsTable: schema + ".retention_holds", PendingTable: schema + ".retention_pending_shreds"})
			require.NoError(t, err)
			err = l.CreateTables(ctx)
			require.ErrorContains(t, err, "sqlstore: create tables")
			got := tables()
			if kind == "sqlite" {
				require.Equal(t, []string{"view retention_ledger"}, got)
			} else {
				require.Equal(t, []string{"table retention_ledger"}, got, "the view (information_schema lists it as a table), no function, no trigger")
			}
		})
	}
}

// TestNewHoldsLeavesNothingBehind: the holds and pending shreds tables are
// created in one transaction; when the second fails (SQLite: its name is
// taken by an index), the first is not left behind.
func TestNewHoldsLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	_, err := db.ExecContext(ctx, "CREATE TABLE other (x TEXT)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CREATE INDEX retention_pending_shreds ON other (x)")
	require.NoError(t, err)
	l, err := sqlstore.NewLedger(db, nil)
	require.NoError(t, err)
	err = l.CreateTables(ctx)
	require.ErrorContains(t, err, "sqlstore: create tables")
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name IN ('retention_holds', 'retention_ledger')").Scan(&n))
	require.Zero(t, n)
}

func TestTableName(t *testing.T) {
	db := testdb.SQLite(t)
	type visitor struct {
		ID    string `pii:"subject"`
		Email string `pii:"email"`
	}
	tb, err := sqlstore.New(db, &visitor{}, &sqlstore.Options{Mapping: &sqlstore.Mapping{Table: "main.visitors"}})
	require.NoError(t, err)
	require.Equal(t, "main.visitors", tb.TableName())
	tb, err = sqlstore.New(db, &visitor{}, nil)
	require.NoError(t, err)
	require.Equal(t, "visitor", tb.TableName())
}
