// Command vaultonly is a service that opens its key provider from a key
// URI and uses only Vault. The depcheck tests list its dependencies: it
// must not link the Google Cloud or AWS SDKs.
package main

import (
	"context"
	"log"

	"github.com/fieldguard/pii/keyprovider/kmsuri"
	_ "github.com/fieldguard/pii/keyprovider/vault"
)

func main() {
	kp, err := kmsuri.Open(context.Background(), "vault://vault.example/transit/keys/customers", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer kp.Close()
}
