// Package stmtcache keeps the prepared statements of a *sql.DB by their
// text, for the multi-row statements the SQL stores build (one text per
// batch size). modernc.org/sqlite prepares every statement it is given
// anew, and preparing a 1,000-row IN list costs about as much as running
// it; pgx caches prepared statements itself, so the stores use a Cache
// on SQLite only.
//
// A statement runs prepared when the executor is the Cache's *sql.DB or a
// *sql.Tx of it (database/sql prepares it once per connection); any other
// executor (a *sql.Conn, a caller's own) runs the text as before. A new
// text is prepared on the DB, which takes a connection: under a
// transaction, only when the DB has one free (with SetMaxOpenConns(1) the
// transaction holds the only one), else the text runs unprepared. The
// Cache keeps at most Max statements, of at least MinArgs arguments (short
// ones are cheap to prepare), and never closes one another goroutine may
// be running: once full it prepares nothing more. Statements live as long
// as the *sql.DB. It makes no errors of its own: a statement that cannot
// be prepared runs as text and reports its error there.
package stmtcache

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/fieldguard/pii"
)

// Max bounds the statements a Cache keeps; MinArgs is the fewest
// arguments a statement needs to be kept.
const (
	Max     = 32
	MinArgs = 64
)

// Cache holds the prepared statements of one *sql.DB. A nil *Cache
// prepares nothing.
type Cache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// New returns an empty Cache for db.
func New(db *sql.DB) *Cache { return &Cache{db: db, m: map[string]*sql.Stmt{}} }

// Query runs q with args on ex, prepared where it can be (see the package
// doc).
func (c *Cache) Query(ctx context.Context, ex pii.Executor, q string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, ex, q, len(args)); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		if err == nil || err.Error() != errOtherDB {
			return rows, err
		}
		// A transaction of another *sql.DB: refused before anything ran.
	}
	return ex.QueryContext(ctx, q, args...)
}

// errOtherDB is the text of the error database/sql's Tx.StmtContext binds
// to a statement of another *sql.DB, which fails when run, before any
// SQL (TestOtherDB fails if it changes).
const errOtherDB = "sql: Tx.Stmt: statement from different database used"

// prepareWait bounds how long preparing waits for a connection (a
// variable for the tests).
var prepareWait = time.Second

// connFree reports whether the DB can hand out a connection without
// waiting for one to be released.
func (c *Cache) connFree() bool {
	st := c.db.Stats()
	return st.Idle > 0 || st.MaxOpenConnections == 0 || st.OpenConnections < st.MaxOpenConnections
}

// stmt returns the prepared q bound to ex, or nil to run the text.
func (c *Cache) stmt(ctx context.Context, ex pii.Executor, q string, nargs int) *sql.Stmt {
	if c == nil || nargs < MinArgs {
		return nil
	}
	var tx *sql.Tx
	switch e := ex.(type) {
	case *sql.DB:
		if e != c.db {
			return nil
		}
	case *sql.Tx:
		tx = e // of c.db or not: Query runs the text if it is another DB's
	default:
		return nil
	}
	c.mu.Lock()
	st, ok := c.m[q]
	if !ok && len(c.m) >= Max {
		c.mu.Unlock()
		return nil
	}
	if !ok {
		if tx != nil && !c.connFree() {
			// The transaction may hold the only connection (SQLite with
			// SetMaxOpenConns(1)): preparing on the DB would wait for it.
			c.mu.Unlock()
			return nil
		}
		// Prepared under the lock: two callers of a new text prepare it
		// once. It is a parse, no round trip on SQLite. The deadline
		// bounds a wait for a connection that connFree's check lost.
		pctx, cancel := context.WithTimeout(ctx, prepareWait)
		var err error
		st, err = c.db.PrepareContext(pctx, q)
		cancel()
		if err != nil {
			c.mu.Unlock()
			return nil // the text runs as before and reports any error
		}
		c.m[q] = st
	}
	c.mu.Unlock()
	if tx != nil {
		// Bound to the transaction, and closed with it.
		return tx.StmtContext(ctx, st)
	}
	return st
}
