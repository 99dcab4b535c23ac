package awskms_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/kmsfake/awskmstest"
	"github.com/fieldguard/pii/keyprovider/awskms"
)

// Example seals a customer's personal fields under an AWS KMS key. It runs
// offline against this repository's in-process fake of AWS KMS; in
// production pass nil options (the SDK's default configuration and
// credential chain) and your own key ARN. Example_wrap shows the key
// provider calls underneath.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
		Plan  string `pii:"-"`
	}
	ctx := context.Background()
	srv := awskmstest.Start()
	defer srv.Close()
	arn := srv.CreateKey("customers")
	cfg := srv.Config() // static test credentials, region eu-west-1
	kp, err := awskms.New(ctx, arn, &awskms.Options{Config: &cfg, Endpoint: srv.URL()})
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
