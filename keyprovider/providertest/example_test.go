package providertest_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
)

// myProvider stands for a key provider of your own (here it delegates to
// the local keyset). Its tests call
//
//	providertest.Run(t, providertest.Harness{New: func(t *testing.T) (a, b keyprovider.KeyProvider) { ... }})
//
// and envelope.New puts it behind a keyprovider.Client like any backend.
type myProvider struct{ keyprovider.KeyProvider }

// A provider that passes the suite wraps the keys Seal and Open use.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
	}
	dir, err := os.MkdirTemp("", "providertest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A master key generated for this example only; real ones come from
	// local.MasterKeyFromEnv or local.MasterKeyFromFile, never from code.
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	backend, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	// Keys in memory for the example: sqlkeystore.New(db, nil) keeps them
	// in your database.
	s, err := envelope.New(myProvider{backend}, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c := &Customer{ID: "c-42", Email: "alice@example.com"}
	if err := s.Seal(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sealed:", envelope.IsSealed(c.Email))
	if err := s.Open(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println("opened:", c.Email)
	// Output:
	// sealed: true
	// opened: alice@example.com
}
