package guard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
	"github.com/fieldguard/pii/internal/testdb"
)

func sqlmapRoot[T any](p *T) reflect.Value { return reflect.ValueOf(p).Elem() }

// tlegacy is a table whose four personal columns were written in clear
// before the tags were added.
type tlegacy struct {
	Tenant     string  `pii:"tenant"`
	ID         int64   `pii:"id"`
	Subject    string  `pii:"subject"`
	Name       string  `pii:"name,encrypt"`
	Email      string  `pii:"email,encrypt,index=EmailIndex,norm=email"`
	EmailIndex string  `pii:"-"`
	TaxID      string  `pii:"national_id,encrypt=det"`
	Phone      *string `pii:"phone,encrypt"`
	Plan       string  `pii:"-"`
}

func legacyRow(tenant string, id int64) tlegacy {
	r := tlegacy{Tenant: tenant, ID: id, Subject: fmt.Sprintf("s%d", id%7), Name: fmt.Sprintf("Name %d", id),
		Email: fmt.Sprintf("User%d@Example.com", id), TaxID: fmt.Sprintf("TAX-%d", id), Plan: "pro"}
	if id%5 != 0 { // every fifth row has no phone (NULL): a column a batch leaves unchanged
		phone := fmt.Sprintf("+44 20 7946 %04d", id)
		r.Phone = &phone
	}
	return r
}

// insertClear writes rows as an application did before the tags: in
// clear, without a blind index.
func insertClear(t testing.TB, db *sql.DB, m *sqlmap.Map, d sqldialect.Dialect, rows ...tlegacy) {
	t.Helper()
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(m.Cols)), ", ")
	q := d.Rebind("INSERT INTO " + m.Table + " (" + m.SelectList + ") VALUES (" + ph + ")")
	tx, err := db.Begin()
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Commit()) }()
	for i := range rows {
		root := sqlmapRoot(&rows[i])
		var args []any
		for c := range m.Cols {
			if c == m.ID || c == m.Tenant {
				_, k := sqlmap.KeyOf(m.Field(root, c))
				args = append(args, k)
				continue
			}
			args = append(args, sqlmap.Value(m.Field(root, c)))
		}
		_, err := tx.Exec(q, args...)
		require.NoError(t, err)
	}
}

