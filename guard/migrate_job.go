// The job table of migrations, and their transactions.

package guard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqltx"
)

// jobTable is the table that keeps every migration job's cursor and
// counts, one row per job.
type jobTable struct {
	name string
	d    sqldialect.Dialect
	get  string
	lock string
	save string
}

func newJobTable(d sqldialect.Dialect, name string) (*jobTable, error) {
	if err := sqldialect.ValidTable("job table", name); err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	cols := "phase, round, round_found, after_tenant, after_id, total, scanned, changed, verified, stragglers"
	get := "SELECT " + cols + " FROM " + name + " WHERE job = ?"
	jt := &jobTable{name: name, d: d, get: d.Rebind(get), lock: d.Rebind(get)}
	if d == sqldialect.Postgres {
		jt.lock = d.Rebind(get + " FOR UPDATE")
	}
	jt.save = d.Rebind("INSERT INTO " + name + " (job, " + cols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " +
		"ON CONFLICT (job) DO UPDATE SET phase = excluded.phase, round = excluded.round, round_found = excluded.round_found, " +
		"after_tenant = excluded.after_tenant, after_id = excluded.after_id, total = excluded.total, scanned = excluded.scanned, " +
		"changed = excluded.changed, verified = excluded.verified, stragglers = excluded.stragglers")
	return jt, nil
}

// MigrationDDL returns the statement that creates the job table of
// migrations (MigrateOptions.JobTable, default "pii_migrations"), which a
// job otherwise creates itself, for migration tools. d must be pii.SQLite
// or pii.Postgres.
func MigrationDDL(d pii.Dialect, table string) (string, error) {
	if d != pii.SQLite && d != pii.Postgres {
		return "", errors.New("guard: MigrationDDL needs SQLite or Postgres")
	}
	if table == "" {
		table = "pii_migrations"
	}
	if err := sqldialect.ValidTable("job table", table); err != nil {
		return "", fmt.Errorf("guard: %w", err)
	}
	return jobDDL(sqldialect.Of(d), table) + ";\n", nil
}

func jobDDL(d sqldialect.Dialect, table string) string {
	big := "INTEGER"
	if d == sqldialect.Postgres {
		big = "BIGINT"
	}
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	job TEXT PRIMARY KEY,
	phase TEXT NOT NULL,
	round ` + big + ` NOT NULL,
	round_found ` + big + ` NOT NULL,
	after_tenant TEXT,
	after_id TEXT,
	total ` + big + ` NOT NULL,
	scanned ` + big + ` NOT NULL,
	changed ` + big + ` NOT NULL,
	verified ` + big + ` NOT NULL,
	stragglers ` + big + ` NOT NULL)`
}

func (jt *jobTable) create(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, jobDDL(jt.d, jt.name)); err != nil {
		return fmt.Errorf("guard: create %s: %w", jt.name, err)
	}
	return nil
}

// load reads job; lock takes its row lock (PostgreSQL) for the batch's
// transaction, so two runs of one job take turns.
func (jt *jobTable) load(ctx context.Context, q pii.Executor, job string, lock bool) (jobState, rawCursor, bool, error) {
	stmt := jt.get
	if lock {
		stmt = jt.lock
	}
	st := jobState{MigrateReport: MigrateReport{Job: job}}
	var c rawCursor
	err := q.QueryRowContext(ctx, stmt, job).Scan(&st.Phase, &st.round, &st.roundFound, &c.tenant, &c.id,
		&st.Total, &st.Scanned, &st.Changed, &st.Verified, &st.Stragglers)
	if errors.Is(err, sql.ErrNoRows) {
		return jobState{}, rawCursor{}, false, nil
	}
	if err != nil {
		return jobState{}, rawCursor{}, false, fmt.Errorf("guard: read %s: %w", jt.name, err)
	}
	switch st.Phase {
	case "pass", "verify", "done":
	default:
		return jobState{}, rawCursor{}, false, fmt.Errorf("guard: %s: job %s has an unknown phase", jt.name, job)
	}
	return st, c, true, nil
}

func (jt *jobTable) saveState(ctx context.Context, q pii.Executor, st *jobState) error {
	_, err := q.ExecContext(ctx, jt.save, st.Job, st.Phase, st.round, st.roundFound, st.afterText[0], st.afterText[1],
		st.Total, st.Scanned, st.Changed, st.Verified, st.Stragglers)
	if err != nil {
		return fmt.Errorf("guard: write %s: %w", jt.name, err)
	}
	return nil
}

// rawCursor is a stored cursor: the row key of the last row done, as text.
type rawCursor struct{ tenant, id sql.NullString }

// beginBatch begins a batch's transaction: a *sql.Tx on PostgreSQL, and
// on SQLite a connection in BEGIN IMMEDIATE, so the write lock is taken
// before the batch reads, as retention/sqlstore's claims do.
func beginBatch(ctx context.Context, db *sql.DB, d sqldialect.Dialect) (*batchTx, error) {
	x, err := sqltx.Begin(ctx, db, d, false)
	if err != nil {
		return nil, fmt.Errorf("guard: migrate: %w", err)
	}
	return &batchTx{Tx: x, q: x.Q}, nil
}

type batchTx struct {
	*sqltx.Tx
	q pii.Executor
}

func (x *batchTx) commit() error { return x.Commit() }

func (x *batchTx) rollback() { x.Rollback() }
