package gcpkms_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/kmsfake/gcpkmstest"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
)

// Example seals a customer's personal fields under a Cloud KMS key. It runs
// offline against this repository's in-process fake of Cloud KMS; in
// production drop ClientOptions (Application Default Credentials are used)
// and name your own CryptoKey. Example_wrap shows the key provider calls
// underneath.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
		Plan  string `pii:"-"`
	}
	ctx := context.Background()
	const kek = "projects/demo/locations/global/keyRings/pii/cryptoKeys/customers"
	srv, err := gcpkmstest.Start(kek)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	kp, err := gcpkms.New(ctx, kek, &gcpkms.Options{ClientOptions: srv.ClientOptions()})
	if err != nil {
		log.Fatal(err)
	}
	defer kp.Close()
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
