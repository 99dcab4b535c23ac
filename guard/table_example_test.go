package guard_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the application brings its database/sql driver

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// A Table stores one tagged type in its own table: protected on write,
// opened on read, every statement scoped by tenant. Under
// pii.WithExecutor(ctx, tx) its statements, and the keys they make, join
// your transaction.
func ExampleTable() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "guard-table")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// A development keyset made for the example; never hard-code a master
	// key (local.MasterKeyFromEnv, or your KMS).
	master, _ := local.GenerateMasterKey()
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	g, err := guard.New(kp, db, nil)
	if err != nil {
		log.Fatal(err)
	}
	customers, err := guard.NewTable[Customer](g, &guard.TableOptions{Table: "customers"})
	if err != nil {
		log.Fatal(err)
	}
	if err := g.CreateTables(ctx); err != nil { // the Guard's tables and "customers"
		log.Fatal(err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	c := Customer{ID: "cus_1", Tenant: "acme", Name: "Ada Lovelace", Email: "ada@example.com",
		Phone: "+44 20 7946 0958", Card: "4111 1111 1111 1111"}
	if err := customers.Insert(pii.WithExecutor(ctx, tx), &c); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("written sealed:", c.Name != "Ada Lovelace")

	found, err := customers.FindBy(ctx, "acme", "Email", "ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("found:", len(found), found[0].Name)
	other, err := customers.FindBy(ctx, "globex", "Email", "ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("in another tenant:", len(other))
	// Output:
	// written sealed: true
	// found: 1 Ada Lovelace
	// in another tenant: 0
}
