// Migration: sealing the existing plaintext columns of a live table in
// place, re-indexing them, and the way back to plaintext.

package guard

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/time/rate"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/plaintextctx"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
)

// MigrateOptions configure Migration.Seal and Migration.Unseal. Nil
// means the defaults.
type MigrateOptions struct {
	// BatchSize is the number of rows per batch, each batch in its own
	// transaction (default 500).
	BatchSize int
	// RowsPerSecond limits the rows read per second (0: no limit), to
	// spare a live database.
	RowsPerSecond float64
	// DryRun reads every row and reports what would change, in a
	// transaction rolled back after each batch: nothing is written, not
	// even the cursor (a dry run always starts at the beginning), and
	// there is no verification pass.
	DryRun bool
	// Progress, if set, is called after every batch with the counts so
	// far; a non-nil error stops the job (resumable) and is returned.
	Progress func(MigrateReport) error
	// Restart discards a stored cursor and starts again from the first row.
	Restart bool
	// LeaveTokens migrates the sealed fields of a type that also has token=
	// fields, leaving those as they are. Without it such a type is
	// refused: a format-preserving token cannot be told from the value it
	// replaces, so a resumed or repeated pass would tokenize tokens.
	LeaveTokens bool
	// JobTable names the table that keeps each job's cursor (default
	// "pii_migrations"; schema-qualified names accepted). A job creates
	// it if it does not exist: MigrationDDL returns the statement.
	JobTable string
}

// MigrateReport says where a job stands. Counts survive a restart: they
// are kept with the cursor.
type MigrateReport struct {
	// Job names the job: "seal:<table>", "unseal:<table>", or
	// "reindex:<table>" (RotateSearchKeys).
	Job string
	// Phase is "pass" (the first pass over the table in row key order),
	// "verify" (a full pass that migrates what the first one could not
	// see: rows written in the old form behind the cursor) or "done".
	Phase string
	// Total is the number of rows in the table when the phase started.
	Total int64
	// Scanned and Changed count the rows the pass read and rewrote.
	Scanned, Changed int64
	// Verified counts the rows the current (or last) verification pass
	// read; Stragglers the rows verification passes found still in the
	// old form, and migrated. A job is done after a verification pass
	// that found none.
	Verified, Stragglers int64
	// DryRun is set when nothing was written.
	DryRun bool
}

// Migration seals the existing plaintext values of one table in place
// (Seal), or opens them back to plaintext (Unseal), in resumable batches.
// It is built for a type, like a Table, or for a type known only at run
// time (reflect.StructOf, as the pii command does).
type Migration struct {
	db     *sql.DB
	d      sqldialect.Dialect
	m      *sqlmap.Map
	s      *envelope.Sealer
	writes []int // the columns a migration writes: sealed fields and index companions
	checks []check
	tokens []string
	// ready loads the Guard's secrets (nil for a stand-in Guard in tests).
	ready func(context.Context) error
	q     struct{ count, first, next, update string }
	// beforeWrite, when set (tests), runs after a batch is sealed and
	// before its rows are written.
	beforeWrite func()
}

// NewMigration prepares the migration of the table of the tagged type of
// prototype (a value, a pointer or a reflect.Type, as pii.SchemaOf takes),
// mapped as NewTable maps it. It runs no SQL.
func NewMigration(g *Guard, prototype any, opts *TableOptions) (*Migration, error) {
	if g == nil {
		return nil, errors.New("guard: NewMigration: nil Guard")
	}
	return newMigration(g, prototype, opts)
}

