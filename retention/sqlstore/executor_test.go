package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/internal/benchdata"
	"github.com/fieldguard/pii/retention/sqlstore"
)

// TestWritesJoinTheCallersTx: under pii.WithExecutor, a legal hold, a
// pending shred and ledger entries are written in the caller's
// transaction: rolled back, nothing is left; committed, all are there.
func TestWritesJoinTheCallersTx(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := b.open(t)
			holds, err := sqlstore.NewHolds(db, nil)
			require.NoError(t, err)
			ledger, err := sqlstore.NewLedger(db, nil)
			require.NoError(t, err)
			require.NoError(t, ledger.CreateTables(ctx))
			m, err := retention.New(&retention.Options{LedgerKey: benchdata.LedgerKey, Holds: holds, Ledger: ledger})
			require.NoError(t, err)
			entry := retention.Entry{Subject: "s", Record: "r", Type: "T", Field: "F", Action: "null", Policy: "p",
				Outcome: retention.OutcomeApplied, At: benchdata.Now}
			// Kind 2, an erasure request: kinds are ordered integers.
			pending := retention.PendingShred{ID: "p1", Kind: 2, Sealed: []byte{1, 2, 3}, Created: benchdata.Now}

			for _, commit := range []bool{false, true} {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				txctx := pii.WithExecutor(ctx, tx)
				_, err = m.Hold(txctx, retention.Subject("tenant-a", "subject-1"), "case 1", benchdata.Now.AddDate(1, 0, 0))
				require.NoError(t, err)
				require.NoError(t, holds.(retention.PendingShreds).PutPending(txctx, pending))
				require.NoError(t, ledger.Append(txctx, entry, entry))
				// Visible inside the transaction.
				active, err := holds.Active(txctx, benchdata.Now)
				require.NoError(t, err)
				require.Len(t, active, 1)
				n := countEntries(txctx, t, ledger, "")
				require.Equal(t, 2, n, "two entries appended")
				if commit {
					require.NoError(t, tx.Commit())
				} else {
					require.NoError(t, tx.Rollback())
				}
				active, err = holds.Active(ctx, benchdata.Now)
				require.NoError(t, err)
				ps, err := holds.(retention.PendingShreds).Pending(ctx, "", 10)
				require.NoError(t, err)
				n = countEntries(ctx, t, ledger, "")
				if commit {
					require.Len(t, active, 1)
					require.Equal(t, m.Hash(retention.Subject("tenant-a", "subject-1")), active[0].Subject)
					require.Len(t, ps, 1)
					require.Positive(t, n)
				} else {
					require.Empty(t, active, "a hold placed in a rolled-back transaction is gone")
					require.Empty(t, ps, "a pending shred recorded in a rolled-back transaction is gone")
					require.Zero(t, n, "ledger entries appended in a rolled-back transaction are gone")
				}
			}
		})
	}
}

// TestDDLThenCreateTables: the statements DDL returns, applied by hand as a
// migration tool would, make the schema CreateTables makes, after which
// CreateTables changes nothing (and a store works on it).
func TestDDLThenCreateTables(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := b.open(t)
			d := pii.SQLite
			if b.pg {
				d = pii.Postgres
			}
			ddl, err := sqlstore.DDL(&sqlstore.Options{Dialect: d})
			require.NoError(t, err)
			require.Contains(t, ddl, "retention_ledger")
			require.Contains(t, ddl, "retention_holds")
			require.Contains(t, ddl, "retention_pending_shreds")
			_, err = db.ExecContext(ctx, ddl)
			require.NoError(t, err)
			before := schemaState(t, db, bool(b.pg))
			tables, err := sqlstore.NewLedger(db, nil) // its CreateTables makes the holds and pending tables too
			require.NoError(t, err)
			require.NoError(t, tables.CreateTables(ctx))
			require.NoError(t, tables.CreateTables(ctx))
			require.Equal(t, before, schemaState(t, db, bool(b.pg)), "CreateTables after the DDL is a no-op")
			// The hand-made schema is complete: the ledger is append-only.
			l, err := sqlstore.NewLedger(db, nil)
			require.NoError(t, err)
			require.NoError(t, l.Append(ctx, retention.Entry{Subject: "s", Action: "shred", Outcome: retention.OutcomeApplied, At: benchdata.Now}))
			_, err = db.ExecContext(ctx, "DELETE FROM retention_ledger")
			require.Error(t, err)
		})
	}
}

// TestCreateTablesMatchesDDL: CreateTables on an empty database makes the
// schema the DDL makes.
func TestCreateTablesMatchesDDL(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db1, _ := b.open(t)
			db2, _ := b.open(t)
			d := pii.SQLite
			if b.pg {
				d = pii.Postgres
			}
			ddl, err := sqlstore.DDL(&sqlstore.Options{Dialect: d})
			require.NoError(t, err)
			_, err = db1.ExecContext(ctx, ddl)
			require.NoError(t, err)
			l, err := sqlstore.NewLedger(db2, nil)
			require.NoError(t, err)
			require.NoError(t, l.CreateTables(ctx))
			require.Equal(t, schemaShape(t, db1, bool(b.pg)), schemaShape(t, db2, bool(b.pg)))
		})
	}
}

// schemaState is what changes when DDL runs: SQLite's schema_version, and
// on PostgreSQL the row versions of the tables, triggers and functions.
func schemaState(t *testing.T, db *sql.DB, pg bool) string {
	t.Helper()
	if !pg {
		var v int
		require.NoError(t, db.QueryRow("PRAGMA schema_version").Scan(&v))
		return fmt.Sprint(v, schemaShape(t, db, pg))
	}
	return strings.Join(rowsOf(t, db, `SELECT 'class ' || relname || ' ' || xmin::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace
		UNION ALL SELECT 'trigger ' || tgname || ' ' || xmin::text FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)
		UNION ALL SELECT 'proc ' || proname || ' ' || xmin::text FROM pg_proc WHERE pronamespace = current_schema()::regnamespace ORDER BY 1`), "\n")
}

// schemaShape lists the tables, columns and triggers.
func schemaShape(t *testing.T, db *sql.DB, pg bool) string {
	t.Helper()
	if !pg {
		return strings.Join(rowsOf(t, db, "SELECT type || ' ' || name FROM sqlite_master ORDER BY name"), "\n")
	}
	return strings.Join(rowsOf(t, db, `SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = current_schema()
		UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace) ORDER BY 1`), "\n")
}

func rowsOf(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out)
	return out
}
