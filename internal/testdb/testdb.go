// Package testdb opens the databases the tests run against: an embedded
// SQLite file per test, and the PostgreSQL server named by PII_POSTGRES_URL.
//
// Without PII_POSTGRES_URL the PostgreSQL tests skip, except under CI=true,
// where they fail: CI must exercise them (.ci/run starts the server).
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// EnvPostgres names the variable holding the PostgreSQL URL for tests.
const EnvPostgres = "PII_POSTGRES_URL"

// SQLite opens a fresh SQLite database in t.TempDir, closed at cleanup.
func SQLite(t testing.TB) *sql.DB {
	t.Helper()
	return OpenSQLite(t, filepath.Join(t.TempDir(), "test.db"))
}

// OpenSQLite opens (creating if needed) the SQLite database at path with
// WAL, a busy timeout and foreign keys on; closed at cleanup.
func OpenSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		t.Fatalf("testdb: open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLiteDSN returns the DSN the tests use for a SQLite file.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
}

// PostgresURL returns the server URL, skipping the test when none is
// configured (failing instead under CI=true).
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testdb: %s is not set; CI must run the PostgreSQL tests (see .ci/run)", EnvPostgres)
		}
		t.Skipf("testdb: %s not set; skipping PostgreSQL test", EnvPostgres)
	}
	return u
}

var schemaSeq atomic.Int64

// Postgres connects to the server and returns a handle whose connections use
// a fresh schema, dropped at cleanup, so tests can run in parallel and
// repeatedly without seeing each other's tables. The schema name is returned
// for tests that start child processes (pass it as search_path).
func Postgres(t testing.TB) (*sql.DB, string) {
	t.Helper()
	base := PostgresURL(t)
	schema := fmt.Sprintf("t_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testdb: open postgres: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testdb: create schema: %v", err)
	}
	url := WithSearchPath(base, schema)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("testdb: open postgres: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	return db, url
}

// WithSearchPath returns url with its search_path set to schema.
func WithSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