// rawRows reads the table as stored, in row key order.
func rawRows(t testing.TB, db *sql.DB, m *sqlmap.Map) []tlegacy {
	t.Helper()
	rows, err := db.Query("SELECT " + m.SelectList + " FROM " + m.Table + " ORDER BY " + m.OrderBy)
	require.NoError(t, err)
	defer rows.Close()
	var out []tlegacy
	raw := make([]any, len(m.Cols))
	dest := make([]any, len(m.Cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		require.NoError(t, rows.Scan(dest...))
		var v tlegacy
		require.NoError(t, m.DecodeInto(sqlmapRoot(&v), raw))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

func allSealed(v tlegacy) bool {
	return envelope.IsSealed(v.Name) && envelope.IsSealed(v.Email) && envelope.IsSealed(v.TaxID) &&
		(v.Phone == nil || envelope.IsSealed(*v.Phone)) && v.EmailIndex != ""
}

func noneSealed(v tlegacy) bool {
	return !envelope.IsSealed(v.Name) && !envelope.IsSealed(v.Email) && !envelope.IsSealed(v.TaxID) &&
		(v.Phone == nil || !envelope.IsSealed(*v.Phone))
}

type legacySetup struct {
	db    *sql.DB
	g     *Guard
	table *Table[tlegacy]
	mg    *Migration
}

func newLegacy(t *testing.T, db *sql.DB, name string, n int) *legacySetup {
	t.Helper()
	g := newTestGuard(t, db)
	return newLegacyWith(t, g, name, n)
}

func newLegacyWith(t *testing.T, g *Guard, name string, n int) *legacySetup {
	t.Helper()
	tb, err := newTable[tlegacy](g, &TableOptions{Table: name, AcceptPlaintext: true})
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(context.Background()))
	mg, err := newMigration(g, tlegacy{}, &TableOptions{Table: name})
	require.NoError(t, err)
	rows := make([]tlegacy, n)
	for i := range rows {
		rows[i] = legacyRow("acme", int64(i+1))
	}
	insertClear(t, g.db, mg.m, g.dialect, rows...)
	return &legacySetup{db: g.db, g: g, table: tb, mg: mg}
}

func TestMigrateSealUnseal(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		ls := newLegacy(t, db, "l14_legacy", 57)
		jobs := &MigrateOptions{BatchSize: 10, JobTable: "l14_jobs_a"}

		// Reads accept both forms while the migration runs, and count.
		got, err := ls.table.Query(ctx, "acme", "")
		require.NoError(t, err)
		require.Len(t, got, 57)
		require.Equal(t, "Name 1", got[0].Name)
		require.Equal(t, int64(57*4-57/5), ls.table.PlaintextReads()) // no phone in every fifth row
		strict, err := newTable[tlegacy](ls.g, &TableOptions{Table: "l14_legacy"})
		require.NoError(t, err)
		_, err = strict.Get(ctx, "acme", "1")
		require.ErrorIs(t, err, envelope.ErrNotSealed)

		// A dry run writes nothing, not even its cursor.
		o := *jobs
		o.DryRun = true
		rep, err := ls.mg.Seal(ctx, &o)
		require.NoError(t, err)
		require.Equal(t, MigrateReport{Job: "seal:l14_legacy", Phase: "done", Total: 57, Scanned: 57, Changed: 57, DryRun: true}, rep)
		for _, r := range rawRows(t, db, ls.mg.m) {
			require.True(t, noneSealed(r))
		}
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM l14_jobs_a").Scan(&n))
		require.Zero(t, n)

		var progress []MigrateReport
		o = *jobs
		o.Progress = func(r MigrateReport) error { progress = append(progress, r); return nil }
		rep, err = ls.mg.Seal(ctx, &o)
		require.NoError(t, err)
		require.Equal(t, MigrateReport{Job: "seal:l14_legacy", Phase: "done", Total: 57, Scanned: 57, Changed: 57, Verified: 57}, rep)
		require.Len(t, progress, 6+6)
		require.Equal(t, int64(10), progress[0].Scanned)
		require.Equal(t, "verify", progress[6].Phase)
		for _, r := range rawRows(t, db, ls.mg.m) {
			require.True(t, allSealed(r), "row %d", r.ID)
			require.Equal(t, "pro", r.Plan)
		}
		before := ls.table.PlaintextReads()
		found, err := ls.table.FindBy(ctx, "acme", "Email", "USER7@example.COM")
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, legacyRow("acme", 7).Name, found[0].Name)
		all, err := ls.table.Query(ctx, "acme", "")
		require.NoError(t, err)
		for i, r := range all {
			want := legacyRow("acme", int64(i+1))
			want.EmailIndex = r.EmailIndex
			require.Equal(t, want, r)
		}
		require.Equal(t, before, ls.table.PlaintextReads(), "no value is read in clear any more")

		// Done: a new run reads everything and changes nothing.
		rep, err = ls.mg.Seal(ctx, jobs)
		require.NoError(t, err)
		require.Zero(t, rep.Changed)

		// And back.
		rep, err = ls.mg.Unseal(ctx, jobs)
		require.NoError(t, err)
		require.Equal(t, MigrateReport{Job: "unseal:l14_legacy", Phase: "done", Total: 57, Scanned: 57, Changed: 57, Verified: 57}, rep)
		for i, r := range rawRows(t, db, ls.mg.m) {
			want := legacyRow("acme", int64(i+1))
			want.EmailIndex = r.EmailIndex // companions are left
			require.Equal(t, want, r)
		}
	})
}

var errStop = errors.New("stop here")

