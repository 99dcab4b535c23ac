// Command supportdesk runs a support desk shared by two brands (tenants)
// on one guard.Guard, through the scenario the library is built for:
//
//	go run ./examples/supportdesk                   # SQLite in a temporary folder
//	go run ./examples/supportdesk -postgres URL     # PostgreSQL
//
// Two tenants whose customers share subject ids; 1,000 customers and their
// tickets written through guard.Table; a lookup by e-mail; what an agent
// sees of a customer on a direct message and on a public post; a reply
// checked by the scanner; a supervisor's audited reveal; the retention
// sweep two years later; one tenant's customer forgotten while the other
// tenant's customer with the same id is untouched; an access export; a
// breach report; a KMS key rotation; and every record read back.
//
// What it does not contain is the point: no Seal/Apply ordering, no
// tokenizer root key handling, no store wiring, no NullString scanning, no
// hand-written erasure or audit table. The Guard and its Tables do that.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql drivers
	_ "modernc.org/sqlite"
)

func main() {
	pg := flag.String("postgres", "", "PostgreSQL URL (default: SQLite in a temporary folder)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "supportdesk")
	if err == nil {
		err = open(context.Background(), os.Stdout, dir, *pg)
		os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "supportdesk:", err)
		os.Exit(1)
	}
}

// open opens the database (SQLite in dir unless pg names a PostgreSQL
// database) and runs the scenario on it.
func open(ctx context.Context, out io.Writer, dir, pg string) error {
	driver, dsn := "sqlite", "file:"+filepath.Join(dir, "desk.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	if pg != "" {
		driver, dsn = "pgx", pg
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return run(ctx, out, db, dir)
}
