// Command pgx shows code on pgx's native interface (a pgxpool.Pool, pgx
// rows collected into structs by their `db` tags) keeping personal data
// protected with a guard.Guard around its own queries:
//
//	PII_POSTGRES_URL=postgres://user:pass@localhost:5432/db go run ./examples/pgx
//
// The Guard takes a *sql.DB: stdlib.OpenDBFromPool gives one over the same
// pool. Guard.Protect runs before the INSERT, Guard.Open after the SELECT,
// and Guard.Lookup gives the blind index to search by e-mail. The keys and
// tokens Protect makes are written through that *sql.DB: pgx.Tx is not a
// database/sql transaction, so they commit on their own (a rolled-back
// write leaves an unused key, nothing readable). Code that wants them in
// its transaction uses database/sql and pii.WithExecutor, as
// examples/sqlcstyle does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// Customer is read and written by pgx through its `db` tags and protected
// by the Guard through its `pii` tags.
type Customer struct {
	Tenant     string `db:"tenant" pii:"tenant"`
	ID         string `db:"id" pii:"subject"`
	Name       string `db:"name" pii:"name,encrypt"`
	Email      string `db:"email" pii:"email,encrypt,index=EmailIndex"`
	EmailIndex string `db:"email_index" pii:"-"`
	Card       string `db:"card" pii:"card,token=ff1"`
	Plan       string `db:"plan" pii:"-"`
}

const schema = `CREATE TABLE IF NOT EXISTS customers (
	tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
	email_index TEXT NOT NULL, card TEXT NOT NULL, plan TEXT NOT NULL,
	PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS customers_email_index ON customers (tenant, email_index)`

// billing may see the card in clear; every other token stays a token.
func billing(_ context.Context, f *pii.Field, _ string) error {
	if f.Category == "card" {
		return nil
	}
	return errors.New("billing sees cards only")
}

func main() {
	url := os.Getenv("PII_POSTGRES_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "pgx: set PII_POSTGRES_URL to a PostgreSQL database")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "pgx-example")
	if err == nil {
		err = run(context.Background(), os.Stdout, url, dir)
		os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgx:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, url, dir string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// A master key made for this run. Real ones come from
	// local.MasterKeyFromEnv or a KMS: never hard-code one.
	master, err := local.GenerateMasterKey()
	if err != nil {
		return err
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	clear(master)
	if err != nil {
		return err
	}
	g, err := guard.New(kp, db, nil)
	if err != nil {
		return err
	}
	if err := g.CreateTables(ctx); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		return err
	}

	for _, c := range []Customer{
		{Tenant: "acme", ID: "c1", Name: "Ada Lovelace", Email: "ada@example.com", Card: "4111111111111111", Plan: "gold"},
		{Tenant: "globex", ID: "c1", Name: "Alan Turing", Email: "ada@example.com", Card: "5555555555554444", Plan: "free"},
	} {
		if err := g.Protect(ctx, &c); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `INSERT INTO customers (tenant, id, name, email, email_index, card, plan)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.Tenant, c.ID, c.Name, c.Email, c.EmailIndex, c.Card, c.Plan); err != nil {
			return err
		}
	}
	var stored string
	if err := pool.QueryRow(ctx, "SELECT name FROM customers WHERE tenant = 'acme' AND id = 'c1'").Scan(&stored); err != nil {
		return err
	}
	fmt.Fprintln(out, "stored name is sealed:", stored != "Ada Lovelace")

	// Read: collect the row by its db tags, check it is the one asked
	// for, open it with the permit of the reader.
	rows, err := pool.Query(ctx, "SELECT * FROM customers WHERE tenant = $1 AND id = $2", "acme", "c1")
	if err != nil {
		return err
	}
	c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Customer])
	if err != nil {
		return err
	}
	if c.Tenant != "acme" || c.ID != "c1" {
		return errors.New("the query returned another row than the one asked for")
	}
	if err := g.Open(ctx, &c, billing); err != nil {
		return err
	}
	fmt.Fprintf(out, "opened for billing: %s <%s>, card %s\n", c.Name, c.Email, c.Card)

	// Search by e-mail within acme through the blind index; check each
	// row's tenant, open it and compare the address.
	l, err := g.Lookup(ctx, "acme", Customer{}, "Email", "ada@example.com")
	if err != nil {
		return err
	}
	// One index per live search key version (one, outside a rotation of
	// the search keys): a row holds any of them.
	idx := make([]string, len(l.Values))
	for i, v := range l.Values {
		idx[i] = v.(string)
	}
	rows, err = pool.Query(ctx, "SELECT * FROM customers WHERE tenant = $1 AND email_index = ANY($2) ORDER BY id", "acme", idx)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[Customer])
	if err != nil {
		return err
	}
	for _, c := range found {
		if c.Tenant != "acme" {
			return errors.New("the query returned a row of another tenant")
		}
		if err := g.Open(ctx, &c, nil); err != nil {
			return err
		}
		if c.Email == "ada@example.com" {
			fmt.Fprintf(out, "found by e-mail in acme: %s (%s)\n", c.ID, c.Name)
		}
	}
	return nil
}
