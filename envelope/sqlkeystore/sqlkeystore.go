package sqlkeystore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/stmtcache"
)

// Options configure a Store. The zero value (or nil) means the defaults.
type Options struct {
	// Dialect is the SQL flavour; the zero value detects it from the
	// driver (DDL needs it explicit). On pii.Postgres the key columns use
	// the "C" collation, so List orders like Go strings.
	Dialect pii.Dialect
	// Table is the table name, optionally schema-qualified (default
	// "pii_keys").
	Table string
}

const defaultTable = "pii_keys"

// Store is an envelope.KeyStore on a *sql.DB. Every read and write goes
// through pii.ExecutorFrom(ctx, db): under pii.WithExecutor they join the
// caller's transaction.
type Store struct {
	db *sql.DB
	q  queries
	// channel is where Forget NOTIFYs, on PostgreSQL ("" on SQLite).
	channel string
	// stmts keeps the batch statements prepared, on SQLite (nil on
	// PostgreSQL, whose driver caches them itself).
	stmts *stmtcache.Cache
}

var _ envelope.KeyStore = (*Store)(nil)

type queries struct {
	ddl                                                    []string
	get, latest, insert, replace, del, tomb, list, reserve string
	d                                                      sqldialect.Dialect
	table                                                  string
}

// New returns a Store on db. It runs no SQL: call CreateTables once (it
// is idempotent), or run the statements DDL returns with your migration
// tool.
func New(db *sql.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlkeystore: nil db")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	d, err := sqldialect.Resolve(db, o.Dialect)
	if err != nil {
		return nil, fmt.Errorf("sqlkeystore: %w", err)
	}
	o.Dialect = d.Public()
	q, err := build(o)
	if err != nil {
		return nil, err
	}
	st := &Store{db: db, q: q}
	if d == sqldialect.Postgres {
		st.channel = shredChannel(o.Table)
	} else {
		st.stmts = stmtcache.New(db)
	}
	return st, nil
}

// DDL returns the statements CreateTables runs, each ending with ";" on
// its own line, for migration tools (goose, golang-migrate, atlas) that
// own the schema. opts.Dialect must be SQLite or Postgres.
func DDL(opts *Options) (string, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Dialect != pii.SQLite && o.Dialect != pii.Postgres {
		return "", fmt.Errorf("sqlkeystore: DDL needs Options.Dialect set to SQLite or Postgres (got %v)", o.Dialect)
	}
	q, err := build(o)
	if err != nil {
		return "", err
	}
	return strings.Join(q.ddl, ";\n") + ";\n", nil
}

// build checks o (its dialect resolved) and writes the store's SQL.
func build(o Options) (queries, error) {
	t := o.Table
	if t == "" {
		t = defaultTable
	}
	if err := sqldialect.ValidTable("key table", t); err != nil {
		return queries{}, fmt.Errorf("sqlkeystore: %w", err)
	}
	d := sqldialect.Of(o.Dialect)
	text, blob := "TEXT", "BLOB"
	if d == sqldialect.Postgres {
		text, blob = `TEXT COLLATE "C"`, "BYTEA"
	}
	return queries{
		d: d, table: t,
		ddl: []string{"CREATE TABLE IF NOT EXISTS " + t + ` (
	kind ` + text + ` NOT NULL,
	tenant ` + text + ` NOT NULL,
	scope ` + text + ` NOT NULL,
	id BIGINT NOT NULL,
	wrapped ` + blob + ` NOT NULL,
	parent BIGINT NOT NULL,
	kek TEXT NOT NULL,
	created BIGINT NOT NULL,
	used BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, tenant, scope, id)
)`},
		get:     d.Rebind("SELECT " + cols + " FROM " + t + " WHERE kind = ? AND tenant = ? AND scope = ? AND id = ?"),
		latest:  d.Rebind("SELECT " + cols + " FROM " + t + " WHERE kind = ? AND tenant = ? AND scope = ? ORDER BY id DESC LIMIT 1"),
		insert:  d.Rebind("INSERT INTO " + t + " (" + cols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, tenant, scope, id) DO NOTHING RETURNING " + cols),
		replace: d.Rebind("UPDATE " + t + " SET wrapped = ?, parent = ?, kek = ? WHERE kind = ? AND tenant = ? AND scope = ? AND id = ? AND wrapped = ?"),
		del:     d.Rebind("DELETE FROM " + t + " WHERE kind = ? AND tenant = ? AND scope = ? RETURNING id"),
		tomb:    d.Rebind("INSERT INTO " + t + " (" + cols + ") VALUES (?, ?, ?, ?, ?, 0, '', ?, 0) ON CONFLICT (kind, tenant, scope, id) DO NOTHING"),
		reserve: d.Rebind("UPDATE " + t + " SET used = used + ? WHERE kind = ? AND tenant = ? AND scope = ? AND id = ? AND used <= ? RETURNING used"),
		list: d.Rebind("SELECT " + cols + " FROM " + t + " WHERE kind = ? AND (tenant > ? OR (tenant = ? AND (scope > ? OR (scope = ? AND id > ?))))" +
			" ORDER BY tenant, scope, id LIMIT ?"),
	}, nil
}

