package gcpkms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/fieldguard/pii/internal/kmsfake/gcpkmstest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
)

// Example_wrap wraps and unwraps a data key through Cloud KMS. It runs offline
// against this repository's in-process fake of Cloud KMS; in production, drop
// ClientOptions (Application Default Credentials are used) and name your
// own CryptoKey.
func Example_wrap() {
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
	defer kp.Close() // a keyprovider.Client: deadlines, retries, circuit breaker

	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		log.Fatal(err)
	}
	ad := []byte("customers/42")
	wrapped, id, err := kp.Wrap(ctx, dataKey, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrapped by", id)

	got, err := kp.Unwrap(ctx, wrapped, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("round trip:", bytes.Equal(got, dataKey))

	_, err = kp.Unwrap(ctx, wrapped, []byte("customers/43"))
	fmt.Println("other record fails authentication:", errors.Is(err, keyprovider.ErrAuthentication))
	// Output:
	// wrapped by projects/demo/locations/global/keyRings/pii/cryptoKeys/customers#1
	// round trip: true
	// other record fails authentication: true
}
