package kmsuri_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
	"github.com/fieldguard/pii/keyprovider/local" // registers local://
)

// Example opens the key provider a key URI names, the embedded local
// keyset here, and seals a customer's personal fields under it. The same
// call takes vault:// URIs in a program that imports keyprovider/vault,
// and gcp-kms:// and aws-kms:// URIs in one that imports keyprovider/gcpkms
// or keyprovider/awskms. Example_wrap shows the key provider calls
// underneath.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
		Plan  string `pii:"-"`
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kmsuri-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A test master key; in production PII_MASTER_KEY comes from your
	// secret store, never from code.
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := kmsuri.Open(ctx, "local://"+filepath.Join(dir, "keyset"), &kmsuri.Options{MasterKey: master, CreateLocal: true})
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