const cols = "kind, tenant, scope, id, wrapped, parent, kek, created, used"

// kcols are cols of the table aliased k.
const kcols = "k.kind, k.tenant, k.scope, k.id, k.wrapped, k.parent, k.kek, k.created, k.used"

// maxBatch is the most rows one statement of the ...Many methods names:
// InsertMany's 9 parameters a row stay far below SQLite's 32766 and
// PostgreSQL's 65535.
const maxBatch = 1000

// values returns n rows of the VALUES list row, joined by commas.
func values(row string, n int) string {
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// The ...Many reads join a VALUES list of what was asked with the table
// so that each row asked is one primary-key lookup, whatever the size of
// the table: on SQLite the CROSS JOIN keeps the list as the outer loop
// (left to itself the planner may scan the table instead), on PostgreSQL
// a LATERAL subquery does the same.

// getMany reads n records by KeyRef (4 parameters each).
func (q *queries) getMany(n int) string {
	if q.d == sqldialect.Postgres {
		return q.d.Rebind("WITH q(kind, tenant, scope, id) AS (VALUES " + values("(?, ?, ?, CAST(? AS BIGINT))", n) + ")" +
			" SELECT " + kcols + " FROM q CROSS JOIN LATERAL (SELECT " + cols + " FROM " + q.table +
			" x WHERE x.kind = q.kind AND x.tenant = q.tenant AND x.scope = q.scope AND x.id = q.id) k")
	}
	return "WITH q(kind, tenant, scope, id) AS (VALUES " + values("(?, ?, ?, ?)", n) + ")" +
		" SELECT " + kcols + " FROM q CROSS JOIN " + q.table + " k ON k.kind = q.kind AND k.tenant = q.tenant AND k.scope = q.scope AND k.id = q.id"
}

// latestMany reads the newest record of n scopes (3 parameters each).
func (q *queries) latestMany(n int) string {
	if q.d == sqldialect.Postgres {
		return q.d.Rebind("WITH q(kind, tenant, scope) AS (VALUES " + values("(?, ?, ?)", n) + ")" +
			" SELECT " + kcols + " FROM q CROSS JOIN LATERAL (SELECT " + cols + " FROM " + q.table +
			" x WHERE x.kind = q.kind AND x.tenant = q.tenant AND x.scope = q.scope ORDER BY x.id DESC LIMIT 1) k")
	}
	return "WITH q(kind, tenant, scope) AS (VALUES " + values("(?, ?, ?)", n) + ")" +
		" SELECT " + kcols + " FROM q CROSS JOIN " + q.table + " k ON k.kind = q.kind AND k.tenant = q.tenant AND k.scope = q.scope" +
		" AND k.id = (SELECT MAX(x.id) FROM " + q.table + " x WHERE x.kind = q.kind AND x.tenant = q.tenant AND x.scope = q.scope)"
}

// insertMany inserts n records if absent and returns those it inserted
// (9 parameters each).
func (q *queries) insertMany(n int) string {
	return q.d.Rebind("INSERT INTO " + q.table + " (" + cols + ") VALUES " + values("(?, ?, ?, ?, ?, ?, ?, ?, ?)", n) +
		" ON CONFLICT (kind, tenant, scope, id) DO NOTHING RETURNING " + cols)
}

// CreateTables creates the key table if it does not exist, through
// pii.ExecutorFrom(ctx, db).
func (s *Store) CreateTables(ctx context.Context) error {
	ex := pii.ExecutorFrom(ctx, s.db)
	for _, q := range s.q.ddl {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlkeystore: create tables: %w", err)
		}
	}
	return nil
}

// ex is the executor of ctx: the caller's transaction under
// pii.WithExecutor, else the Store's *sql.DB.
func (s *Store) ex(ctx context.Context) pii.Executor { return pii.ExecutorFrom(ctx, s.db) }

type scanner interface{ Scan(dest ...any) error }

func scanRecord(r scanner) (envelope.Record, error) {
	var (
		rec                  envelope.Record
		kind                 string
		id, parent, us, used int64
	)
	if err := r.Scan(&kind, &rec.Tenant, &rec.Scope, &id, &rec.Wrapped, &parent, &rec.KEK, &us, &used); err != nil {
		return envelope.Record{}, err
	}
	rec.Used = uint64(used)
	rec.Kind = envelope.Kind(kind)
	rec.ID = uint32(id)
	rec.Parent = uint32(parent)
	rec.Created = time.UnixMicro(us)
	if rec.Wrapped == nil {
		rec.Wrapped = []byte{}
	}
	return rec, nil
}

