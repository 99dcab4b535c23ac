package pii

import (
	"context"
	"database/sql"
)

// Executor is what the library's SQL stores read and write through:
// *sql.DB, *sql.Tx and *sql.Conn satisfy it.
type Executor interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Executor = (*sql.DB)(nil)
	_ Executor = (*sql.Tx)(nil)
	_ Executor = (*sql.Conn)(nil)
)

type executorKey struct{}

// WithExecutor returns a context under which every SQL store of the
// library (key store, token store, retention's ledger, holds and tables)
// reads and writes through ex instead of its own *sql.DB. Pass the
// application's *sql.Tx so that the keys, tokens and ledger rows a call
// writes commit or roll back with the application's own rows:
//
//	tx, err := db.BeginTx(ctx, nil)
//	...
//	txctx := pii.WithExecutor(ctx, tx)
//	err = sealer.Seal(txctx, &customer) // a new subject's key is written in tx
//	_, err = tx.ExecContext(txctx, "INSERT INTO customers ...", ...)
//	err = tx.Commit()
//
// ex must be on the same database as the store it reaches.
func WithExecutor(ctx context.Context, ex Executor) context.Context {
	return context.WithValue(ctx, executorKey{}, ex)
}

// ExecutorFrom returns the Executor set by WithExecutor, or def. Stores
// call it; applications rarely need it. ExecutorFrom(ctx, nil) != nil
// says that ctx carries the caller's transaction: rows written under it
// are not committed yet, so a cache must not keep them beyond the call (a
// rollback would leave the cache pointing at a key that does not exist).
func ExecutorFrom(ctx context.Context, def Executor) Executor {
	if ex, ok := ctx.Value(executorKey{}).(Executor); ok && ex != nil {
		return ex
	}
	return def
}
