// This file is in the shape sqlc generates from schema.sql and the
// queries below (sqlc generate, engine sqlite, database/sql): a DBTX, a
// Queries struct and one method per query, with nullable columns as
// sql.NullString. Nothing in it knows about personal data: the columns of
// protected fields hold what guard.Guard.Protect wrote.

package main

import (
	"context"
	"database/sql"
)

const schema = `CREATE TABLE IF NOT EXISTS customers (
	tenant      TEXT NOT NULL,
	id          TEXT NOT NULL,
	name        TEXT,
	email       TEXT,
	email_index TEXT,
	card        TEXT,
	plan        TEXT,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS customers_email_index ON customers (tenant, email_index)`

type DBTX interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

func NewQueries(db DBTX) *Queries { return &Queries{db: db} }

type Queries struct{ db DBTX }

func (q *Queries) WithTx(tx *sql.Tx) *Queries { return &Queries{db: tx} }

type CustomerRow struct {
	Tenant     string
	ID         string
	Name       sql.NullString
	Email      sql.NullString
	EmailIndex sql.NullString
	Card       sql.NullString
	Plan       sql.NullString
}

const createCustomer = `-- name: CreateCustomer :exec
INSERT INTO customers (tenant, id, name, email, email_index, card, plan) VALUES (?, ?, ?, ?, ?, ?, ?)`

type CreateCustomerParams struct {
	Tenant     string
	ID         string
	Name       sql.NullString
	Email      sql.NullString
	EmailIndex sql.NullString
	Card       sql.NullString
	Plan       sql.NullString
}

func (q *Queries) CreateCustomer(ctx context.Context, arg CreateCustomerParams) error {
	_, err := q.db.ExecContext(ctx, createCustomer, arg.Tenant, arg.ID, arg.Name, arg.Email, arg.EmailIndex, arg.Card, arg.Plan)
	return err
}

const getCustomer = `-- name: GetCustomer :one
SELECT tenant, id, name, email, email_index, card, plan FROM customers WHERE tenant = ? AND id = ?`

type GetCustomerParams struct {
	Tenant string
	ID     string
}

func (q *Queries) GetCustomer(ctx context.Context, arg GetCustomerParams) (CustomerRow, error) {
	row := q.db.QueryRowContext(ctx, getCustomer, arg.Tenant, arg.ID)
	var i CustomerRow
	err := row.Scan(&i.Tenant, &i.ID, &i.Name, &i.Email, &i.EmailIndex, &i.Card, &i.Plan)
	return i, err
}

const findCustomersByEmailIndex = `-- name: FindCustomersByEmailIndex :many
SELECT tenant, id, name, email, email_index, card, plan FROM customers WHERE tenant = ? AND email_index = ? ORDER BY id`

type FindCustomersByEmailIndexParams struct {
	Tenant     string
	EmailIndex sql.NullString
}

func (q *Queries) FindCustomersByEmailIndex(ctx context.Context, arg FindCustomersByEmailIndexParams) ([]CustomerRow, error) {
	rows, err := q.db.QueryContext(ctx, findCustomersByEmailIndex, arg.Tenant, arg.EmailIndex)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []CustomerRow
	for rows.Next() {
		var i CustomerRow
		if err := rows.Scan(&i.Tenant, &i.ID, &i.Name, &i.Email, &i.EmailIndex, &i.Card, &i.Plan); err != nil {
			return nil, err
		}
		items = append(items, i)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return items, rows.Err()
}
