package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The data-key table: every row is one data key wrapped by the KMS, bound
// to its row through associated data, with a key check value to prove later
// that it still unwraps to the same key. No plaintext key is stored.
//
//	kr_data_keys(id, wrapped, kek, kcv)

func (r *runner) createDataKeyTable(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS kr_data_keys (
		id BIGINT PRIMARY KEY,
		wrapped `+r.db.blob()+` NOT NULL,
		kek TEXT NOT NULL,
		kcv `+r.db.blob()+` NOT NULL)`)
	if err != nil {
		return fmt.Errorf("database: create tables: %s", firstLine(err.Error()))
	}
	return nil
}

// dataKeyAD binds a wrapped data key to its row: moved to another row, it
// does not unwrap.
func dataKeyAD(id int64) []byte {
	return []byte("fieldguard.pii/examples/keyrotation data key\x00id=" + strconv.FormatInt(id, 10))
}

func dataKeyKCV(key []byte, id int64) []byte { return kcv(key, "data key "+strconv.FormatInt(id, 10)) }

// seedDataKeys wraps data keys until the table holds n, in transactions of
// seedBatch rows; a crash loses at most the open transaction.
func (r *runner) seedDataKeys(ctx context.Context, n int64) (int64, error) {
	var have int64
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM kr_data_keys`).Scan(&have); err != nil {
		return 0, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	bar := r.bar(n, "wrapping data keys")
	defer bar.done()
	bar.add(have)
	const seedBatch = 500
	for id := have + 1; id <= n; {
		start, end := id, min(id+seedBatch-1, n)
		err := r.db.inTx(ctx, func(tx *sql.Tx) error {
			for ; id <= end; id++ {
				key := make([]byte, 32)
				if _, err := rand.Read(key); err != nil {
					return err
				}
				w, kek, err := r.kms.Wrap(ctx, key, dataKeyAD(id))
				if err != nil {
					return fmt.Errorf("wrap data key %d: %w", id, err)
				}
				check := dataKeyKCV(key, id)
				clear(key)
				if _, err := tx.ExecContext(ctx, r.db.q(`INSERT INTO kr_data_keys (id, wrapped, kek, kcv) VALUES (?, ?, ?, ?)`),
					id, w, kek.Version, check); err != nil {
					return fmt.Errorf("database: insert: %s", firstLine(err.Error()))
				}
			}
			return nil
		})
		if err != nil {
			return start - 1 - have, err
		}
		bar.add(end - start + 1)
	}
	return n - have, nil
}