func TestMigrateResumes(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		ls := newLegacy(t, db, "l14_resume", 45)
		batches := 0
		o := &MigrateOptions{BatchSize: 10, JobTable: "l14_jobs_b", Progress: func(MigrateReport) error {
			if batches++; batches == 2 {
				return errStop
			}
			return nil
		}}
		rep, err := ls.mg.Seal(ctx, o)
		require.ErrorIs(t, err, errStop)
		require.Equal(t, int64(20), rep.Scanned)
		raw := rawRows(t, db, ls.mg.m)
		for i, r := range raw {
			require.Equal(t, i < 20, allSealed(r), "row %d", r.ID)
			require.Equal(t, i >= 20, noneSealed(r), "row %d", r.ID)
		}
		// The other direction waits for this job.
		_, err = ls.mg.Unseal(ctx, &MigrateOptions{JobTable: "l14_jobs_b"})
		require.ErrorContains(t, err, "unfinished")

		o.Progress = nil
		rep, err = ls.mg.Seal(ctx, o)
		require.NoError(t, err)
		require.Equal(t, MigrateReport{Job: "seal:l14_resume", Phase: "done", Total: 45, Scanned: 45, Changed: 45, Verified: 45}, rep)
		for _, r := range rawRows(t, db, ls.mg.m) {
			require.True(t, allSealed(r))
		}
		// Restart starts over (and finds nothing to do).
		rep, err = ls.mg.Seal(ctx, &MigrateOptions{BatchSize: 7, JobTable: "l14_jobs_b", Restart: true, RowsPerSecond: 1e6})
		require.NoError(t, err)
		require.Equal(t, int64(45), rep.Scanned)
		require.Zero(t, rep.Changed)
	})
}

// TestMigrateStragglers: rows written in clear behind the cursor, by code
// that bypasses the library, are found by the verification pass.
func TestMigrateStragglers(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		ls := newLegacy(t, db, "l14_straggle", 30)
		next := int64(-1)
		o := &MigrateOptions{BatchSize: 10, JobTable: "l14_jobs_c", Progress: func(r MigrateReport) error {
			if r.Phase == "pass" {
				insertClear(t, db, ls.mg.m, ls.g.dialect, legacyRow("acme", next), legacyRow("acme", next-1))
				next -= 2
			}
			return nil
		}}
		rep, err := ls.mg.Seal(ctx, o)
		require.NoError(t, err)
		require.Equal(t, int64(6), rep.Stragglers)
		require.Equal(t, "done", rep.Phase)
		for _, r := range rawRows(t, db, ls.mg.m) {
			require.True(t, allSealed(r), "row %d", r.ID)
		}

		// Writers that keep bypassing the library make the job fail.
		o.Progress = func(r MigrateReport) error {
			insertClear(t, db, ls.mg.m, ls.g.dialect, legacyRow("acme", next))
			next--
			return nil
		}
		_, err = ls.mg.Seal(ctx, o)
		require.ErrorContains(t, err, "verification passes kept finding rows")
	})
}

// TestMigrateWriters runs application writers through a Table during the
// whole migration: nothing they write is lost, and every row ends sealed.
func TestMigrateWriters(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		const rows, writers = 120, 3
		ls := newLegacy(t, db, "l14_writers", rows)
		var mu sync.Mutex
		var writes atomic.Int64
		last := map[int64]tlegacy{}
		for i := int64(1); i <= rows; i++ {
			last[i] = legacyRow("acme", i)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					id := int64(w + 1 + (k*writers)%rows) // writer w owns ids ≡ w+1 mod writers
					if id > rows {
						id = int64(w + 1)
					}
					v := legacyRow("acme", id)
					v.Name = fmt.Sprintf("Renamed %d-%d", id, k)
					v.Email = fmt.Sprintf("new%d.%d@example.com", id, k)
					want := legacyRow("acme", id) // v is sealed in place, Phone too
					want.Name, want.Email = v.Name, v.Email
					var err error
					if k%5 == 4 { // and new rows, ahead of and behind the cursor
						v.ID = int64(1_000_000*(w+1) + k) // unique however many writes a writer makes
						if k%10 == 9 {
							v.ID = -v.ID
						}
						want.ID = v.ID
						err = ls.table.Insert(ctx, &v)
					} else {
						err = ls.table.Update(ctx, &v)
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					last[want.ID] = want
					mu.Unlock()
					writes.Add(1)
				}
			}()
		}
		// Every batch waits for a write after the previous one, so writes
		// and batches interleave whatever the scheduler does.
		seen := int64(0)
		progress := func(MigrateReport) error {
			for writes.Load() == seen && len(errs) == 0 {
				runtime.Gosched()
			}
			seen = writes.Load()
			return nil
		}
		rep, err := ls.mg.Seal(ctx, &MigrateOptions{BatchSize: 8, JobTable: "l14_jobs_d", Progress: progress})
		close(stop)
		wg.Wait()
		close(errs)
		require.NoError(t, err)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, "done", rep.Phase)
		require.Zero(t, rep.Stragglers, "writers through the library write sealed rows")
		raw := rawRows(t, db, ls.mg.m)
		require.Len(t, raw, len(last))
		for _, r := range raw {
			require.True(t, allSealed(r), "row %d", r.ID)
		}
		got, err := ls.table.Query(ctx, "acme", "")
		require.NoError(t, err)
		for _, r := range got {
			want := last[r.ID]
			want.EmailIndex = r.EmailIndex
			require.Equal(t, want, r, "row %d", r.ID)
		}
	})
}

