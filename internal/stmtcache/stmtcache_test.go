package stmtcache_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/internal/stmtcache"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// inList returns a SELECT of the rows whose id is one of n arguments, and
// the arguments 0..n-1.
func inList(n int) (string, []any) {
	args := make([]any, n)
	for i := range args {
		args[i] = i
	}
	return "SELECT id FROM t WHERE id IN (?" + strings.Repeat(",?", n-1) + ") ORDER BY id", args
}

// counter returns a function counting the rows of a query's result.
func counter(t *testing.T) func(*sql.Rows, error) int {
	return func(rows *sql.Rows, err error) int {
		t.Helper()
		require.NoError(t, err)
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Err())
		return n
	}
}

func setup(t *testing.T) (*sql.DB, string) {
	path := filepath.Join(t.TempDir(), "db")
	db := openDB(t, path)
	_, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
	require.NoError(t, err)
	return db, path
}

// TestCache: statements run prepared on the DB and in its transactions,
// see the transaction's own writes, and are kept once each, within Max.
func TestCache(t *testing.T) {
	ctx := context.Background()
	db, _ := setup(t)
	c := stmtcache.New(db)
	count := counter(t)
	q, args := inList(100)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	for i := range 10 {
		_, err := tx.Exec("INSERT INTO t (id) VALUES (?)", i)
		require.NoError(t, err)
	}
	require.Equal(t, 10, count(c.Query(ctx, tx, q, args...)), "the transaction's rows")
	require.Equal(t, 0, count(c.Query(ctx, db, q, args...)), "not yet committed")
	require.NoError(t, tx.Rollback())
	require.Equal(t, 0, count(c.Query(ctx, db, q, args...)))
	require.Equal(t, 1, stmtcache.Len(c))

	for n := stmtcache.MinArgs; n < stmtcache.MinArgs+2*stmtcache.Max; n++ {
		q, args := inList(n)
		require.Equal(t, 0, count(c.Query(ctx, db, q, args...)))
	}
	require.Equal(t, stmtcache.Max, stmtcache.Len(c), "full: later texts run unprepared")
	q, args = inList(stmtcache.MinArgs - 1)
	require.Equal(t, 0, count(c.Query(ctx, db, q, args...)))
	require.Equal(t, stmtcache.Max, stmtcache.Len(c))
}

// TestOtherDB: a transaction of another *sql.DB (on the same file) runs
// the text; database/sql refuses the cached statement there.
func TestOtherDB(t *testing.T) {
	ctx := context.Background()
	db, path := setup(t)
	c := stmtcache.New(db)
	count := counter(t)
	other := openDB(t, path)
	tx, err := other.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.Exec("INSERT INTO t (id) VALUES (7)")
	require.NoError(t, err)
	q, args := inList(100)
	require.Equal(t, 1, count(c.Query(ctx, tx, q, args...)))
	require.Equal(t, 1, stmtcache.Len(c), "prepared on db, refused by the other DB's transaction")
}

// TestOneConnection: with SetMaxOpenConns(1) a transaction holds the only
// connection; a new text runs unprepared there instead of waiting for it,
// and a text prepared before runs prepared.
func TestOneConnection(t *testing.T) {
	ctx := context.Background()
	db, _ := setup(t)
	db.SetMaxOpenConns(1)
	// Without the free-connection check, preparing would wait for the
	// transaction's connection until the test times out.
	stmtcache.SetPrepareWait(time.Hour)
	t.Cleanup(func() { stmtcache.SetPrepareWait(time.Second) })
	c := stmtcache.New(db)
	count := counter(t)
	early, args := inList(100)
	require.Equal(t, 0, count(c.Query(ctx, db, early, args...)))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.Exec("INSERT INTO t (id) VALUES (3)")
	require.NoError(t, err)
	q, args2 := inList(101)
	require.Equal(t, 1, count(c.Query(ctx, tx, q, args2...)))
	require.Equal(t, 1, count(c.Query(ctx, tx, early, args...)))
	require.Equal(t, 1, stmtcache.Len(c), "only the text prepared outside the transaction")
}

// TestConcurrent: many goroutines share the statements (run with -race).
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _ := setup(t)
	_, err := db.Exec("INSERT INTO t (id) VALUES (1), (2), (3)")
	require.NoError(t, err)
	c := stmtcache.New(db)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				q, args := inList(stmtcache.MinArgs + (g+i)%4)
				rows, err := c.Query(ctx, db, q, args...)
				if err != nil {
					panic(err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				rows.Close()
				if n != 3 {
					panic(fmt.Sprint("rows: ", n))
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, 4, stmtcache.Len(c))
}
