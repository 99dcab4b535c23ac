package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/sqltokenstore"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Example ledger key: never hard-code keys in production. Keep the ledger
// key as long as the ledger: Replay needs it to find restored records.
var ledgerKey = []byte("examples/forget ledger key, 32 B")

type fixedClock struct{}

func (fixedClock) Now() time.Time { return now }

// world is what outlives a restore: the keyset (the KEK lives in a KMS or
// its own file, not in the databases), the tokenizer's root key and the
// off-site ledger.
type world struct {
	dir     string
	kp      *local.Provider
	root    []byte
	ledger  *sql.DB
	offsite *sqlstore.Ledger
}

func newWorld(dir string) (*world, error) {
	// The keyset and the databases belong together: start from nothing
	// rather than mix a new keyset with old data.
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("working folder %s is not empty; give a new or empty folder", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "backups"), 0o700); err != nil {
		return nil, err
	}
	// A fresh master key for this run. In production it comes from the
	// environment or a key file (local.MasterKeyFromEnv), never from code.
	master, err := local.GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	clear(master)
	if err != nil {
		return nil, err
	}
	// The tokenizer's root key; in production wrap it with the KEK and
	// load it with tokenize.NewFromProvider.
	w := &world{dir: dir, kp: kp, root: tokenize.GenerateRootKey()}
	if w.ledger, err = openSQLite(filepath.Join(dir, "ledger.db")); err != nil {
		return nil, err
	}
	if w.offsite, err = sqlstore.NewLedger(w.ledger, nil); err != nil {
		return nil, err
	}
	if err := w.offsite.CreateTables(context.Background()); err != nil {
		return nil, err
	}
	return w, nil
}

func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// app is the running application: its databases and the library objects
// over them, rebuilt after a restore as a restarted service would.
type app struct {
	w             *world
	shop, secrets *sql.DB
	schema        *pii.Schema
	sealer        *envelope.Sealer
	tok           *tokenize.Tokenizer
	tokens        *tokenDeleter
	mgr           *retention.Manager
}

const customerTable = `CREATE TABLE IF NOT EXISTS customer (
	id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, plan TEXT,
	last_seen TIMESTAMP, created_at TIMESTAMP NOT NULL)`

func (w *world) open(ctx context.Context) (a *app, err error) {
	a = &app{w: w}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.shop, err = openSQLite(filepath.Join(w.dir, "shop.db")); err != nil {
		return nil, err
	}
	if a.secrets, err = openSQLite(filepath.Join(w.dir, "secrets.db")); err != nil {
		return nil, err
	}
	if _, err = a.shop.ExecContext(ctx, customerTable); err != nil {
		return nil, err
	}
	if a.schema, err = pii.SchemaOf(&Customer{}); err != nil {
		return nil, err
	}
	keys, err := sqlkeystore.New(a.secrets, nil)
	if err != nil {
		return nil, err
	}
	if err = keys.CreateTables(ctx); err != nil {
		return nil, err
	}
	if a.sealer, err = envelope.New(w.kp, &envelope.Options{Store: keys}); err != nil {
		return nil, err
	}
	tokens, err := sqltokenstore.New(a.secrets, nil)
	if err != nil {
		return nil, err
	}
	if err = tokens.CreateTables(ctx); err != nil {
		return nil, err
	}
	if a.tok, err = tokenize.New(w.root, &tokenize.Options{Store: tokens, Clock: fixedClock{}}); err != nil {
		return nil, err
	}
	a.tokens = &tokenDeleter{t: a.tok}
	table, err := sqlstore.New(a.shop, &Customer{}, nil)
	if err != nil {
		return nil, err
	}
	ledger, err := sqlstore.NewLedger(a.shop, nil) // the one table appends to
	if err != nil {
		return nil, err
	}
	if err := ledger.CreateTables(ctx); err != nil {
		return nil, err
	}
	a.mgr, err = retention.New(&retention.Options{Holds: retention.NewMemoryHolds(),
		Clock: fixedClock{}, LedgerKey: ledgerKey,
		Shredder: a.sealer, Tokens: a.tokens, Ledger: ledger,
	})
	if err != nil {
		return nil, err
	}
	if err = a.mgr.Register(table); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *app) close() error {
	var errs []error
	for _, db := range []*sql.DB{a.shop, a.secrets} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	a.shop, a.secrets = nil, nil
	return errors.Join(errs...)
}

// tokenDeleter is the Tokenizer as a retention.TokenDeleter, counting
// what it deletes so the example can show it. (A *tokenize.Tokenizer can
// be passed to retention.Options.Tokens as it is.)
type tokenDeleter struct {
	t       *tokenize.Tokenizer
	deleted int64
}

func (d *tokenDeleter) DeleteSubject(ctx context.Context, tenant, subject string) (int64, error) {
	n, err := d.t.DeleteSubject(ctx, tenant, subject)
	d.deleted += n
	return n, err
}

