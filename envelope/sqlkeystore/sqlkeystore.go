package sqlkeystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sqldialect"
)

// Dialect is the SQL flavour, shared with tokenize's SQLStore and
// retention/sqlstore.
type Dialect = sqldialect.Dialect

const (
	// Detect (the zero value) reads the dialect from db's driver.
	Detect = sqldialect.Detect
	// SQLite uses ? placeholders and BLOB.
	SQLite = sqldialect.SQLite
	// Postgres uses $n placeholders, BYTEA and the "C" collation (so List
	// orders like Go strings).
	Postgres = sqldialect.Postgres
)

// Options configure a Store.
type Options struct {
	// Dialect is the SQL flavour; the zero value detects it from the driver.
	Dialect Dialect
	// Table is the table name, optionally schema-qualified (default
	// "pii_keys").
	Table string
}

// Store is an envelope.KeyStore on a *sql.DB.
type Store struct {
	db      *sql.DB
	dialect Dialect
	table   string
	q       queries
}

var _ envelope.KeyStore = (*Store)(nil)

type queries struct {
	get, latest, insert, replace, del, tomb, list string
}

// New returns a Store on db. Call CreateTable once (it is idempotent)
// before first use.
func New(db *sql.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlkeystore: nil db")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = "pii_keys"
	}
	if err := sqldialect.ValidTable("key table", o.Table); err != nil {
		return nil, fmt.Errorf("sqlkeystore: %w", err)
	}
	d, err := sqldialect.Resolve(db, o.Dialect)
	if err != nil {
		return nil, fmt.Errorf("sqlkeystore: %w", err)
	}
	s := &Store{db: db, dialect: d, table: o.Table}
	const cols = "kind, tenant, scope, id, wrapped, parent, kek, created"
	t := o.Table
	s.q = queries{
		get:     s.dialect.Rebind("SELECT " + cols + " FROM " + t + " WHERE kind = ? AND tenant = ? AND scope = ? AND id = ?"),
		latest:  s.dialect.Rebind("SELECT " + cols + " FROM " + t + " WHERE kind = ? AND tenant = ? AND scope = ? ORDER BY id DESC LIMIT 1"),
		insert:  s.dialect.Rebind("INSERT INTO " + t + " (" + cols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, tenant, scope, id) DO NOTHING"),
		replace: s.dialect.Rebind("UPDATE " + t + " SET wrapped = ?, parent = ?, kek = ? WHERE kind = ? AND tenant = ? AND scope = ? AND id = ? AND wrapped = ?"),
		del:     s.dialect.Rebind("DELETE FROM " + t + " WHERE kind = ? AND tenant = ? AND scope = ? RETURNING id"),
		tomb:    s.dialect.Rebind("INSERT INTO " + t + " (" + cols + ") VALUES (?, ?, ?, ?, ?, 0, '', ?) ON CONFLICT (kind, tenant, scope, id) DO NOTHING"),
		list: s.dialect.Rebind("SELECT " + cols + " FROM " + t + " WHERE kind = ? AND (tenant > ? OR (tenant = ? AND (scope > ? OR (scope = ? AND id > ?))))" +
			" ORDER BY tenant, scope, id LIMIT ?"),
	}
	return s, nil
}

// CreateTable creates the table if it does not exist.
func (s *Store) CreateTable(ctx context.Context) error {
	text, blob := "TEXT", "BLOB"
	if s.dialect == Postgres {
		text, blob = `TEXT COLLATE "C"`, "BYTEA"
	}
	_, err := s.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.table+` (
	kind `+text+` NOT NULL,
	tenant `+text+` NOT NULL,
	scope `+text+` NOT NULL,
	id BIGINT NOT NULL,
	wrapped `+blob+` NOT NULL,
	parent BIGINT NOT NULL,
	kek TEXT NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (kind, tenant, scope, id))`)
	if err != nil {
		return fmt.Errorf("sqlkeystore: create table: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(r scanner) (envelope.Record, error) {
	var (
		rec            envelope.Record
		kind           string
		id, parent, us int64
	)
	if err := r.Scan(&kind, &rec.Tenant, &rec.Scope, &id, &rec.Wrapped, &parent, &rec.KEK, &us); err != nil {
		return envelope.Record{}, err
	}
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
	rec, err := scanRecord(s.db.QueryRowContext(ctx, s.q.get, string(ref.Kind), ref.Tenant, ref.Scope, int64(ref.ID)))
	if err != nil {
		return envelope.Record{}, wrapErr("get", err)
	}
	return rec, nil
}

// Latest implements envelope.KeyStore.
func (s *Store) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	rec, err := scanRecord(s.db.QueryRowContext(ctx, s.q.latest, string(kind), tenant, scope))
	if err != nil {
		return envelope.Record{}, wrapErr("latest", err)
	}
	return rec, nil
}

// Insert implements envelope.KeyStore.
func (s *Store) Insert(ctx context.Context, rec envelope.Record) (envelope.Record, bool, error) {
	w := rec.Wrapped
	if w == nil {
		w = []byte{}
	}
	res, err := s.db.ExecContext(ctx, s.q.insert, string(rec.Kind), rec.Tenant, rec.Scope, int64(rec.ID),
		w, int64(rec.Parent), rec.KEK, rec.Created.UnixMicro())
	if err != nil {
		return envelope.Record{}, false, wrapErr("insert", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return envelope.Record{}, false, wrapErr("insert", err)
	}
	stored, err := s.Get(ctx, rec.KeyRef)
	if err != nil {
		return envelope.Record{}, false, err
	}
	return stored, n == 1, nil
}

// Replace implements envelope.KeyStore.
func (s *Store) Replace(ctx context.Context, old, rec envelope.Record) error {
	if old.KeyRef != rec.KeyRef {
		return envelope.ErrConflict
	}
	res, err := s.db.ExecContext(ctx, s.q.replace, rec.Wrapped, int64(rec.Parent), rec.KEK,
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
// and inserts the tombstone at the new watermark, in one transaction.
func (s *Store) Forget(ctx context.Context, tenant, scope string) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrapErr("forget", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q.del, string(envelope.KindDEK), tenant, scope)
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
	if _, err := tx.ExecContext(ctx, s.q.tomb, string(envelope.KindTombstone), tenant, scope, wm, []byte{}, time.Now().UnixMicro()); err != nil {
		return 0, wrapErr("forget", err)
	}
	if err := tx.Commit(); err != nil {
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
	rows, err := s.db.QueryContext(ctx, s.q.list, string(kind), after.Tenant, after.Tenant, after.Scope, after.Scope, id, limit)
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
