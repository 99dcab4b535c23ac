package vault_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/fieldguard/pii/keyprovider/vault"
)

// Example seals a customer's personal fields under a Vault Transit key. It
// runs offline against this repository's fake of Transit; in production
// pass nil options (VAULT_ADDR and VAULT_TOKEN) or your own address, token
// and mount. Example_wrap shows the key provider calls underneath.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
		Plan  string `pii:"-"`
	}
	ctx := context.Background()
	srv := vaultfake.Start()
	defer srv.Close()
	srv.CreateKey("transit", "customers", vaultfake.KeyOptions{})
	kp, err := vault.New(ctx, "customers", &vault.Options{
		Address: srv.URL(),
		Token:   vaultfake.Token, // test token; never hard-code a real one
	})
	if err != nil {
		log.Fatal(err)
	}
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