func wrapErr(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return envelope.ErrNotFound
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("sqlkeystore: %s: %w", op, err)
}

// Get implements envelope.KeyStore.
func (s *Store) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	rec, err := scanRecord(s.ex(ctx).QueryRowContext(ctx, s.q.get, string(ref.Kind), ref.Tenant, ref.Scope, int64(ref.ID)))
	if err != nil {
		return envelope.Record{}, wrapErr("get", err)
	}
	return rec, nil
}

// Latest implements envelope.KeyStore.
func (s *Store) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	rec, err := scanRecord(s.ex(ctx).QueryRowContext(ctx, s.q.latest, string(kind), tenant, scope))
	if err != nil {
		return envelope.Record{}, wrapErr("latest", err)
	}
	return rec, nil
}

// Insert implements envelope.KeyStore. The row comes back from the
// INSERT itself (RETURNING), so a Forget that deletes it at once cannot
// make Insert report a row it did not see; on a conflict the stored row
// is read, and if a Forget deleted that meanwhile, the insert is tried
// again.
func (s *Store) Insert(ctx context.Context, rec envelope.Record) (envelope.Record, bool, error) {
	w := rec.Wrapped
	if w == nil {
		w = []byte{}
	}
	for range 3 {
		stored, err := scanRecord(s.ex(ctx).QueryRowContext(ctx, s.q.insert, string(rec.Kind), rec.Tenant, rec.Scope, int64(rec.ID),
			w, int64(rec.Parent), rec.KEK, rec.Created.UnixMicro(), int64(rec.Used)))
		if err == nil {
			return stored, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return envelope.Record{}, false, wrapErr("insert", err)
		}
		stored, err = s.Get(ctx, rec.KeyRef)
		if !errors.Is(err, envelope.ErrNotFound) {
			return stored, false, err
		}
	}
	return envelope.Record{}, false, errors.New("sqlkeystore: insert: the row kept changing; try again")
}

