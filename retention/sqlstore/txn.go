// Transactions: a claim's own transaction (BEGIN IMMEDIATE on SQLite).

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
)

// querier is what a *sql.Tx and a *sql.Conn share.
type querier interface {
	pii.Executor
	preparer
}

// preparer is the optional ability of a pii.Executor to prepare statements.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// txn is a transaction: a *sql.Tx on PostgreSQL, and on SQLite a
// connection in BEGIN IMMEDIATE, so the write lock is taken before the
// claim reads (two deferred transactions upgrading at once deadlock).
type txn struct {
	q      querier
	tx     *sql.Tx
	conn   *sql.Conn
	closed bool
}

func (t *Table) begin(ctx context.Context, readOnly bool) (*txn, error) {
	return begin(ctx, t.db, t.d, readOnly)
}

func begin(ctx context.Context, db *sql.DB, d Dialect, readOnly bool) (*txn, error) {
	if d == Postgres {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
		if err != nil {
			return nil, fmt.Errorf("sqlstore: begin: %w", err)
		}
		return &txn{q: tx, tx: tx}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	stmt := "BEGIN IMMEDIATE"
	if readOnly {
		stmt = "BEGIN"
	}
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	return &txn{q: conn, conn: conn}, nil
}

func (x *txn) commit() error {
	if x.closed {
		return errors.New("sqlstore: transaction already closed")
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

func (x *txn) rollback() error {
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