func newMigration(g tableGuard, prototype any, opts *TableOptions) (*Migration, error) {
	db := g.sqlDB()
	if db == nil {
		return nil, errors.New("guard: NewMigration needs a Guard built by New with a *sql.DB")
	}
	sc, err := pii.SchemaOf(prototype)
	if err != nil {
		return nil, fmt.Errorf("guard: NewMigration: %w", err)
	}
	var o TableOptions
	if opts != nil {
		o = *opts
	}
	m, err := sqlmap.New(sc, sqlmap.Mapping{Table: o.Table, ID: o.ID, Created: o.Created, Columns: o.Columns})
	if err != nil {
		return nil, fmt.Errorf("guard: NewMigration: %w", err)
	}
	mg := &Migration{db: db, d: g.sqlDialect(), m: m, s: g.sealer()}
	if c, ok := g.(interface {
		core(context.Context) (*core, error)
	}); ok {
		mg.ready = func(ctx context.Context) error { _, err := c.core(ctx); return err }
	}
	seen := map[int]bool{}
	add := func(path string) {
		if c, ok := m.ByPath[path]; ok {
			if i := m.Col(c.Name); !seen[i] {
				seen[i] = true
				mg.writes = append(mg.writes, i)
			}
		}
	}
	for _, f := range sc.Fields {
		if f.Opts.Token != "" {
			mg.tokens = append(mg.tokens, f.Path)
		}
		if f.Opts.Encrypt == pii.EncryptNone {
			continue
		}
		add(f.Path)
		c := check{col: m.Col(m.ByPath[f.Path].Name), index: -1, bytes: !isStringType(f.Type)}
		if f.Opts.Index && f.Opts.IndexField != "" {
			path := strings.TrimSuffix(f.Path, f.Name) + f.Opts.IndexField
			add(path)
			if ic, ok := m.ByPath[path]; ok {
				c.index = m.Col(ic.Name)
			}
		}
		mg.checks = append(mg.checks, c)
	}
	if len(mg.writes) == 0 {
		return nil, fmt.Errorf("guard: NewMigration: %s has no encrypt field to migrate", sc.Name)
	}
	mg.statements()
	return mg, nil
}

func (mg *Migration) statements() {
	m, t := mg.m, mg.m.Table
	lock := ""
	if mg.d == sqldialect.Postgres {
		lock = " FOR UPDATE"
	}
	sel := "SELECT " + m.SelectList + " FROM " + t
	order := " ORDER BY " + m.OrderBy + " LIMIT ?" + lock
	mg.q.count = "SELECT COUNT(*) FROM " + t
	mg.q.first = mg.d.Rebind(sel + order)
	after := m.IDCol + " > ?"
	if m.TenantCol != "" {
		after = "(" + m.TenantCol + ", " + m.IDCol + ") > (?, ?)"
	}
	mg.q.next = mg.d.Rebind(sel + " WHERE " + after + order)
	var sets []string
	for _, i := range mg.writes {
		sets = append(sets, m.Cols[i].Name+" = ?")
	}
	key := m.IDCol + " = ?"
	if m.TenantCol != "" {
		key = m.TenantCol + " = ? AND " + key
	}
	mg.q.update = mg.d.Rebind("UPDATE " + t + " SET " + strings.Join(sets, ", ") + " WHERE " + key)
}

// Seal seals, in place, every value of the table that its tags mark
// encrypt or encrypt=det and that is still in clear, writes its blind
// indexes, and re-indexes values sealed already (after a search key
// rotation or a change of norm=, prefix= or with=). Values sealed already
// are left as they are (a deterministic one is sealed again when it is
// under an old search key version or not in its norm= form).
//
// It reads the table in row key order, a batch at a time, each batch in
// its own transaction together with the job's cursor (in the job table),
// so a job stopped anywhere, even killed, resumes after the last batch
// that committed. Each batch locks its rows (FOR UPDATE on PostgreSQL,
// BEGIN IMMEDIATE on SQLite) and rewrites only the sealed columns and
// index companions of the rows that change: application writes during
// the job wait for the batch and lose nothing. The keys a batch makes
// commit with it.
//
// After the first pass, a verification pass reads every row again and
// migrates what the first could not see (rows written in clear behind the
// cursor by code that bypasses this library); the job is done after a
// verification pass that found nothing, and fails after three that kept
// finding rows. Until it is done, read the table with
// TableOptions.AcceptPlaintext, which lets reads through in both forms
// and counts the values still in clear.
func (mg *Migration) Seal(ctx context.Context, opts *MigrateOptions) (MigrateReport, error) {
	return mg.run(ctx, "seal", opts)
}

// Unseal is the way back: it opens every sealed value of the table in
// place, leaving plaintext (deterministic values in their norm= form),
// for leaving the library or undoing a migration. It is resumable, locks
// and verifies like Seal. Blind index companions and token= fields are
// left as they are (drop the companion columns when done). Application
// writes through a Table keep sealing what they write: switch them off
// first, or run Unseal again.
func (mg *Migration) Unseal(ctx context.Context, opts *MigrateOptions) (MigrateReport, error) {
	return mg.run(ctx, "unseal", opts)
}

// maxVerifyRounds bounds the verification passes of a job whose rows keep
// arriving in the old form.
const maxVerifyRounds = 3

// jobState is a job's row in the job table.
type jobState struct {
	MigrateReport
	round      int64  // verification passes started
	roundFound int64  // stragglers found by the current one
	after      []any  // the row key of the last row done (driver values); nil: from the start
	afterText  [2]any // the same, as stored (NULL, or text)
}

