// Command sqlcstyle shows code that runs its own queries, here in the
// shape sqlc generates (queries.go), and keeps personal data protected
// with a guard.Guard around them:
//
//	go run ./examples/sqlcstyle
//
// It calls Guard.Protect before writing (in the transaction of the write,
// so the keys and tokens it makes commit with the row), Guard.Open after
// reading (with a permit for the fields a reader may see in clear), and
// Guard.Lookup to find a customer by e-mail through the blind index. The
// generated code is unchanged: a sealed value is bound to its tenant,
// type, field and record, which a per-value driver.Valuer cannot know, so
// the protection happens on the struct, not on the column.
//
// It runs on SQLite in a temporary folder; no server or key is needed.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the database/sql driver

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// Customer is the application's own type; the sqlc rows and parameters
// are converted to and from it.
type Customer struct {
	Tenant     string `pii:"tenant"`
	ID         string `pii:"subject"`
	Name       string `pii:"name,encrypt"`
	Email      string `pii:"email,encrypt,index=EmailIndex"`
	EmailIndex string `pii:"-"`
	Card       string `pii:"card,token=ff1"`
	Plan       string `pii:"-"`
}

func str(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func params(c *Customer) CreateCustomerParams {
	return CreateCustomerParams{Tenant: c.Tenant, ID: c.ID, Name: str(c.Name), Email: str(c.Email),
		EmailIndex: str(c.EmailIndex), Card: str(c.Card), Plan: str(c.Plan)}
}

func customer(r CustomerRow) Customer {
	return Customer{Tenant: r.Tenant, ID: r.ID, Name: r.Name.String, Email: r.Email.String,
		EmailIndex: r.EmailIndex.String, Card: r.Card.String, Plan: r.Plan.String}
}

// billing may see the card in clear; every other token stays a token.
func billing(_ context.Context, f *pii.Field, _ string) error {
	if f.Category == "card" {
		return nil
	}
	return errors.New("billing sees cards only")
}

func main() {
	dir, err := os.MkdirTemp("", "sqlcstyle")
	if err == nil {
		err = run(context.Background(), os.Stdout, dir)
		os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlcstyle:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, dir string) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
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
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return err
	}
	q := NewQueries(db)

	// Write: protect, then the generated INSERT, in one transaction.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	txctx := pii.WithExecutor(ctx, tx)
	for _, c := range []Customer{
		{Tenant: "acme", ID: "c1", Name: "Ada Lovelace", Email: "ada@example.com", Card: "4111111111111111", Plan: "gold"},
		{Tenant: "globex", ID: "c1", Name: "Alan Turing", Email: "ada@example.com", Card: "5555555555554444", Plan: "free"},
	} {
		if err := g.Protect(txctx, &c); err != nil {
			tx.Rollback()
			return err
		}
		if err := q.WithTx(tx).CreateCustomer(txctx, params(&c)); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	var stored string
	if err := db.QueryRowContext(ctx, "SELECT name FROM customers WHERE tenant = 'acme' AND id = 'c1'").Scan(&stored); err != nil {
		return err
	}
	fmt.Fprintln(out, "stored name is sealed:", stored != "Ada Lovelace")

	// Read: the generated SELECT, a check that the row is the one asked
	// for, then Open.
	row, err := q.GetCustomer(ctx, GetCustomerParams{Tenant: "acme", ID: "c1"})
	if err != nil {
		return err
	}
	c := customer(row)
	if c.Tenant != "acme" || c.ID != "c1" {
		return errors.New("the query returned another row than the one asked for")
	}
	if err := g.Open(ctx, &c, nil); err != nil {
		return err
	}
	fmt.Fprintf(out, "opened: %s <%s>, plan %s\n", c.Name, c.Email, c.Plan)
	// A token Open does not reverse is marked as one: "CARD(16):<token>".
	fmt.Fprintln(out, "card without a permit stays a token:", strings.HasPrefix(c.Card, "CARD(16):") && c.Card != "CARD(16):4111111111111111")
	c = customer(row)
	if err := g.Open(ctx, &c, billing); err != nil {
		return err
	}
	fmt.Fprintln(out, "card for billing:", c.Card)

	// Search: the blind index of the address, compared by the generated
	// query within the tenant; each row is checked and opened, and its
	// address compared (a short index can match another value).
	l, err := g.Lookup(ctx, "acme", Customer{}, "Email", "ada@example.com")
	if err != nil {
		return err
	}
	// One index per live search key version (one, outside a rotation of
	// the search keys): a row holds any of them.
	var rows []CustomerRow
	for _, v := range l.Values {
		r, err := q.FindCustomersByEmailIndex(ctx, FindCustomersByEmailIndexParams{Tenant: "acme", EmailIndex: str(v.(string))})
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	for _, r := range rows {
		c := customer(r)
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
