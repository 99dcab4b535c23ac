package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
)

// names are the tables the library creates: ledger, holds and pending
// shreds. The application's own data tables are its own.
type names struct{ ledger, holds, pending string }

func (o *Options) names() (names, error) {
	n := names{ledger: o.ledgerTable(), holds: o.holdsTable(), pending: o.pendingTable()}
	for _, t := range []struct{ what, name string }{
		{"ledger table", n.ledger}, {"holds table", n.holds}, {"pending shreds table", n.pending},
	} {
		if err := validTable(t.what, t.name); err != nil {
			return names{}, err
		}
	}
	return n, nil
}

// DDL returns the statements [Ledger.CreateTables] runs, each ending in
// ";": the ledger table with
// its append-only triggers, the holds table and the pending shreds table,
// named by opts. Hand them to a migration tool (goose, golang-migrate,
// atlas) to own the schema. opts.Dialect must be SQLite or Postgres.
func DDL(opts *Options) (string, error) {
	if opts == nil || (opts.Dialect != pii.SQLite && opts.Dialect != pii.Postgres) {
		return "", fmt.Errorf("sqlstore: DDL needs Options.Dialect set to SQLite or Postgres")
	}
	n, err := opts.names()
	if err != nil {
		return "", err
	}
	return strings.Join(ddl(sqldialect.Of(opts.Dialect), n), ";\n\n") + ";\n", nil
}

func ddl(d sqldialect.Dialect, n names) []string {
	return append(ledgerDDL(d, n.ledger), holdsDDL(d, n.holds, n.pending)...)
}

// createTables runs ddl in one transaction: a failure leaves nothing
// behind. On PostgreSQL it first checks that the tables and the ledger's
// trigger exist, and takes an advisory lock named after the ledger table
// so that processes starting together do not race (concurrent CREATE OR
// REPLACE FUNCTION fails with "tuple concurrently updated"), checking
// again under it: when the schema is complete nothing is run.
func createTables(ctx context.Context, db *sql.DB, d sqldialect.Dialect, n names) error {
	if err := createAll(ctx, db, d, n.ledger, ddl(d, n), done(d, n)); err != nil {
		return fmt.Errorf("sqlstore: create tables: %w", err)
	}
	return nil
}

// schemaOf returns the "schema." prefix of a qualified table name, or "".
func schemaOf(table string) string {
	return table[:len(table)-len(sqldialect.BaseName(table))]
}

func ledgerDDL(d sqldialect.Dialect, table string) []string {
	schema, base := schemaOf(table), sqldialect.BaseName(table)
	if d == sqldialect.Postgres {
		fn := schema + base + "_append_only"
		return []string{
			`CREATE TABLE IF NOT EXISTS ` + table + ` (
				seq BIGSERIAL PRIMARY KEY,
				subject_hash TEXT NOT NULL, record_hash TEXT NOT NULL, type TEXT NOT NULL,
				outcome TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, n INTEGER NOT NULL, actions JSON NOT NULL)`,
			`CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'retention ledger is append-only'; END $$`,
			`DROP TRIGGER IF EXISTS ` + base + `_append_only ON ` + table,
			`CREATE TRIGGER ` + base + `_append_only BEFORE UPDATE OR DELETE ON ` + table + `
				FOR EACH ROW EXECUTE FUNCTION ` + fn + `()`,
		}
	}
	// SQLite: a trigger lives in its table's schema (attached database),
	// named with the schema and created ON the unqualified table.
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + table + ` (
			seq INTEGER PRIMARY KEY,
			subject_hash TEXT NOT NULL, record_hash TEXT NOT NULL, type TEXT NOT NULL,
			outcome TEXT NOT NULL, at TEXT NOT NULL, n INTEGER NOT NULL, actions TEXT NOT NULL)`,
		`CREATE TRIGGER IF NOT EXISTS ` + schema + base + `_no_update BEFORE UPDATE ON ` + base + `
			BEGIN SELECT RAISE(ABORT, 'retention ledger is append-only'); END`,
		`CREATE TRIGGER IF NOT EXISTS ` + schema + base + `_no_delete BEFORE DELETE ON ` + base + `
			BEGIN SELECT RAISE(ABORT, 'retention ledger is append-only'); END`,
	}
}

// done is the query that tells, on PostgreSQL, that the schema is
// complete (the tables and the ledger's trigger exist), so that the DDL,
// which takes locks, runs only when needed.
func done(d sqldialect.Dialect, n names) string {
	if d != sqldialect.Postgres {
		return ""
	}
	return `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('` + n.ledger + `')
		AND tgname = '` + sqldialect.BaseName(n.ledger) + `_append_only')
		AND to_regclass('` + n.holds + `') IS NOT NULL AND to_regclass('` + n.pending + `') IS NOT NULL`
}

// createAll runs DDL statements in one transaction. On PostgreSQL, done
// (when set) is checked first, and the transaction takes an advisory lock
// named after the table so that processes starting together do not race
// (concurrent CREATE OR REPLACE FUNCTION fails with "tuple concurrently
// updated"); done is checked again under it.
func createAll(ctx context.Context, db *sql.DB, d sqldialect.Dialect, table string, stmts []string, done string) error {
	if done != "" {
		var ok bool
		if err := db.QueryRowContext(ctx, done).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	x, err := begin(ctx, db, d, false)
	if err != nil {
		return err
	}
	if d == sqldialect.Postgres {
		if _, err := x.q.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "fieldguard/pii sqlstore "+table); err != nil {
			x.rollback()
			return err
		}
		if done != "" {
			var ok bool
			rows, err := x.q.QueryContext(ctx, done)
			if err == nil {
				if rows.Next() {
					err = rows.Scan(&ok)
				}
				rows.Close()
			}
			if err != nil {
				x.rollback()
				return err
			}
			if ok {
				return x.rollback()
			}
		}
	}
	for _, s := range stmts {
		if _, err := x.q.ExecContext(ctx, s); err != nil {
			x.rollback()
			return err
		}
	}
	return x.commit()
}

func holdsDDL(d sqldialect.Dialect, holds, pending string) []string {
	ts, blob := "TIMESTAMP", "BLOB"
	if d == sqldialect.Postgres {
		ts, blob = "TIMESTAMPTZ", "BYTEA"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + holds + ` (
			id TEXT PRIMARY KEY, subject_hash TEXT NOT NULL, type TEXT NOT NULL, record_hash TEXT NOT NULL,
			reason TEXT NOT NULL, until ` + ts + ` NULL, created ` + ts + ` NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + pending + ` (
			id TEXT PRIMARY KEY, kind INTEGER NOT NULL, sealed ` + blob + ` NOT NULL, created ` + ts + ` NOT NULL)`,
	}
}
