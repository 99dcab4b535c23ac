// Command shop writes a small shop's data through guard, in SQLite or
// PostgreSQL: the database the pii command works on in the README's
// operator session.
//
//	pii keys create --kms local:///tmp/shop/keyset.json   # PII_MASTER_KEY set
//	go run ./examples/shop --kms local:///tmp/shop/keyset.json --db sqlite:/tmp/shop/shop.db
//
// Customers and orders are written with guard.NewTable: sealed, tokenized
// and indexed as their pii tags say. Newsletter subscribers are written in
// clear with plain SQL, as the shop's first version did: their table is
// registered with AcceptPlaintext, and pii migrate --table subscribers seals
// it in place. Orders are placed one every 45 days back from now, so a
// retention sweep finds the old ones due. The pii command reads these types
// from this file (pii verify --pkg ./examples/shop) and the tables from the
// NewTable calls below.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
	_ "github.com/fieldguard/pii/keyprovider/local" // registers local:// key URIs
)

// Customer is a customer of the shop.
type Customer struct {
	Tenant     string    `pii:"tenant"`
	ID         string    `pii:"subject"`
	Name       string    `pii:"name,encrypt,mask=initials,purpose=orders,basis=contract"`
	Email      string    `pii:"email,encrypt,index=EmailIndex,mask=email,purpose=orders,basis=contract"`
	EmailIndex string    `pii:"-"`
	Phone      string    `pii:"phone,token=ff1,mask=phone,purpose=delivery,basis=contract"`
	Plan       string    `pii:"-"`
	CreatedAt  time.Time `pii:"-"`
}

// Order is one order. The delivery address is kept a year after the order
// and the card number 13 months; the invoice ten years, and at least six
// (tax law): an erasure request leaves it, sealed, until then.
type Order struct {
	Tenant   string    `pii:"tenant"`
	ID       string    `pii:"id"`
	Customer string    `pii:"subject"`
	Address  string    `pii:"address,encrypt,retain=1y,from=PlacedAt,then=null,purpose=delivery,basis=contract"`
	Card     string    `pii:"card,token=ff1,mask=card,retain=13m,from=PlacedAt,then=null,purpose=payment,basis=contract"`
	Invoice  string    `pii:"financial,encrypt,retain=10y,min=6y,from=PlacedAt,then=null,purpose=accounting,basis=legal_obligation"`
	Total    int64     `pii:"-"`
	PlacedAt time.Time `pii:"-"`
}

// Subscriber is a newsletter subscription, written in clear by the shop's
// first version.
type Subscriber struct {
	Tenant string    `pii:"tenant"`
	ID     string    `pii:"id"`
	Owner  string    `pii:"subject"`
	Email  string    `pii:"email,encrypt,purpose=newsletter,basis=consent"`
	Since  time.Time `pii:"-"`
}

func init() {
	// The name Order was sealed under: it binds every sealed value, so it
	// must survive a rename of the Go type.
	if err := pii.Register(Order{}, "shop.Order"); err != nil {
		panic(err)
	}
}

var tenants = []string{"acme", "globex"}

var names = []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov",
	"Donald Knuth", "Frances Allen", "Ken Thompson", "Margaret Hamilton", "Dennis Ritchie"}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kms := fs.String("kms", os.Getenv("PII_KMS"), "key URI (local://PATH with PII_MASTER_KEY set) [env PII_KMS]")
	dsn := fs.String("db", os.Getenv("PII_DB"), "sqlite:PATH or a postgres:// URL [env PII_DB]")
	customers := fs.Int("customers", 10, "customers to write (each with two orders and a subscription)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *kms == "" || *dsn == "" || *customers < 1 {
		fmt.Fprintln(stderr, "shop: --kms, --db and --customers (at least 1) are required")
		return 2
	}
	n, err := write(ctx, *kms, *dsn, *customers)
	if err != nil {
		fmt.Fprintln(stderr, "shop:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d customers, %d orders and %d subscribers (in clear)\n", n, 2*n, n)
	return 0
}

func open(dsn string) (*sql.DB, error) {
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+p+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
		if err == nil {
			db.SetMaxOpenConns(1)
		}
		return db, err
	}
	return sql.Open("pgx", dsn)
}

func write(ctx context.Context, kms, dsn string, n int) (int, error) {
	kp, err := kmsuri.Open(ctx, kms, nil)
	if err != nil {
		return 0, err
	}
	defer kp.Close()
	db, err := open(dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	g, err := guard.New(kp, db, nil)
	if err != nil {
		return 0, err
	}
	customers, err := guard.NewTable[Customer](g, &guard.TableOptions{Table: "customers"})
	if err != nil {
		return 0, err
	}
	orders, err := guard.NewTable[Order](g, &guard.TableOptions{Table: "orders"})
	if err != nil {
		return 0, err
	}
	// Reads let values in clear through while pii migrate seals them.
	if _, err := guard.NewTable[Subscriber](g, &guard.TableOptions{Table: "subscribers", AcceptPlaintext: true}); err != nil {
		return 0, err
	}
	if err := g.CreateTables(ctx); err != nil {
		return 0, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	legacy := "INSERT INTO subscribers (tenant, id, owner, email, since) VALUES ($1, $2, $3, $4, $5)"
	for i := range n {
		id := fmt.Sprintf("cust-%03d", i+1)
		tenant := tenants[i%len(tenants)]
		name := names[i%len(names)]
		first := strings.ToLower(strings.Fields(name)[0])
		email := fmt.Sprintf("%s.%d@example.com", first, i+1)
		c := Customer{Tenant: tenant, ID: id, Name: name, Email: email,
			Phone: fmt.Sprintf("+44 20 7946 %04d", i+1), Plan: "basic", CreatedAt: now.AddDate(-3, 0, 0)}
		if err := customers.Insert(ctx, &c); err != nil {
			return 0, err
		}
		for k := range 2 {
			o := Order{Tenant: tenant, ID: fmt.Sprintf("ord-%03d-%d", i+1, k+1), Customer: id,
				Address: fmt.Sprintf("%d Example Street, London", 10+i), Card: "4111 1111 1111 1111",
				Invoice: fmt.Sprintf("INV-%03d-%d: %d.00 GBP", i+1, k+1, 20+i), Total: int64(2000 + 100*i),
				PlacedAt: now.Add(-time.Duration(45*(2*i+k)) * 24 * time.Hour)}
			if err := orders.Insert(ctx, &o); err != nil {
				return 0, err
			}
		}
		if _, err := db.ExecContext(ctx, legacy, tenant, fmt.Sprintf("sub-%03d", i+1), id, email, now); err != nil {
			return 0, err
		}
	}
	return n, nil
}