type ttokenised struct {
	ID   string `pii:"id"`
	Name string `pii:"name,encrypt"`
	Card string `pii:"card,token=ff1"`
}

func TestMigrateRefusals(t *testing.T) {
	db := testdb.SQLite(t)
	ctx := context.Background()
	g := newTestGuard(t, db)
	_, err := db.Exec("CREATE TABLE l14_tok (id TEXT PRIMARY KEY, name TEXT, card TEXT)")
	require.NoError(t, err)
	mg, err := newMigration(g, ttokenised{}, &TableOptions{Table: "l14_tok"})
	require.NoError(t, err)
	_, err = mg.Seal(ctx, nil)
	require.ErrorContains(t, err, "LeaveTokens")
	_, err = db.Exec("INSERT INTO l14_tok VALUES ('1', 'Ann', '4111111111111111')")
	require.NoError(t, err)
	rep, err := mg.Seal(ctx, &MigrateOptions{LeaveTokens: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), rep.Changed)
	var name, card string
	require.NoError(t, db.QueryRow("SELECT name, card FROM l14_tok").Scan(&name, &card))
	require.True(t, envelope.IsSealed(name))
	require.Equal(t, "4111111111111111", card)

	_, err = mg.Seal(ctx, &MigrateOptions{RowsPerSecond: -1})
	require.ErrorContains(t, err, "negative")
	_, err = mg.Seal(ctx, &MigrateOptions{JobTable: "bad name"})
	require.Error(t, err)
	type nothing struct {
		ID   string `pii:"id"`
		Note string `pii:"free_text"`
	}
	_, err = newMigration(g, nothing{}, nil)
	require.ErrorContains(t, err, "no encrypt field")

	ddl, err := MigrationDDL(pii.Postgres, "")
	require.NoError(t, err)
	require.Contains(t, ddl, "CREATE TABLE IF NOT EXISTS pii_migrations")
	require.Contains(t, ddl, "BIGINT")
	_, err = MigrationDDL(0, "")
	require.Error(t, err)
}

// TestMigrateLocksRows: an application write to a row of the batch being
// migrated waits for the batch (its rows are locked) and is not
// overwritten by it.
func TestMigrateLocksRows(t *testing.T) {
	db, _ := testdb.Postgres(t)
	ctx := context.Background()
	ls := newLegacy(t, db, "l14_lock", 20)
	// The subjects' keys exist before the migration, so the application's
	// write below waits for nothing but the row.
	for k := int64(0); k < 7; k++ {
		w := legacyRow("acme", 1000+k)
		require.NoError(t, ls.table.Insert(ctx, &w))
	}
	v := legacyRow("acme", 3)
	v.Name = "Written during the batch"
	done := make(chan error, 1)
	once := false
	ls.mg.beforeWrite = func() {
		if once {
			return
		}
		once = true
		go func() { done <- ls.table.Update(ctx, &v) }()
		// Wait until the write has finished (it was not held back) or
		// waits for a lock on the table.
		for {
			select {
			case err := <-done:
				done <- err
				return
			default:
			}
			var waiting int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%l14_lock%'`).Scan(&waiting))
			if waiting > 0 {
				return
			}
			runtime.Gosched()
		}
	}
	rep, err := ls.mg.Seal(ctx, &MigrateOptions{BatchSize: 10, JobTable: "l14_jobs_lock"})
	require.NoError(t, err)
	require.Equal(t, "done", rep.Phase)
	require.NoError(t, <-done)
	got, err := ls.table.Get(ctx, "acme", "3")
	require.NoError(t, err)
	require.Equal(t, "Written during the batch", got.Name, "the batch overwrote an application write")
	for _, r := range rawRows(t, db, ls.mg.m) {
		require.True(t, allSealed(r), "row %d", r.ID)
	}
}
