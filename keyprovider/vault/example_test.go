package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/fieldguard/pii/keyprovider/vault"
)

// Example_wrap wraps, rotates and rewraps a data key with Vault Transit. It runs
// offline against this repository's fake of Transit; in production pass nil options
// (VAULT_ADDR and VAULT_TOKEN) or your own address, token and mount.
func Example_wrap() {
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
	// kp is a keyprovider.Client: deadlines, retries, circuit breaker.

	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		log.Fatal(err)
	}
	ad := []byte("customers/42")
	wrapped, id, err := kp.Wrap(ctx, dataKey, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrapped by", id, "as", string(wrapped[:9]))

	id, err = kp.Rotate(ctx)
	if err != nil {
		log.Fatal(err)
	}
	rewrapped, id, err := kp.Rewrap(ctx, wrapped, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rewrapped by", id)

	got, err := kp.Unwrap(ctx, rewrapped, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("round trip:", bytes.Equal(got, dataKey))
	// Output:
	// wrapped by transit/keys/customers#1 as vault:v1:
	// rewrapped by transit/keys/customers#2
	// round trip: true
}