func (o *MigrateOptions) withDefaults() MigrateOptions {
	var c MigrateOptions
	if o != nil {
		c = *o
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.JobTable == "" {
		c.JobTable = "pii_migrations"
	}
	return c
}

func (mg *Migration) run(ctx context.Context, dir string, opts *MigrateOptions) (r MigrateReport, err error) {
	ctx, span := startJob(ctx, "migrate."+dir, attribute.String("pii.type", mg.m.Schema.Name))
	defer func() { endMigration(span, r, err) }()
	o := opts.withDefaults()
	if o.RowsPerSecond < 0 {
		return MigrateReport{}, errors.New("guard: migrate: negative RowsPerSecond")
	}
	if len(mg.tokens) > 0 && !o.LeaveTokens {
		return MigrateReport{}, fmt.Errorf("guard: migrate %s: %s.%s is a token= field: a format-preserving token cannot be told from a clear value, so a resumable pass cannot tokenize in place; tokenize it separately and set MigrateOptions.LeaveTokens", mg.m.Table, mg.m.Schema.Name, mg.tokens[0])
	}
	// Opening (Unseal) runs the retention read check, which loads the
	// Guard's secrets outside the batch's transaction: load them before a
	// batch holds its locks and, on a pool of one connection, the only one.
	if mg.ready != nil {
		if err := mg.ready(ctx); err != nil {
			return MigrateReport{}, err
		}
	}
	jt, err := newJobTable(mg.d, o.JobTable)
	if err != nil {
		return MigrateReport{}, err
	}
	if err := jt.create(ctx, mg.db); err != nil {
		return MigrateReport{}, err
	}
	job := dir + ":" + mg.m.Table
	other := map[string]string{"seal": "unseal:", "unseal": "seal:"}[dir]
	if other != "" {
		other += mg.m.Table
		if os, _, found, err := jt.load(ctx, mg.db, other, false); err != nil {
			return MigrateReport{}, err
		} else if found && os.Phase != "done" && !o.Restart {
			return MigrateReport{}, fmt.Errorf("guard: migrate %s: job %s is unfinished; finish it, or set Restart to run this one instead", mg.m.Table, other)
		}
	}
	var limit *rate.Limiter
	if o.RowsPerSecond > 0 {
		limit = rate.NewLimiter(rate.Limit(o.RowsPerSecond), o.BatchSize)
	}
	var dry *jobState // a dry run keeps its state in memory
	if o.DryRun {
		dry = &jobState{MigrateReport: MigrateReport{Job: job, Phase: "pass", DryRun: true}}
	}
	restart := o.Restart
	for {
		if limit != nil {
			if err := limit.WaitN(ctx, o.BatchSize); err != nil {
				return MigrateReport{}, err
			}
		}
		st, err := mg.batch(ctx, jt, job, dir, o.BatchSize, dry, restart)
		if err != nil {
			return st.MigrateReport, err
		}
		restart = false
		if o.Progress != nil {
			if err := o.Progress(st.MigrateReport); err != nil {
				return st.MigrateReport, err
			}
		}
		if st.Phase == "done" {
			return st.MigrateReport, nil
		}
	}
}

// batch migrates the next batch of job in one transaction, with its
// cursor, and returns the job's state after it.
func (mg *Migration) batch(ctx context.Context, jt *jobTable, job, dir string, n int, dry *jobState, restart bool) (jobState, error) {
	x, err := beginBatch(ctx, mg.db, mg.d)
	if err != nil {
		return jobState{}, err
	}
	defer x.rollback()
	ctx = pii.WithExecutor(ctx, x.q)
	var st jobState
	if dry != nil {
		st = *dry
	} else {
		cur, c, found, err := jt.load(ctx, x.q, job, true)
		if err != nil {
			return jobState{}, err
		}
		st = cur
		st.after = mg.keyFromText(c.tenant, c.id)
		st.afterText = [2]any{nullText(c.tenant), nullText(c.id)}
		if !found || restart || st.Phase == "done" {
			st = jobState{MigrateReport: MigrateReport{Job: job, Phase: "pass"}}
		}
	}
	if st.Total == 0 && st.Scanned == 0 && st.Verified == 0 {
		if err := x.q.QueryRowContext(ctx, mg.q.count).Scan(&st.Total); err != nil {
			return jobState{}, fmt.Errorf("guard: migrate %s: count: %w", mg.m.Table, err)
		}
	}
	got, changed, last, err := mg.rows(ctx, x.q, dir, st.after, n, dry != nil, st.Phase == "verify")
	if err != nil {
		return st, err
	}
	if st.Phase == "pass" {
		st.Scanned += int64(got)
		st.Changed += int64(changed)
	} else {
		st.Verified += int64(got)
		st.Stragglers += int64(changed)
		st.roundFound += int64(changed)
	}
	if got > 0 {
		st.after, st.afterText = last, mg.keyText(last)
	}
	if got < n { // the end of a pass
		switch {
		case dry != nil:
			st.Phase = "done" // nothing was written: a verification would find it all again
		case st.Phase == "verify" && st.roundFound == 0:
			st.Phase = "done"
		case st.Phase == "verify" && st.round >= maxVerifyRounds:
			return st, fmt.Errorf("guard: migrate %s: %d verification passes kept finding rows in the old form (%d in the last): stop the writers that bypass the library and run again", mg.m.Table, st.round, st.roundFound)
		default:
			st.Phase, st.round, st.roundFound, st.Verified = "verify", st.round+1, 0, 0
			st.after, st.afterText = nil, [2]any{}
			if err := x.q.QueryRowContext(ctx, mg.q.count).Scan(&st.Total); err != nil {
				return jobState{}, fmt.Errorf("guard: migrate %s: count: %w", mg.m.Table, err)
			}
		}
	}
	if dry != nil {
		*dry = st
		return st, nil // rolled back
	}
	if err := jt.saveState(ctx, x.q, &st); err != nil {
		return st, err
	}
	if err := x.commit(); err != nil {
		return st, fmt.Errorf("guard: migrate %s: commit: %w", mg.m.Table, err)
	}
	return st, nil
}

// rows reads up to n rows after the row key after, migrates each and
// writes back those that changed; it returns the rows read, the rows
// changed and the row key of the last one.
func (mg *Migration) rows(ctx context.Context, q pii.Executor, dir string, after []any, n int, dry, verify bool) (got, changed int, last []any, err error) {
	args := append(append([]any(nil), after...), n)
	stmt := mg.q.next
	if after == nil {
		stmt = mg.q.first
	}
	rs, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("guard: migrate %s: select: %w", mg.m.Table, err)
	}
	m := mg.m
	raw := make([]any, len(m.Cols))
	dest := make([]any, len(m.Cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var batch []reflect.Value
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			rs.Close()
			return 0, 0, nil, fmt.Errorf("guard: migrate %s: scan: %w", m.Table, err)
		}
		pv, err := m.Decode(raw)
		if err != nil {
			rs.Close()
			return 0, 0, nil, fmt.Errorf("guard: migrate: %w", err)
		}
		batch = append(batch, pv)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, 0, nil, fmt.Errorf("guard: migrate %s: select: %w", m.Table, err)
	}
	if len(batch) == 0 {
		return 0, 0, nil, nil
	}
	got, last = len(batch), mg.keyArgs(batch[len(batch)-1].Elem())
	if verify && dir != "reindex" {
		// A verification of a seal (or unseal) looks for values still in
		// the old form, which their format tells, and migrates those rows
		// only; a re-index must recompute every index.
		kept := batch[:0]
		for _, pv := range batch {
			if mg.oldForm(pv.Elem(), dir == "seal") {
				kept = append(kept, pv)
			}
		}
		if batch = kept; len(batch) == 0 {
			return got, 0, last, nil
		}
	}
	// Snapshot the columns a migration writes, then seal (or open) the
	// batch with one call: under the batch's transaction its keys are
	// read once for the batch, not once per row.
	before := make([][]any, len(batch))
	list := reflect.MakeSlice(reflect.SliceOf(batch[0].Type()), 0, len(batch))
	for k, pv := range batch {
		before[k] = make([]any, len(mg.writes))
		for j, i := range mg.writes {
			before[k][j] = sqlmap.Value(m.Field(pv.Elem(), i))
		}
		list = reflect.Append(list, pv)
	}
	if dir == "unseal" {
		err = mg.s.Open(plaintextctx.With(ctx, nil), list.Interface())
	} else { // seal, reindex
		err = mg.s.Seal(ctx, list.Interface())
	}
	if err != nil {
		return 0, 0, nil, err
	}
	if mg.beforeWrite != nil {
		mg.beforeWrite()
	}
	var update preparedStmt
	for k, pv := range batch {
		root := pv.Elem()
		args := make([]any, 0, len(mg.writes)+2)
		same := true
		for j, i := range mg.writes {
			v := sqlmap.Value(m.Field(root, i))
			same = same && sameDriverValue(before[k][j], v)
			args = append(args, v)
		}
		if same {
			continue
		}
		changed++
		if dry {
			continue
		}
		args = append(args, mg.keyArgs(root)...)
		if update == nil {
			if update, err = prepare(ctx, q, mg.q.update); err != nil {
				return 0, 0, nil, fmt.Errorf("guard: migrate %s: update: %w", m.Table, err)
			}
			defer update.Close()
		}
		res, err := update.ExecContext(ctx, args...)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("guard: migrate %s: update: %w", m.Table, err)
		}
		if k, err := res.RowsAffected(); err == nil && k != 1 {
			return 0, 0, nil, fmt.Errorf("guard: migrate %s: update hit %d rows; make (%s) the table's primary key", m.Table, k, m.OrderBy)
		}
	}
	return got, changed, last, nil
}