// rewrapDataKeys moves every data key to version target in batches. For
// each key: unwrap under the old version, wrap under the primary (which
// must be target), unwrap the new wrap and compare, and only then replace
// the row, compare-and-swap on the old wrapped bytes. Each batch and the
// cursor that records it commit in one transaction, so after a crash
// --resume continues at the first batch not committed, and a row already
// under target is skipped.
func (r *runner) rewrapDataKeys(ctx context.Context, target string, total int64) (rewrapped, skipped int64, err error) {
	cursor, err := r.db.getInt(ctx, r.db, "rewrap_cursor")
	if err != nil {
		return 0, 0, err
	}
	var before int64
	if err := r.db.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM kr_data_keys WHERE id <= ?`), cursor).Scan(&before); err != nil {
		return 0, 0, fmt.Errorf("database: %s", firstLine(err.Error()))
	}
	bar := r.bar(total, "rewrapping data keys")
	defer bar.done()
	bar.add(before)
	type change struct {
		id       int64
		old, new []byte
	}
	for {
		rows, err := r.db.QueryContext(ctx, r.db.q(`SELECT id, wrapped, kek FROM kr_data_keys WHERE id > ? ORDER BY id LIMIT ?`), cursor, r.cfg.batch)
		if err != nil {
			return rewrapped, skipped, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		var batch []change
		last := cursor
		n := 0
		for rows.Next() {
			var c change
			var kek string
			if err := rows.Scan(&c.id, &c.old, &kek); err != nil {
				rows.Close()
				return rewrapped, skipped, fmt.Errorf("database: %s", firstLine(err.Error()))
			}
			last, n = c.id, n+1
			if kek == target {
				skipped++
				continue
			}
			batch = append(batch, c)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return rewrapped, skipped, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		rows.Close()
		if n == 0 {
			return rewrapped, skipped, nil
		}
		for i := range batch {
			c := &batch[i]
			ad := dataKeyAD(c.id)
			key, err := r.kms.Unwrap(ctx, c.old, ad)
			if err != nil {
				return rewrapped, skipped, fmt.Errorf("rewrap data key %d: unwrap: %w", c.id, err)
			}
			w, kek, err := r.kms.Wrap(ctx, key, ad)
			if err != nil {
				clear(key)
				return rewrapped, skipped, fmt.Errorf("rewrap data key %d: wrap: %w", c.id, err)
			}
			if kek.Version != target {
				clear(key)
				return rewrapped, skipped, fmt.Errorf("rewrap data key %d: wrapped under version %s, want %s (was the primary changed during the rewrap?)", c.id, kek.Version, target)
			}
			back, err := r.kms.Unwrap(ctx, w, ad)
			same := err == nil && bytes.Equal(back, key)
			clear(key)
			clear(back)
			if !same {
				return rewrapped, skipped, fmt.Errorf("rewrap data key %d: the new wrap does not unwrap to the same key; old wrap kept", c.id)
			}
			c.new = w
		}
		err = r.db.inTx(ctx, func(tx *sql.Tx) error {
			for _, c := range batch {
				res, err := tx.ExecContext(ctx, r.db.q(`UPDATE kr_data_keys SET wrapped = ?, kek = ? WHERE id = ? AND wrapped = ?`), c.new, target, c.id, c.old)
				if err != nil {
					return fmt.Errorf("database: update: %s", firstLine(err.Error()))
				}
				if n, err := res.RowsAffected(); err != nil || n != 1 {
					return fmt.Errorf("rewrap data key %d: changed by someone else during the rewrap; run again with --resume", c.id)
				}
			}
			if err := r.db.setInt(ctx, tx, "rewrap_cursor", last); err != nil {
				return err
			}
			done, err := r.db.getInt(ctx, tx, "rewrapped_total")
			if err != nil {
				return err
			}
			return r.db.setInt(ctx, tx, "rewrapped_total", done+int64(len(batch)))
		})
		if err != nil {
			return rewrapped, skipped, err
		}
		cursor = last
		rewrapped += int64(len(batch))
		bar.add(int64(n))
		if r.cfg.batchDelay > 0 {
			select {
			case <-ctx.Done():
				return rewrapped, skipped, ctx.Err()
			case <-time.After(r.cfg.batchDelay):
			}
		}
	}
}

// verifyDataKeys unwraps every data key and checks it against its key
// check value, and that every key is under version target.
func (r *runner) verifyDataKeys(ctx context.Context, target string, total int64) (ok, bad, stale int64, err error) {
	bar := r.bar(total, "verifying data keys")
	defer bar.done()
	var after int64
	for {
		rows, err := r.db.QueryContext(ctx, r.db.q(`SELECT id, wrapped, kek, kcv FROM kr_data_keys WHERE id > ? ORDER BY id LIMIT ?`), after, 1000)
		if err != nil {
			return ok, bad, stale, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		n := 0
		for rows.Next() {
			var id int64
			var w, check []byte
			var kek string
			if err := rows.Scan(&id, &w, &kek, &check); err != nil {
				rows.Close()
				return ok, bad, stale, fmt.Errorf("database: %s", firstLine(err.Error()))
			}
			after, n = id, n+1
			if kek != target {
				stale++
			}
			key, err := r.kms.Unwrap(ctx, w, dataKeyAD(id))
			switch {
			case err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
				rows.Close()
				return ok, bad, stale, err
			case err == nil && hmac.Equal(dataKeyKCV(key, id), check):
				ok++
			default:
				bad++
			}
			clear(key)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return ok, bad, stale, fmt.Errorf("database: %s", firstLine(err.Error()))
		}
		if n == 0 {
			return ok, bad, stale, nil
		}
		bar.add(int64(n))
	}
}