// query runs q with args and scans every row it returns.
func (s *Store) query(ctx context.Context, op, q string, args []any) ([]envelope.Record, error) {
	rows, err := s.stmts.Query(ctx, s.ex(ctx), q, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []envelope.Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// GetMany implements envelope.KeyStore: one SELECT per 1,000 refs.
func (s *Store) GetMany(ctx context.Context, refs []envelope.KeyRef) ([]envelope.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	refs = distinct(refs)
	var out []envelope.Record
	for chunk := range slices.Chunk(refs, maxBatch) {
		args := make([]any, 0, 4*len(chunk))
		for _, r := range chunk {
			args = append(args, string(r.Kind), r.Tenant, r.Scope, int64(r.ID))
		}
		recs, err := s.query(ctx, "get many", s.q.getMany(len(chunk)), args)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// LatestMany implements envelope.KeyStore: one SELECT per 1,000 scopes.
func (s *Store) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	scopes = distinct(scopes)
	var out []envelope.Record
	for chunk := range slices.Chunk(scopes, maxBatch) {
		args := make([]any, 0, 3*len(chunk))
		for _, sc := range chunk {
			args = append(args, string(sc.Kind), sc.Tenant, sc.Scope)
		}
		recs, err := s.query(ctx, "latest many", s.q.latestMany(len(chunk)), args)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// InsertMany implements envelope.KeyStore: one INSERT ... ON CONFLICT DO
// NOTHING RETURNING per 1,000 records, then one GetMany for those that
// were already there (a row a Forget deleted meanwhile is inserted again,
// as in Insert).
func (s *Store) InsertMany(ctx context.Context, recs []envelope.Record) ([]envelope.Record, []bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	idx := make(map[envelope.KeyRef]int, len(recs))
	for i, r := range recs {
		if _, dup := idx[r.KeyRef]; dup {
			return nil, nil, errors.New("sqlkeystore: insert many: the same KeyRef twice")
		}
		idx[r.KeyRef] = i
	}
	stored := make([]envelope.Record, len(recs))
	inserted := make([]bool, len(recs))
	done := make([]bool, len(recs))
	// One order for every writer: two transactions inserting overlapping
	// batches take their row locks in the same order, and neither waits
	// for the other in a cycle.
	todo := slices.SortedFunc(slices.Values(recs), func(a, b envelope.Record) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.ID, b.ID))
	})
	for range 3 {
		for chunk := range slices.Chunk(todo, maxBatch) {
			args := make([]any, 0, 8*len(chunk))
			for _, r := range chunk {
				w := r.Wrapped
				if w == nil {
					w = []byte{}
				}
				args = append(args, string(r.Kind), r.Tenant, r.Scope, int64(r.ID), w, int64(r.Parent), r.KEK, r.Created.UnixMicro(), int64(r.Used))
			}
			rows, err := s.query(ctx, "insert many", s.q.insertMany(len(chunk)), args)
			if err != nil {
				return nil, nil, err
			}
			for _, row := range rows {
				if i, ok := idx[row.KeyRef]; ok && !done[i] {
					stored[i], inserted[i], done[i] = row, true, true
				}
			}
		}
		var lost []envelope.KeyRef
		for _, r := range todo {
			if !done[idx[r.KeyRef]] {
				lost = append(lost, r.KeyRef)
			}
		}
		if len(lost) == 0 {
			return stored, inserted, nil
		}
		rows, err := s.GetMany(ctx, lost)
		if err != nil {
			return nil, nil, err
		}
		for _, row := range rows {
			if i, ok := idx[row.KeyRef]; ok && !done[i] {
				stored[i], done[i] = row, true
			}
		}
		todo = todo[:0:0]
		for _, ref := range lost {
			if i := idx[ref]; !done[i] {
				todo = append(todo, recs[i])
			}
		}
		if len(todo) == 0 {
			return stored, inserted, nil
		}
	}
	return nil, nil, errors.New("sqlkeystore: insert many: rows kept changing; try again")
}

// distinct returns xs without repeats, in their first order.
func distinct[T comparable](xs []T) []T {
	seen := make(map[T]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Replace implements envelope.KeyStore.
func (s *Store) Replace(ctx context.Context, old, rec envelope.Record) error {
	if old.KeyRef != rec.KeyRef {
		return envelope.ErrConflict
	}
	res, err := s.ex(ctx).ExecContext(ctx, s.q.replace, rec.Wrapped, int64(rec.Parent), rec.KEK,
		string(old.Kind), old.Tenant, old.Scope, int64(old.ID), old.Wrapped)
	if err != nil {
		return wrapErr("replace", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrapErr("replace", err)
	}
	if n != 1 {
		return envelope.ErrConflict
	}
	return nil
}

// Forget implements envelope.KeyStore: it deletes the scope's DEKs (DELETE
// ... RETURNING, so the watermark is taken from exactly the rows deleted)
// and inserts the tombstone at the new watermark, in one transaction: the
// caller's under pii.WithExecutor with a *sql.Tx, else its own (on the
// *sql.DB or the *sql.Conn the context names).
func (s *Store) Forget(ctx context.Context, tenant, scope string) (int, error) {
	ex := s.ex(ctx)
	b, ok := ex.(interface {
		BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
	})
	if !ok { // a *sql.Tx: its statements commit or roll back together
		return s.forget(ctx, ex, tenant, scope)
	}
	tx, err := b.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrapErr("forget", err)
	}
	defer tx.Rollback()
	n, err := s.forget(ctx, tx, tenant, scope)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, wrapErr("forget", err)
	}
	return n, nil
}

func (s *Store) forget(ctx context.Context, ex pii.Executor, tenant, scope string) (int, error) {
	rows, err := ex.QueryContext(ctx, s.q.del, string(envelope.KindDEK), tenant, scope)
	if err != nil {
		return 0, wrapErr("forget", err)
	}
	n := 0
	var wm int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, wrapErr("forget", err)
		}
		n++
		wm = max(wm, id)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return 0, wrapErr("forget", err)
	}
	rows.Close()
	if _, err := ex.ExecContext(ctx, s.q.tomb, string(envelope.KindTombstone), tenant, scope, wm, []byte{}, time.Now().UnixMicro()); err != nil {
		return 0, wrapErr("forget", err)
	}
	if err := s.notify(ctx, ex, tenant, scope); err != nil {
		return 0, wrapErr("forget", err)
	}
	return n, nil
}

// List implements envelope.KeyStore.
func (s *Store) List(ctx context.Context, kind envelope.Kind, after envelope.KeyRef, limit int) ([]envelope.Record, error) {
	if limit <= 0 {
		limit = 1000
	}
	if after.Kind != kind {
		after = envelope.KeyRef{}
	}
	id := int64(after.ID)
	if after == (envelope.KeyRef{}) {
		id = -1 // start before every id, records of tenant "" and scope "" included
	}
	rows, err := s.ex(ctx).QueryContext(ctx, s.q.list, string(kind), after.Tenant, after.Tenant, after.Scope, after.Scope, id, limit)
	if err != nil {
		return nil, wrapErr("list", err)
	}
	defer rows.Close()
	var out []envelope.Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, wrapErr("list", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("list", err)
	}
	return out, nil
}
