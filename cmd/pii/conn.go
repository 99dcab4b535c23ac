package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"

	// Every backend a --kms URI may name registers its schemes with kmsuri.
	_ "github.com/fieldguard/pii/keyprovider/awskms"
	_ "github.com/fieldguard/pii/keyprovider/gcpkms"
	_ "github.com/fieldguard/pii/keyprovider/local"
	_ "github.com/fieldguard/pii/keyprovider/vault"
)

const kmsHelp = "key URI: local://PATH (master key in PII_MASTER_KEY), gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K, vault://HOST/MOUNT/keys/NAME (token in VAULT_TOKEN), aws-kms://ARN [env PII_KMS]"

const dbHelp = "database: sqlite:PATH or a postgres:// URL [env PII_DB]"

// openKMS opens the key provider a --kms URI names, inside a
// keyprovider.Client. A malformed URI is a usage error.
func openKMS(ctx context.Context, uri string, create bool) (*keyprovider.Client, error) {
	if uri == "" {
		return nil, usageErr("--kms is required (or PII_KMS)")
	}
	if _, err := kmsuri.Parse(uri); err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	c, err := kmsuri.Open(ctx, uri, &kmsuri.Options{CreateLocal: create})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &exitError{code: exitUsage, err: err}
		}
		if strings.Contains(err.Error(), "environment variable") {
			return nil, &exitError{code: exitUsage, err: err}
		}
		return nil, err
	}
	return c, nil
}

// database is an open --db.
type database struct {
	*sql.DB
	dialect sqldialect.Dialect
	display string // the DSN without credentials
}

// parseDSN turns a --db value into a driver and data source name.
func parseDSN(v string) (driver, dsn, display string, err error) {
	switch {
	case v == "":
		return "", "", "", usageErr("--db is required (or PII_DB): sqlite:PATH or a postgres:// URL")
	case strings.HasPrefix(v, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if p == "" || strings.ContainsAny(p, "?#") {
			return "", "", "", usageErr("--db %q: want sqlite:PATH, e.g. sqlite:/var/lib/app/app.db", v)
		}
		if _, serr := os.Stat(p); serr != nil {
			return "", "", "", usageErr("--db sqlite:%s: no database there", p)
		}
		return "sqlite", "file:" + p + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)", "sqlite:" + p, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		u, perr := url.Parse(v)
		if perr != nil || u.Host == "" {
			return "", "", "", usageErr("--db: malformed PostgreSQL URL (want postgres://user:password@host:port/dbname)")
		}
		return "pgx", v, u.Redacted(), nil
	default:
		return "", "", "", usageErr("--db: want sqlite:PATH or a postgres:// URL")
	}
}

func openDB(ctx context.Context, v string) (*database, error) {
	driver, dsn, display, err := parseDSN(v)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %v", display, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("database %s is unreachable: %s", display, oneLine(err.Error()))
	}
	d := &database{DB: db, dialect: sqldialect.SQLite, display: display}
	if driver == "pgx" {
		d.dialect = sqldialect.Postgres
	} else {
		db.SetMaxOpenConns(1)
	}
	return d, nil
}

// requireTable fails with a usage error when table does not exist.
func (d *database) requireTable(ctx context.Context, table string) error {
	if err := sqldialect.ValidTable("table", table); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var n int
	var err error
	if d.dialect == sqldialect.Postgres {
		err = d.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relname = $1 AND (n.nspname = $2 OR ($2 = '' AND n.nspname = ANY (current_schemas(false))))`,
			sqldialect.BaseName(table), schemaOf(table)).Scan(&n)
	} else {
		err = d.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
	}
	if err != nil {
		return fmt.Errorf("database %s: %s", d.display, oneLine(err.Error()))
	}
	if n == 0 {
		return usageErr("database %s has no table %s", d.display, table)
	}
	return nil
}

func schemaOf(table string) string {
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		return table[:i]
	}
	return ""
}

// requireColumns fails with a usage error naming the first of cols that
// table (which exists) lacks.
func (d *database) requireColumns(ctx context.Context, table string, cols []string) error {
	var rows *sql.Rows
	var err error
	if d.dialect == sqldialect.Postgres {
		rows, err = d.QueryContext(ctx, `SELECT a.attname FROM pg_catalog.pg_attribute a
			JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relname = $1 AND (n.nspname = $2 OR ($2 = '' AND n.nspname = ANY (current_schemas(false))))
			AND a.attnum > 0 AND NOT a.attisdropped`, sqldialect.BaseName(table), schemaOf(table))
	} else {
		rows, err = d.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	}
	if err != nil {
		return fmt.Errorf("database %s: %s", d.display, oneLine(err.Error()))
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return fmt.Errorf("database %s: %s", d.display, oneLine(err.Error()))
		}
		have[strings.ToLower(c)] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("database %s: %s", d.display, oneLine(err.Error()))
	}
	for _, c := range cols {
		if !have[strings.ToLower(c)] {
			return usageErr("table %s has no column %s", table, c)
		}
	}
	return nil
}