// seed tokenizes and seals the customers and stores them.
func (a *app) seed(ctx context.Context) error {
	for i := range customers {
		c := customers[i]
		c.CreatedAt = now.AddDate(-2, 0, -10*i)
		c.LastSeen = now.AddDate(0, -i, 0)
		if err := a.tok.Apply(ctx, &c); err != nil {
			return err
		}
		if err := a.sealer.Seal(ctx, &c); err != nil {
			return err
		}
		if _, err := a.shop.ExecContext(ctx,
			`INSERT INTO customer (id, name, email, phone, plan, last_seen, created_at) VALUES (?,?,?,?,?,?,?)`,
			c.ID, c.Name, c.Email, c.Phone, c.Plan, c.LastSeen, c.CreatedAt); err != nil {
			return err
		}
	}
	return nil
}

// rows reads the stored customers as they are, sealed and tokenized.
func (a *app) rows(ctx context.Context, db *sql.DB) ([]Customer, error) {
	rs, err := db.QueryContext(ctx, `SELECT id, name, email, phone, plan FROM customer ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Customer
	for rs.Next() {
		var c Customer
		var name, email, phone, plan sql.NullString
		if err := rs.Scan(&c.ID, &name, &email, &phone, &plan); err != nil {
			return nil, err
		}
		c.Name, c.Email, c.Phone, c.Plan = name.String, email.String, phone.String, plan.String
		out = append(out, c)
	}
	return out, rs.Err()
}

func (a *app) raw(ctx context.Context, db *sql.DB, id string) (Customer, error) {
	cs, err := a.rows(ctx, db)
	if err != nil {
		return Customer{}, err
	}
	for _, c := range cs {
		if c.ID == id {
			return c, nil
		}
	}
	return Customer{}, fmt.Errorf("no customer %s", id)
}

// allow is the support tool's permission check for detokenizing; in this
// example everyone may.
func allow(context.Context, *pii.Field, string) error { return nil }

// openField decrypts one sealed field of a stored customer, so the table
// can show each field's fate on its own.
func (a *app) openField(ctx context.Context, c Customer, path, v string) string {
	if v == "" {
		return "NULL"
	}
	plain, err := a.sealer.DecryptString(ctx, v, envelope.Binding{
		Type: a.schema.Name, Field: path, Record: c.ID, Subject: c.ID,
	})
	switch {
	case errors.Is(err, envelope.ErrShredded):
		return "(key shredded)"
	case err != nil:
		return "(error: " + err.Error() + ")"
	}
	return plain
}

func (a *app) openPhone(ctx context.Context, c Customer) string {
	if c.Phone == "" {
		return "NULL"
	}
	cp := Customer{ID: c.ID, Phone: c.Phone}
	err := a.tok.Reverse(ctx, &cp, allow)
	switch {
	case errors.Is(err, tokenize.ErrNotFound):
		return "(token deleted)"
	case err != nil:
		return "(error: " + err.Error() + ")"
	}
	return cp.Phone
}

func (a *app) printCustomers(ctx context.Context, out io.Writer, db *sql.DB) error {
	cs, err := a.rows(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   ID\tNAME\tEMAIL\tPHONE\tPLAN")
	for _, c := range cs {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", c.ID, a.openField(ctx, c, "Name", c.Name),
			a.openField(ctx, c, "Email", c.Email), a.openPhone(ctx, c), c.Plan)
	}
	return tw.Flush()
}

// checkOthers opens every customer but the forgotten one with the
// struct-level API and compares them with what was stored.
func (a *app) checkOthers(ctx context.Context) error {
	cs, err := a.rows(ctx, a.shop)
	if err != nil {
		return err
	}
	if len(cs) != len(customers) {
		return fmt.Errorf("%d customers stored, want %d", len(cs), len(customers))
	}
	for i, c := range cs {
		if c.ID == subject {
			continue
		}
		if err := a.sealer.Open(ctx, &c); err != nil {
			return err
		}
		if err := a.tok.Reverse(ctx, &c, allow); err != nil {
			return err
		}
		want := customers[i]
		if c.Name != want.Name || c.Email != want.Email || c.Phone != want.Phone || c.Plan != want.Plan {
			return fmt.Errorf("customer %s changed", c.ID)
		}
	}
	return nil
}

// backup takes a consistent online copy of both databases.
func (a *app) backup(ctx context.Context) error {
	for _, name := range []string{"shop", "secrets"} {
		db := a.shop
		if name == "secrets" {
			db = a.secrets
		}
		if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, filepath.Join(a.w.dir, "backups", name+".db")); err != nil {
			return fmt.Errorf("backup %s.db: %w", name, err)
		}
	}
	return nil
}

// restore copies the backups over the live databases (the application is
// stopped).
func (w *world) restore() error {
	for _, name := range []string{"shop.db", "secrets.db"} {
		b, err := os.ReadFile(filepath.Join(w.dir, "backups", name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(w.dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ledgerLeaks searches the bytes of the ledger database for the forgotten
// customer's id and values.
func (w *world) ledgerLeaks() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(w.dir, "ledger.db"))
	if err != nil {
		return nil, err
	}
	var leaks []string
	for _, c := range customers {
		if c.ID != subject {
			continue
		}
		for _, v := range []string{c.ID, c.Name, c.Email, c.Phone} {
			if bytes.Contains(b, []byte(v)) {
				leaks = append(leaks, v)
			}
		}
	}
	return leaks, nil
}
