package sqltokenstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the driver is the application's choice

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/sqltokenstore"
)

// Stored tokens of a tagged struct, kept in the application's database.
func Example() {
	dir, _ := os.MkdirTemp("", "sqltokenstore")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()

	store, err := sqltokenstore.New(db, nil)
	if err != nil {
		panic(err)
	}
	if err := store.CreateTables(ctx); err != nil {
		panic(err)
	}
	// A test root key: never hard-code keys in production (wrap one from
	// tokenize.GenerateRootKey with your KMS, tokenize.NewFromProvider).
	tk, err := tokenize.New([]byte("an example root key, 32 bytes!!!"), &tokenize.Options{Store: store})
	if err != nil {
		panic(err)
	}

	type Payment struct {
		Customer string `pii:"subject"`
		IBAN     string `pii:"iban,token=stored"`
	}
	p := Payment{Customer: "c-1", IBAN: "GB82 WEST 1234 5698 7654 32"}
	if err := tk.Apply(ctx, &p); err != nil {
		panic(err)
	}
	var rows int
	_ = db.QueryRow(`SELECT count(*) FROM pii_tokens`).Scan(&rows)
	fmt.Println(p.IBAN != "GB82 WEST 1234 5698 7654 32", rows)

	allow := func(context.Context, *pii.Field, string) error { return nil }
	if err := tk.Reverse(ctx, &p, allow); err != nil {
		panic(err)
	}
	fmt.Println(p.IBAN)
	// Output:
	// true 1
	// GB82 WEST 1234 5698 7654 32
}

// The statements CreateTables runs, for a migration tool.
func ExampleDDL() {
	ddl, err := sqltokenstore.DDL(&sqltokenstore.Options{Dialect: pii.Postgres, Table: "app.pii_tokens"})
	if err != nil {
		panic(err)
	}
	fmt.Print(ddl)
	// Output:
	// CREATE TABLE IF NOT EXISTS app.pii_tokens (
	// 	token TEXT PRIMARY KEY,
	// 	tenant TEXT NOT NULL,
	// 	field TEXT NOT NULL,
	// 	subject TEXT NOT NULL,
	// 	key_id TEXT NOT NULL,
	// 	lookup BYTEA NOT NULL,
	// 	sealed BYTEA NOT NULL,
	// 	created_us BIGINT NOT NULL,
	// 	expires_us BIGINT NOT NULL
	// );
	// CREATE INDEX IF NOT EXISTS pii_tokens_lookup ON app.pii_tokens (lookup);
	// CREATE INDEX IF NOT EXISTS pii_tokens_subject ON app.pii_tokens (tenant, subject);
	// CREATE INDEX IF NOT EXISTS pii_tokens_expires ON app.pii_tokens (expires_us);
}
