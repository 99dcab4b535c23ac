// Package sqltx begins the transactions the module's SQL code runs on its
// own (retention's claims, guard's migration batches): a *sql.Tx on
// PostgreSQL, and on SQLite a connection in BEGIN IMMEDIATE, so the write
// lock is taken before the transaction reads (two deferred transactions
// upgrading at once deadlock).
//
// Errors carry no package prefix: the caller adds its own.
package sqltx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
)

// Querier is what a *sql.Tx and a *sql.Conn share.
type Querier interface {
	pii.Executor
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Tx is a transaction; run statements on Q.
type Tx struct {
	Q      Querier
	tx     *sql.Tx
	conn   *sql.Conn
	closed bool
}

// Begin begins a transaction on db: read-only ones on SQLite take no
// write lock (a plain BEGIN).
func Begin(ctx context.Context, db *sql.DB, d sqldialect.Dialect, readOnly bool) (*Tx, error) {
	if d == sqldialect.Postgres {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		return &Tx{Q: tx, tx: tx}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	stmt := "BEGIN IMMEDIATE"
	if readOnly {
		stmt = "BEGIN"
	}
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &Tx{Q: conn, conn: conn}, nil
}

// Commit commits; a failed COMMIT on SQLite is rolled back.
func (x *Tx) Commit() error {
	if x.closed {
		return errors.New("transaction already closed")
	}
	x.closed = true
	if x.tx != nil {
		return x.tx.Commit()
	}
	_, err := x.conn.ExecContext(context.Background(), "COMMIT")
	if err != nil {
		x.conn.ExecContext(context.Background(), "ROLLBACK")
	}
	x.conn.Close()
	return err
}

// Rollback rolls back; after Commit or Rollback it does nothing.
func (x *Tx) Rollback() error {
	if x.closed {
		return nil
	}
	x.closed = true
	if x.tx != nil {
		return x.tx.Rollback()
	}
	_, err := x.conn.ExecContext(context.Background(), "ROLLBACK")
	x.conn.Close()
	return err
}
