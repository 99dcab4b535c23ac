package sqltokenstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/tokenize"
)

// defaultTable is the table of a nil Options.Table.
const defaultTable = "pii_tokens"

// Options configure a Store. The zero value (or nil) is valid.
type Options struct {
	// Dialect is the SQL flavour; the zero value detects it from the
	// driver.
	Dialect pii.Dialect
	// Table is the table name, optionally schema-qualified
	// ("app.pii_tokens"); default "pii_tokens". Index names are derived
	// from the table part ("pii_tokens_lookup").
	Table string
}

// Store is a tokenize.TokenStore in a database/sql table. It is safe for
// concurrent use. Every read and write goes through
// pii.ExecutorFrom(ctx, db), so under pii.WithExecutor it joins the
// caller's transaction.
type Store struct {
	db *sql.DB
	q  queries
}

var _ tokenize.TokenStore = (*Store)(nil)

type queries struct {
	put, get, find, deleteSubject, deleteExpired string
	ddl                                          []string
}

// New returns a Store on db. It runs no SQL: call CreateTables once (it
// is idempotent), or apply DDL with your migration tool.
func New(db *sql.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqltokenstore: nil *sql.DB")
	}
	o, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	d, err := sqldialect.Resolve(db, o.Dialect)
	if err != nil {
		return nil, fmt.Errorf("sqltokenstore: %w", err)
	}
	o.Dialect = d.Public()
	return &Store{db: db, q: build(o)}, nil
}

// DDL returns the statements CreateTables runs for opts, separated by
// semicolons, for migration tools (goose, golang-migrate, atlas) that own
// the schema. opts.Dialect must be SQLite or Postgres: there is no driver
// to detect it from.
func DDL(opts *Options) (string, error) {
	o, err := resolve(opts)
	if err != nil {
		return "", err
	}
	if o.Dialect != pii.SQLite && o.Dialect != pii.Postgres {
		return "", fmt.Errorf("sqltokenstore: DDL needs Options.Dialect set to SQLite or Postgres, got %v", o.Dialect)
	}
	return strings.Join(build(o).ddl, ";\n") + ";\n", nil
}

func resolve(opts *Options) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = defaultTable
	}
	if err := sqldialect.ValidTable("token store table", o.Table); err != nil {
		return o, fmt.Errorf("sqltokenstore: %w", err)
	}
	return o, nil
}

const recordCols = `token, tenant, field, subject, key_id, lookup, sealed, created_us, expires_us`

// build writes every statement of a resolved dialect and table.
func build(o Options) queries {
	d, t := sqldialect.Of(o.Dialect), o.Table
	blob := "BLOB"
	if d == sqldialect.Postgres {
		blob = "BYTEA"
	}
	// index names an index after the table's base name. PostgreSQL puts
	// an index in its table's schema and takes an unqualified name; SQLite
	// qualifies the index name and takes an unqualified table.
	index := func(suffix, cols string) string {
		base := sqldialect.BaseName(t)
		name := base + "_" + suffix
		if d == sqldialect.SQLite {
			return "CREATE INDEX IF NOT EXISTS " + t[:len(t)-len(base)] + name + " ON " + base + " (" + cols + ")"
		}
		return "CREATE INDEX IF NOT EXISTS " + name + " ON " + t + " (" + cols + ")"
	}
	return queries{
		put: d.Rebind(`INSERT INTO ` + t + ` (` + recordCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING`),
		get: d.Rebind(`SELECT ` + recordCols + ` FROM ` + t + `
			WHERE token = ? AND (expires_us = 0 OR expires_us > ?)`),
		find: d.Rebind(`SELECT ` + recordCols + ` FROM ` + t + `
			WHERE lookup = ? AND (expires_us = 0 OR expires_us > ?)
			ORDER BY created_us DESC, token LIMIT 1`),
		deleteSubject: d.Rebind(`DELETE FROM ` + t + ` WHERE tenant = ? AND subject = ?`),
		deleteExpired: d.Rebind(`DELETE FROM ` + t + ` WHERE expires_us <> 0 AND expires_us <= ?`),
		ddl: []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
	token TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	field TEXT NOT NULL,
	subject TEXT NOT NULL,
	key_id TEXT NOT NULL,
	lookup ` + blob + ` NOT NULL,
	sealed ` + blob + ` NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL
)`,
			index("lookup", "lookup"),
			index("subject", "tenant, subject"),
			index("expires", "expires_us"),
		},
	}
}

// CreateTables creates the table and its indexes if they do not exist,
// in one transaction (the caller's, under pii.WithExecutor).
func (s *Store) CreateTables(ctx context.Context) error {
	run := func(ex pii.Executor) error {
		for _, st := range s.q.ddl {
			if _, err := ex.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("sqltokenstore: create tables: %w", err)
			}
		}
		return nil
	}
	if ex := pii.ExecutorFrom(ctx, nil); ex != nil {
		return run(ex)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqltokenstore: create tables: %w", err)
	}
	if err := run(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqltokenstore: create tables: %w", err)
	}
	return nil
}

func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// Put implements tokenize.TokenStore.
func (s *Store) Put(ctx context.Context, r *tokenize.Record) error {
	res, err := pii.ExecutorFrom(ctx, s.db).ExecContext(ctx, s.q.put,
		r.Token, r.Tenant, r.Field, r.Subject, r.KeyID, r.Lookup, r.Sealed,
		toMicros(r.Created), toMicros(r.Expires))
	if err != nil {
		return fmt.Errorf("sqltokenstore: put: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqltokenstore: put: %w", err)
	}
	if n == 0 {
		return tokenize.ErrTokenExists
	}
	return nil
}

func (s *Store) one(ctx context.Context, query string, args ...any) (*tokenize.Record, error) {
	var r tokenize.Record
	var created, expires int64
	err := pii.ExecutorFrom(ctx, s.db).QueryRowContext(ctx, query, args...).Scan(
		&r.Token, &r.Tenant, &r.Field, &r.Subject, &r.KeyID, &r.Lookup, &r.Sealed, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tokenize.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqltokenstore: read: %w", err)
	}
	r.Created, r.Expires = fromMicros(created), fromMicros(expires)
	return &r, nil
}

// Get implements tokenize.TokenStore.
func (s *Store) Get(ctx context.Context, token string, now time.Time) (*tokenize.Record, error) {
	return s.one(ctx, s.q.get, token, now.UnixMicro())
}

// Find implements tokenize.TokenStore.
func (s *Store) Find(ctx context.Context, lookup []byte, now time.Time) (*tokenize.Record, error) {
	return s.one(ctx, s.q.find, lookup, now.UnixMicro())
}

// DeleteSubject implements tokenize.TokenStore.
func (s *Store) DeleteSubject(ctx context.Context, tenant, subject string) (int64, error) {
	return s.delete(ctx, s.q.deleteSubject, tenant, subject)
}

// DeleteExpired implements tokenize.TokenStore.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	return s.delete(ctx, s.q.deleteExpired, now.UnixMicro())
}

func (s *Store) delete(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := pii.ExecutorFrom(ctx, s.db).ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqltokenstore: delete: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqltokenstore: delete: %w", err)
	}
	return n, nil
}
