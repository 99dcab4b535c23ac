package sqlkeystore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

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
	store, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: sqlkeystore.SQLite})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateTables(ctx); err != nil {
		log.Fatal(err)
	}

	b := envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email", Record: "c-1", Subject: "alice"}
	writer, err := envelope.New(kp, &envelope.Options{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	ct, err := writer.EncryptString(ctx, "alice@example.com", b)
	if err != nil {
		log.Fatal(err)
	}
	// Another process (here: another Sealer) on the same table opens it.
	reader, err := envelope.New(kp, &envelope.Options{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	pt, err := reader.DecryptString(ctx, ct, b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pt)
	// Output: alice@example.com
}
