// Transactions: a claim's own transaction (BEGIN IMMEDIATE on SQLite).

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqltx"
)

// querier is what a *sql.Tx and a *sql.Conn share.
type querier = sqltx.Querier

// txn is a claim's transaction (see internal/sqltx).
type txn struct {
	*sqltx.Tx
	q querier
}

func (t *Table) begin(ctx context.Context, readOnly bool) (*txn, error) {
	return begin(ctx, t.db, t.d, readOnly)
}

func begin(ctx context.Context, db *sql.DB, d sqldialect.Dialect, readOnly bool) (*txn, error) {
	x, err := sqltx.Begin(ctx, db, d, readOnly)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return &txn{Tx: x, q: x.Q}, nil
}

func (x *txn) commit() error {
	if err := x.Commit(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

func (x *txn) rollback() error { return x.Rollback() }

// preparer is the optional ability of a pii.Executor to prepare statements.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}
