package main

import (
	"context"
	"database/sql"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
)

// guardKeys is the key store the Guard uses (its table, PREFIX+"keys"),
// so the hand loop seals under the same keys.
func guardKeys(db *sql.DB) (envelope.KeyStore, error) {
	return sqlkeystore.New(db, &sqlkeystore.Options{Table: prefix + "keys"})
}

// handLoop is what a programmer writes by hand to seal a table in place:
// a batch of rows in key order per transaction, one Seal over the batch,
// UPDATE each row, COMMIT.
func handLoop(ctx context.Context, db *sql.DB, s *envelope.Sealer, table string, batch int) (int64, error) {
	var done int64
	after := int64(0)
	for {
		conn, err := db.Conn(ctx)
		if err != nil {
			return done, err
		}
		n, last, err := handBatch(ctx, conn, s, table, batch, after)
		conn.Close()
		if err != nil {
			return done, err
		}
		done += int64(n)
		after = last
		if n < batch {
			return done, nil
		}
	}
}

func handBatch(ctx context.Context, conn *sql.Conn, s *envelope.Sealer, table string, batch int, after int64) (int, int64, error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, 0, err
	}
	commit := false
	defer func() {
		if !commit {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	rows, err := conn.QueryContext(ctx, "SELECT id, name, email, phone, address FROM "+table+" WHERE id > ? ORDER BY id LIMIT ?", after, batch)
	if err != nil {
		return 0, 0, err
	}
	var cs []Customer
	for rows.Next() {
		var c Customer
		if err := rows.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &c.Address); err != nil {
			rows.Close()
			return 0, 0, err
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	up, err := conn.PrepareContext(ctx, "UPDATE "+table+" SET name = ?, email = ?, email_index = ?, phone = ?, address = ? WHERE id = ?")
	if err != nil {
		return 0, 0, err
	}
	defer up.Close()
	if err := s.Seal(pii.WithExecutor(ctx, conn), cs); err != nil {
		return 0, 0, err
	}
	for i := range cs {
		c := &cs[i]
		if _, err := up.ExecContext(ctx, c.Name, c.Email, c.EmailIndex, c.Phone, c.Address, c.ID); err != nil {
			return 0, 0, err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, 0, err
	}
	commit = true
	var last int64
	if len(cs) > 0 {
		last = cs[len(cs)-1].ID
	}
	return len(cs), last, nil
}
