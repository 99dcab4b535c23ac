package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/tokenize"
)

// Customer is one imported customer: a data subject with its own data
// key; name, e-mail and date of birth sealed, phone and card tokenized.
type Customer struct {
	Seq    int64  `db:"seq" pii:"-"`
	ID     string `db:"id" pii:"subject"`
	Tenant string `db:"tenant" pii:"tenant"`
	Name   string `db:"name" pii:"name,encrypt"`
	Email  string `db:"email" pii:"email,encrypt"`
	DOB    string `db:"dob" pii:"dob,encrypt"`
	Phone  string `db:"phone" pii:"phone,token=ff1"`
	Card   string `db:"card" pii:"card,token=ff1"`
}

const (
	tenant         = "eu"
	plainTable     = "bulkload_plain"
	protectedTable = "bulkload_protected"
	keysTable      = "bulkload_keys"
	guardPrefix    = "bulkload_pii_"
	cols           = "seq, id, tenant, name, email, dob, phone, card"
)

var (
	firstNames = []string{"Ada", "Amara", "Arjun", "Beatriz", "Chen", "Dmitri", "Elif", "Fatima", "Grace", "Hana", "Ines", "Jamal", "Kenji", "Lena", "Mateo", "Nora", "Omar", "Priya", "Sofia", "Zoe"}
	lastNames  = []string{"Adeyemi", "Bauer", "Costa", "Dubois", "García", "Haddad", "Ivanova", "Kowalski", "Li", "Moreau", "Nakamura", "O'Brien", "Patel", "Rossi", "Schmidt", "Tanaka", "Wang", "Yilmaz"}
	usAreas    = []string{"212", "303", "312", "415", "503", "617", "702", "713", "206", "404"}
)

// synthCustomer returns customer seq (from 1); the same seq always gives
// the same customer, so the read process can check what it reads.
func synthCustomer(seq int64) Customer {
	rng := rand.New(rand.NewPCG(18, uint64(seq)))
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	c := Customer{
		Seq: seq, ID: fmt.Sprintf("cust-%07d", seq), Tenant: tenant,
		Name:  first + " " + last,
		Email: strings.ToLower(first) + fmt.Sprint(seq) + "@example.com",
		DOB:   time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365*65)).Format(time.DateOnly),
	}
	for { // a number libphonenumber takes as valid, so the phone format tokenizes it
		c.Phone = fmt.Sprintf("+1%s%03d%04d", usAreas[rng.IntN(len(usAreas))], 200+rng.IntN(800), rng.IntN(10_000))
		if n, err := phonenumbers.Parse(c.Phone, "ZZ"); err == nil && phonenumbers.IsValidNumber(n) {
			break
		}
	}
	d := make([]byte, 16) // a Visa-style number with a valid check digit
	d[0] = 4
	for i := 1; i < 15; i++ {
		d[i] = byte(rng.IntN(10))
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := int(d[i])
		if (14-i)%2 == 0 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = byte((10 - sum%10) % 10)
	for i := range d {
		d[i] += '0'
	}
	c.Card = string(d)
	return c
}

func args(c *Customer) []any {
	return []any{c.Seq, c.ID, c.Tenant, c.Name, c.Email, c.DOB, c.Phone, c.Card}
}

// insertRows inserts rows into table with one multi-row INSERT.
func insertRows(ctx context.Context, ex pii.Executor, d sqldialect.Dialect, table string, rows []Customer) error {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	all := make([]any, 0, 8*len(rows))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		all = append(all, args(&rows[i])...)
	}
	_, err := ex.ExecContext(ctx, d.Rebind(b.String()), all...)
	return err
}

// selectPage reads up to n rows of table after seq lo.
func selectPage(ctx context.Context, db *sql.DB, d sqldialect.Dialect, table string, lo int64, n int) ([]Customer, error) {
	rows, err := db.QueryContext(ctx, d.Rebind("SELECT "+cols+" FROM "+table+" WHERE seq > ? ORDER BY seq LIMIT ?"), lo, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]Customer, 0, n)
	for rows.Next() {
		var c Customer
		if err := rows.Scan(&c.Seq, &c.ID, &c.Tenant, &c.Name, &c.Email, &c.DOB, &c.Phone, &c.Card); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func createTable(ctx context.Context, db *sql.DB, table string) error {
	_, err := db.ExecContext(ctx, "CREATE TABLE "+table+` (
		seq BIGINT PRIMARY KEY, id TEXT NOT NULL, tenant TEXT NOT NULL,
		name TEXT NOT NULL, email TEXT NOT NULL, dob TEXT NOT NULL, phone TEXT NOT NULL, card TEXT NOT NULL)`)
	return err
}

// writer inserts batches of plaintext and of protected rows.
type writer struct {
	db              *sql.DB
	d               sqldialect.Dialect
	insertProtected func(ctx context.Context, tx *sql.Tx, rows []Customer) error
	tables          []string // dropped at the end
	// Where the protected inserts' time goes (-via envelope only).
	tokenize, seal, insert time.Duration
}

func (w *writer) insertPlain(ctx context.Context, tx *sql.Tx, rows []Customer) error {
	return insertRows(ctx, tx, w.d, plainTable, rows)
}

func (w *writer) drop(ctx context.Context) {
	for _, t := range w.tables {
		w.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t)
	}
}

