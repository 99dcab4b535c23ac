package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// database is the example's store: SQLite (embedded, the default) or
// PostgreSQL. Queries are written with ? placeholders and rebound for
// PostgreSQL.
type database struct {
	*sql.DB
	postgres bool
	display  string // the DSN without credentials, for output
}

// parseDBFlag turns the --db value into a driver and data source name.
// An empty value means the SQLite file keyrotation.db in dir.
func parseDBFlag(v, dir string) (driver, dsn, display string, err error) {
	switch {
	case v == "":
		p := filepath.Join(dir, "keyrotation.db")
		return "sqlite", sqliteDSN(p), "sqlite:" + p, nil
	case strings.HasPrefix(v, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if p == "" {
			return "", "", "", errors.New("--db sqlite: needs a file path, e.g. sqlite:/tmp/rotation.db")
		}
		return "sqlite", sqliteDSN(p), "sqlite:" + p, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		u, perr := url.Parse(v)
		if perr != nil || u.Host == "" {
			return "", "", "", errors.New("--db: malformed PostgreSQL URL (want postgres://user:password@host:port/dbname)")
		}
		return "pgx", v, u.Redacted(), nil
	default:
		return "", "", "", errors.New("--db: want sqlite:PATH or a postgres:// URL")
	}
}

// sqliteDSN opens SQLite in WAL mode with synchronous=NORMAL: a committed
// transaction survives a crash of the process (what the kill test checks);
// a power cut may lose the last few. Production settings are the
// operator's choice.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
}

// openDatabase opens and pings the database, so an unreachable server is
// reported at start.
func openDatabase(ctx context.Context, driver, dsn, display string) (*database, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", display, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s is unreachable: %s", display, firstLine(err.Error()))
	}
	d := &database{DB: db, postgres: driver == "pgx", display: display}
	if !d.postgres {
		// One writer at a time; SQLite serialises writes anyway.
		db.SetMaxOpenConns(1)
	}
	return d, nil
}

// q rebinds ? placeholders to $1, $2, ... for PostgreSQL.
func (d *database) q(query string) string {
	if !d.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// blob is the column type for bytes.
func (d *database) blob() string {
	if d.postgres {
		return "BYTEA"
	}
	return "BLOB"
}

func (d *database) ensureStateTable(ctx context.Context) error {
	_, err := d.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS kr_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)`)
	if err != nil {
		return fmt.Errorf("database: create tables: %s", firstLine(err.Error()))
	}
	return nil
}

// execer is a *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getState returns the named progress value, or "" when unset.
func (d *database) getState(ctx context.Context, e execer, name string) (string, error) {
	var v string
	err := e.QueryRowContext(ctx, d.q(`SELECT value FROM kr_state WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("database: read state %s: %s", name, firstLine(err.Error()))
	}
	return v, nil
}

func (d *database) setState(ctx context.Context, e execer, name, value string) error {
	_, err := e.ExecContext(ctx, d.q(`INSERT INTO kr_state (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, value)
	if err != nil {
		return fmt.Errorf("database: write state %s: %s", name, firstLine(err.Error()))
	}
	return nil
}

func (d *database) getInt(ctx context.Context, e execer, name string) (int64, error) {
	v, err := d.getState(ctx, e, name)
	if err != nil || v == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("database: state %s is not a number", name)
	}
	return n, nil
}

func (d *database) setInt(ctx context.Context, e execer, name string, v int64) error {
	return d.setState(ctx, e, name, strconv.FormatInt(v, 10))
}

// inTx runs f in a transaction, committing when it returns nil.
func (d *database) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database: begin: %s", firstLine(err.Error()))
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database: commit: %s", firstLine(err.Error()))
	}
	return nil
}

// firstLine folds a multi-line error message into one line.
func firstLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
