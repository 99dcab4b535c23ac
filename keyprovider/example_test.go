package keyprovider_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
)

// Example_wrap wraps and unwraps a data key through a Client around the
// embedded local keyset. envelope.New does the same for you when given a
// bare backend; the cloud backends (gcpkms, vault, awskms) are used the
// same way.
func Example_wrap() {
	dir, err := os.MkdirTemp("", "keyprovider-example")
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
	kp := keyprovider.NewClient(backend, nil) // deadlines, retries, circuit breaker
	defer kp.Close()

	ctx := context.Background()
	dataKey := make([]byte, 32)
	_, _ = rand.Read(dataKey)
	ad := []byte("tenant=acme;type=Customer;id=42")

	wrapped, kek, err := kp.Wrap(ctx, dataKey, ad)
	if err != nil {
		log.Fatal(err)
	}
	got, err := kp.Unwrap(ctx, wrapped, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("round trip:", bytes.Equal(got, dataKey))
	fmt.Println("wrapped by the primary:", kek == backend.Primary())

	_, err = kp.Unwrap(ctx, wrapped, []byte("tenant=acme;type=Customer;id=43"))
	fmt.Println("other record:", errors.Is(err, keyprovider.ErrAuthentication))
	// Output:
	// round trip: true
	// wrapped by the primary: true
	// other record: true
}