// check is a sealed field's column, and its index companion's (-1: none).
type check struct {
	col, index int
	bytes      bool
}

// oldForm reports whether a row holds a value a seal (sealed true) or an
// unseal has still to migrate: a value in clear, or without its blind
// index (sealed), or a sealed value (unseal). []byte values are always
// migrated again (Seal and Open leave done ones as they are).
func (mg *Migration) oldForm(root reflect.Value, sealed bool) bool {
	for _, c := range mg.checks {
		fv := mg.m.Field(root, c.col)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		if fv.Len() == 0 {
			continue
		}
		if c.bytes {
			return true
		}
		is := envelope.IsSealed(fv.String())
		if sealed && (!is || c.index >= 0 && mg.m.Field(root, c.index).IsZero()) || !sealed && is {
			return true
		}
	}
	return false
}

func isStringType(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.String
}

// preparedStmt is a prepared statement, or the statement run on q each time when
// q cannot prepare.
type preparedStmt interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	Close() error
}

type unprepared struct {
	q     pii.Executor
	query string
}

func (u unprepared) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return u.q.ExecContext(ctx, u.query, args...)
}

func (unprepared) Close() error { return nil }

func prepare(ctx context.Context, q pii.Executor, query string) (preparedStmt, error) {
	if p, ok := q.(interface {
		PrepareContext(context.Context, string) (*sql.Stmt, error)
	}); ok {
		return p.PrepareContext(ctx, query)
	}
	return unprepared{q, query}, nil
}