func guardTables() []string {
	var out []string
	for _, t := range []string{"keys", "tokens", "ledger", "holds", "pending_shreds", "audit", "rotation"} {
		out = append(out, guardPrefix+t)
	}
	return out
}

func newWriter(ctx context.Context, via string, db *sql.DB, d sqldialect.Dialect, kp keyprovider.KeyProvider) (*writer, error) {
	w := &writer{db: db, d: d, tables: append([]string{plainTable, protectedTable, keysTable}, guardTables()...)}
	w.drop(ctx)
	if err := createTable(ctx, db, plainTable); err != nil {
		return nil, err
	}
	if via == "guard" {
		g, err := guard.New(kp, db, &guard.Options{Dialect: d.Public(), Prefix: guardPrefix})
		if err != nil {
			return nil, err
		}
		t, err := guard.NewTable[Customer](g, &guard.TableOptions{Table: protectedTable})
		if err != nil {
			return nil, err
		}
		if err := g.CreateTables(ctx); err != nil {
			return nil, err
		}
		// The Table's key is (tenant, id); the pages are read by seq within
		// the tenant (Query adds the tenant), so (tenant, seq) gets the
		// index an application would give what it pages by (without it
		// every page scans the table, and the read grows with the square
		// of the rows).
		if _, err := db.ExecContext(ctx, "CREATE INDEX "+protectedTable+"_seq ON "+protectedTable+" (tenant, seq)"); err != nil {
			return nil, err
		}
		w.insertProtected = func(ctx context.Context, tx *sql.Tx, rows []Customer) error {
			return t.InsertMany(pii.WithExecutor(ctx, tx), rows)
		}
		return w, nil
	}
	if err := createTable(ctx, db, protectedTable); err != nil {
		return nil, err
	}
	s, err := newSealer(ctx, db, d, kp, true)
	if err != nil {
		return nil, err
	}
	tok, err := tokenize.New(tokenize.GenerateRootKey(), nil)
	if err != nil {
		return nil, err
	}
	w.insertProtected = func(ctx context.Context, tx *sql.Tx, rows []Customer) error {
		ctx = pii.WithExecutor(ctx, tx) // the subjects' keys commit with their rows
		t0 := time.Now()
		for i := range rows {
			if err := tok.Apply(ctx, &rows[i]); err != nil {
				return err
			}
		}
		t1 := time.Now()
		if err := s.Seal(ctx, rows); err != nil {
			return err
		}
		t2 := time.Now()
		err := insertRows(ctx, tx, d, protectedTable, rows)
		w.tokenize, w.seal, w.insert = w.tokenize+t1.Sub(t0), w.seal+t2.Sub(t1), w.insert+time.Since(t2)
		return err
	}
	return w, nil
}

func newSealer(ctx context.Context, db *sql.DB, d sqldialect.Dialect, kp keyprovider.KeyProvider, create bool) (*envelope.Sealer, error) {
	ks, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d.Public(), Table: keysTable})
	if err != nil {
		return nil, err
	}
	if create {
		if err := ks.CreateTables(ctx); err != nil {
			return nil, err
		}
	}
	return envelope.New(kp, &envelope.Options{Store: ks})
}

// reader reads pages of plaintext or protected rows, opened.
type reader struct {
	page func(ctx context.Context, protected bool, lo int64, n int) ([]Customer, error)
}

func newReader(ctx context.Context, via string, db *sql.DB, d sqldialect.Dialect, kp keyprovider.KeyProvider) (*reader, error) {
	plain := func(ctx context.Context, lo int64, n int) ([]Customer, error) {
		return selectPage(ctx, db, d, plainTable, lo, n)
	}
	if via == "guard" {
		g, err := guard.New(kp, db, &guard.Options{Dialect: d.Public(), Prefix: guardPrefix})
		if err != nil {
			return nil, err
		}
		t, err := guard.NewTable[Customer](g, &guard.TableOptions{Table: protectedTable})
		if err != nil {
			return nil, err
		}
		return &reader{page: func(ctx context.Context, protected bool, lo int64, n int) ([]Customer, error) {
			if !protected {
				return plain(ctx, lo, n)
			}
			return t.Query(ctx, tenant, "seq > ? AND seq <= ?", lo, lo+int64(n))
		}}, nil
	}
	s, err := newSealer(ctx, db, d, kp, false)
	if err != nil {
		return nil, err
	}
	return &reader{page: func(ctx context.Context, protected bool, lo int64, n int) ([]Customer, error) {
		if !protected {
			return plain(ctx, lo, n)
		}
		page, err := selectPage(ctx, db, d, protectedTable, lo, n)
		if err != nil {
			return nil, err
		}
		return page, s.Open(ctx, page)
	}}, nil
}
