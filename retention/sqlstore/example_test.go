package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
)

type Visitor struct {
	ID        int64     `db:"id" pii:"id"`
	Subject   string    `db:"subject" pii:"subject"`
	IP        string    `db:"ip" pii:"ip,retain=30d,from=LastSeen,then=generalize:ipv4/24"`
	Email     string    `db:"email" pii:"email,retain=1y,from=LastSeen,then=null"`
	LastSeen  time.Time `db:"last_seen"`
	CreatedAt time.Time `db:"created_at"`
}

func Example() {
	dir, _ := os.MkdirTemp("", "sqlstore-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	db.Exec(`CREATE TABLE visitor (id INTEGER PRIMARY KEY, subject TEXT, ip TEXT, email TEXT,
		last_seen TIMESTAMP, created_at TIMESTAMP)`)
	db.Exec(`CREATE INDEX visitor_last_seen ON visitor (last_seen)`)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	db.Exec(`INSERT INTO visitor VALUES (1, 's-1', '198.51.100.23', 'a@example.com', ?, ?)`, now.AddDate(0, -2, 0), now.AddDate(-1, 0, 0))
	db.Exec(`INSERT INTO visitor VALUES (2, 's-2', '198.51.100.99', 'b@example.com', ?, ?)`, now.AddDate(0, 0, -3), now.AddDate(-1, 0, 0))

	table, err := sqlstore.New(db, &Visitor{}, nil)
	if err != nil {
		panic(err)
	}
	holds, err := sqlstore.NewHolds(db, nil)
	if err != nil {
		panic(err)
	}
	// The ledger the table appends to (the same options give the same
	// tables). CreateTables makes the ledger, holds and pending shreds
	// tables; or apply sqlstore.DDL with your migration tool.
	ledger, err := sqlstore.NewLedger(db, nil)
	if err != nil {
		panic(err)
	}
	if err := ledger.CreateTables(ctx); err != nil {
		panic(err)
	}
	// Test key: never hard-code keys in production. The fake clock pins the
	// example's "now"; applications leave Options.Clock nil.
	m, err := retention.New(&retention.Options{Clock: piitest.NewClock(now), LedgerKey: []byte("example ledger key, not for prod"),
		Ledger: ledger, Holds: holds})
	if err != nil {
		panic(err)
	}
	if err := m.Register(table); err != nil {
		panic(err)
	}
	st, err := m.Sweep(ctx, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("scanned", st.Scanned, "applied", st.Applied)
	rows, _ := db.Query(`SELECT id, ip, email FROM visitor ORDER BY id`)
	for rows.Next() {
		var id int
		var ip, email sql.NullString
		rows.Scan(&id, &ip, &email)
		fmt.Println(id, ip.String, email.String)
	}
	rows.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM retention_ledger`).Scan(&n)
	fmt.Println("ledger entries:", n)
	// Output:
	// scanned 1 applied 1
	// 1 198.51.100.0 a@example.com
	// 2 198.51.100.99 b@example.com
	// ledger entries: 1
}
