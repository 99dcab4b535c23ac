package kmsuri_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii/keyprovider/kmsuri"
	"github.com/fieldguard/pii/keyprovider/local"   // registers local://
	_ "github.com/fieldguard/pii/keyprovider/vault" // registers vault:// and vault+http://
)

// Example_wrap opens the embedded local keyset from a key URI and wraps and
// unwraps a data key through the Client Open returns. A vault:// URI with
// an invalid key name is refused before any request.
func Example_wrap() {
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

	uri := "local://" + filepath.Join(dir, "keyset")
	kp, err := kmsuri.Open(ctx, uri, &kmsuri.Options{MasterKey: master, CreateLocal: true})
	if err != nil {
		log.Fatal(err)
	}
	defer kp.Close()
	dataKey := bytes.Repeat([]byte{7}, 32) // example only: use random data keys
	wrapped, _, err := kp.Wrap(ctx, dataKey, []byte("customers/42"))
	if err != nil {
		log.Fatal(err)
	}
	got, err := kp.Unwrap(ctx, wrapped, []byte("customers/42"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("round trip:", bytes.Equal(got, dataKey))

	_, err = kmsuri.Open(ctx, "vault://vault.example/transit/keys/a/b", nil)
	fmt.Println(err)
	// Output:
	// round trip: true
	// kmsuri: vault://vault.example/transit/keys/a/b: invalid mount or key name (no "..", whitespace, or "/" in the name)
}
