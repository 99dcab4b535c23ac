package sqlkeystore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/keyprovider/local"
	_ "modernc.org/sqlite"
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlkeystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A master key generated for this example only; never hard-code one.
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "keys.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	store, err := sqlkeystore.New(db, nil) // the dialect is read from the driver
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateTables(ctx); err != nil {
		log.Fatal(err)
	}

	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
	}
	writer, err := envelope.New(kp, &envelope.Options{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	c := &Customer{ID: "alice", Email: "alice@example.com"}
	if err := writer.Seal(ctx, c); err != nil {
		log.Fatal(err)
	}
	// Another process (here: another Sealer) on the same table opens it.
	reader, err := envelope.New(kp, &envelope.Options{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	if err := reader.Open(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Email)
	// Output: alice@example.com
}

// Example_transaction seals a new customer in the transaction that stores
// it: the customer's key is written in the same transaction, so a
// rollback leaves neither the row nor a key behind.
func Example_transaction() {
	dir, err := os.MkdirTemp("", "sqlkeystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A master key generated for this example only; never hard-code one.
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	keys, err := sqlkeystore.New(db, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := keys.CreateTables(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	sealer, err := envelope.New(kp, &envelope.Options{Store: keys})
	if err != nil {
		log.Fatal(err)
	}

	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
	}
	count := func(table string) (n int) {
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			log.Fatal(err)
		}
		return n
	}
	for _, commit := range []bool{false, true} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			log.Fatal(err)
		}
		txctx := pii.WithExecutor(ctx, tx) // the key store writes in tx
		c := &Customer{ID: "alice", Email: "alice@example.com"}
		if err := sealer.Seal(txctx, c); err != nil {
			log.Fatal(err)
		}
		if _, err := tx.ExecContext(txctx, "INSERT INTO customers (id, email) VALUES (?, ?)", c.ID, c.Email); err != nil {
			log.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("commit %v: %d customers, %d key rows\n", commit, count("customers"), count("pii_keys"))
	}
	// Output:
	// commit false: 0 customers, 0 key rows
	// commit true: 1 customers, 2 key rows
}
