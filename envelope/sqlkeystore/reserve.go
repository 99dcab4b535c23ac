package sqlkeystore

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
)

// Reserve implements envelope.KeyStore: one UPDATE ... SET used = used +
// n WHERE ... AND used <= limit - n RETURNING used, atomic in every
// dialect.
//
// On PostgreSQL it commits at once, outside the caller's transaction:
// under pii.WithExecutor with a *sql.Tx (any executor but a *sql.DB or a
// *sql.Conn) it runs on the Store's *sql.DB, so a rollback never returns
// messages that were used; a DEK the transaction inserted and has not
// committed is not visible there (envelope.ErrNotFound), and the Sealer
// makes the next one.
//
// SQLite allows one writer at a time, and the caller's transaction may
// already be it: waiting for it from another connection would wait for
// ourselves. There the reservation joins the caller's transaction, so a
// rollback returns its block to the budget. The messages it counted were
// sealed for that transaction, whose rows roll back with it; a process
// that keeps using the rest of the block afterwards may, with other
// processes on the same file, pass the limit by at most that block
// (Cache.MessageBlock, a 65,536th of the 2^32 cap by default). Processes
// that must never pass it share a PostgreSQL key store.
func (s *Store) Reserve(ctx context.Context, ref envelope.KeyRef, n, limit uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ex := s.ex(ctx)
	switch ex.(type) {
	case *sql.DB, *sql.Conn:
	default: // a transaction
		if s.channel != "" { // PostgreSQL
			ex = s.db
		}
	}
	if n > limit || limit > math.MaxInt64 {
		return 0, envelope.ErrLimit
	}
	var used int64
	err := ex.QueryRowContext(ctx, s.q.reserve, int64(n), string(ref.Kind), ref.Tenant, ref.Scope, int64(ref.ID), int64(limit-n)).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		// Over the limit, or no such row: tell which.
		if _, gerr := s.Get(pii.WithExecutor(ctx, ex), ref); gerr != nil {
			return 0, gerr
		}
		return 0, envelope.ErrLimit
	}
	if err != nil {
		return 0, wrapErr("reserve", err)
	}
	return uint64(used), nil
}
