package tokenize

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fieldguard/pii/internal/sqldialect"
)

// Dialect is the SQL flavour of an SQLStore, shared with
// envelope/sqlkeystore and retention/sqlstore.
type Dialect = sqldialect.Dialect

const (
	// DialectDetect (the zero value) reads the dialect from db's driver.
	DialectDetect = sqldialect.Detect
	DialectSQLite = sqldialect.SQLite
	// DialectPostgres is PostgreSQL ($n placeholders, BYTEA).
	DialectPostgres = sqldialect.Postgres
)

// SQLStore is a TokenStore in a database/sql table, tested on SQLite
// (modernc.org/sqlite) and PostgreSQL (pgx). The caller opens the *sql.DB
// with the driver of its choice; the package imports no driver. Values are
// stored sealed and lookups as keyed hashes (see Record).
type SQLStore struct {
	db      *sql.DB
	dialect Dialect
	table   string
}

var _ TokenStore = (*SQLStore)(nil)

// SQLStoreOptions configure an SQLStore.
type SQLStoreOptions struct {
	// Table is the table name, optionally schema-qualified
	// ("app.tokenize_vault"); default "tokenize_vault". Index names are
	// derived from the table part.
	Table string
}

// NewSQLStore returns a store over db. Call Migrate once to create the
// table and its indexes.
func NewSQLStore(db *sql.DB, d Dialect, opts *SQLStoreOptions) (*SQLStore, error) {
	d, err := sqldialect.Resolve(db, d)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	s := &SQLStore{db: db, dialect: d, table: "tokenize_vault"}
	if opts != nil && opts.Table != "" {
		s.table = opts.Table
	}
	if err := sqldialect.ValidTable("token store table", s.table); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	return s, nil
}

// q fills the table name ({t}) and rewrites ? placeholders for the dialect.
func (s *SQLStore) q(query string) string {
	return s.dialect.Rebind(strings.ReplaceAll(query, "{t}", s.table))
}

// Migrate creates the table and indexes if they do not exist.
func (s *SQLStore) Migrate(ctx context.Context) error {
	blob := "BLOB"
	if s.dialect == DialectPostgres {
		blob = "BYTEA"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS {t} (
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
		s.index("lookup", "lookup"),
		s.index("subject", "tenant, subject"),
		s.index("expires", "expires_us"),
	}
	for _, st := range stmts {
		if _, err := s.db.ExecContext(ctx, s.q(st)); err != nil {
			return fmt.Errorf("tokenize: migrate token store: %w", err)
		}
	}
	return nil
}

// index returns the DDL of an index named after the table's base name.
// PostgreSQL puts an index in its table's schema and takes an unqualified
// name; SQLite qualifies the index name and takes an unqualified table.
func (s *SQLStore) index(suffix, cols string) string {
	base := sqldialect.BaseName(s.table)
	name := base + "_" + suffix
	if s.dialect == DialectSQLite {
		return "CREATE INDEX IF NOT EXISTS " + s.table[:len(s.table)-len(base)] + name + " ON " + base + " (" + cols + ")"
	}
	return "CREATE INDEX IF NOT EXISTS " + name + " ON " + s.table + " (" + cols + ")"
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

// Put implements TokenStore.
func (s *SQLStore) Put(ctx context.Context, r *Record) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO {t}
		(token, tenant, field, subject, key_id, lookup, sealed, created_us, expires_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token) DO NOTHING`),
		r.Token, r.Tenant, r.Field, r.Subject, r.KeyID, r.Lookup, r.Sealed,
		toMicros(r.Created), toMicros(r.Expires))
	if err != nil {
		return fmt.Errorf("tokenize: token store put: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("tokenize: token store put: %w", err)
	}
	if n == 0 {
		return ErrTokenExists
	}
	return nil
}

const recordCols = `token, tenant, field, subject, key_id, lookup, sealed, created_us, expires_us`

func (s *SQLStore) one(ctx context.Context, query string, args ...any) (*Record, error) {
	var r Record
	var created, expires int64
	err := s.db.QueryRowContext(ctx, s.q(query), args...).Scan(
		&r.Token, &r.Tenant, &r.Field, &r.Subject, &r.KeyID, &r.Lookup, &r.Sealed, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("tokenize: token store read: %w", err)
	}
	r.Created, r.Expires = fromMicros(created), fromMicros(expires)
	return &r, nil
}

// Get implements TokenStore.
func (s *SQLStore) Get(ctx context.Context, token string, now time.Time) (*Record, error) {
	return s.one(ctx, `SELECT `+recordCols+` FROM {t}
		WHERE token = ? AND (expires_us = 0 OR expires_us > ?)`, token, now.UnixMicro())
}

// Find implements TokenStore.
func (s *SQLStore) Find(ctx context.Context, lookup []byte, now time.Time) (*Record, error) {
	return s.one(ctx, `SELECT `+recordCols+` FROM {t}
		WHERE lookup = ? AND (expires_us = 0 OR expires_us > ?)
		ORDER BY created_us DESC, token LIMIT 1`, lookup, now.UnixMicro())
}

// DeleteSubject implements TokenStore.
func (s *SQLStore) DeleteSubject(ctx context.Context, tenant, subject string) (int64, error) {
	return s.exec(ctx, `DELETE FROM {t} WHERE tenant = ? AND subject = ?`, tenant, subject)
}

// DeleteExpired implements TokenStore.
func (s *SQLStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	return s.exec(ctx, `DELETE FROM {t} WHERE expires_us <> 0 AND expires_us <= ?`, now.UnixMicro())
}

func (s *SQLStore) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return 0, fmt.Errorf("tokenize: token store delete: %w", err)
	}
	return res.RowsAffected()
}
