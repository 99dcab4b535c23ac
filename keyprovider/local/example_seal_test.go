package local_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider/local"
)

// Example seals a customer's personal fields under a local keyset:
// envelope.New puts the provider behind a keyprovider.Client with the
// default deadlines, retries and circuit breaker. Example_wrap shows the
// key provider calls underneath.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
		Plan  string `pii:"-"`
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pii-local-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A master key generated for this example only. Real master keys come
	// from local.MasterKeyFromEnv or local.MasterKeyFromFile and must never
	// be hard-coded.
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	clear(master) // the provider does not need the caller's copy
	// Data keys in memory for the example: sqlkeystore.New(db, nil) keeps
	// them in your database.
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	c := &Customer{ID: "c-42", Email: "alice@example.com", Plan: "gold"}
	if err := s.Seal(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sealed:", envelope.IsSealed(c.Email), c.Plan)
	if err := s.Open(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println("opened:", c.Email)
	// Output:
	// sealed: true gold
	// opened: alice@example.com
}