// keyArgs returns the row key of root as driver arguments.
func (mg *Migration) keyArgs(root reflect.Value) []any {
	var k []any
	if mg.m.Tenant >= 0 {
		_, t := sqlmap.KeyOf(mg.m.Field(root, mg.m.Tenant))
		k = append(k, t)
	}
	_, id := sqlmap.KeyOf(mg.m.Field(root, mg.m.ID))
	return append(k, id)
}

// keyText returns the row key as the job table stores it: tenant (NULL
// without a tenant column) and id, as text.
func (mg *Migration) keyText(key []any) [2]any {
	var out [2]any
	if mg.m.Tenant >= 0 {
		out[0] = fmt.Sprint(key[0])
	}
	out[1] = fmt.Sprint(key[len(key)-1])
	return out
}

// keyFromText turns a stored cursor back into driver arguments.
func (mg *Migration) keyFromText(tenant, id sql.NullString) []any {
	if !id.Valid {
		return nil
	}
	var k []any
	if mg.m.Tenant >= 0 {
		k = append(k, mg.m.KeyArg(mg.m.Tenant, tenant.String))
	}
	return append(k, mg.m.KeyArg(mg.m.ID, id.String))
}

func nullText(s sql.NullString) any {
	if !s.Valid {
		return nil
	}
	return s.String
}

func sameDriverValue(a, b any) bool {
	ab, aok := a.([]byte)
	bb, bok := b.([]byte)
	if aok || bok {
		return aok && bok && bytes.Equal(ab, bb)
	}
	return a == b
}

// openCtx is the context reads open rows under: with
// TableOptions.AcceptPlaintext, one that lets plaintext values through
// and counts them.
func (t *Table[T]) openCtx(ctx context.Context) context.Context {
	if t.plain == nil {
		return ctx
	}
	return plaintextctx.With(ctx, func(*pii.Field) { t.plain.Add(1) })
}

// PlaintextReads returns how many values still in clear the table's reads
// let through (TableOptions.AcceptPlaintext) since NewTable: when it stops
// growing while the application reads, and the migration reports done,
// every column is sealed.
func (t *Table[T]) PlaintextReads() int64 {
	if t.plain == nil {
		return 0
	}
	return t.plain.Load()
}
