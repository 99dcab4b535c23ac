package local_test

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

// Example_wrap creates a keyset and wraps and unwraps a data key with it,
// through the keyprovider.Client every backend sits behind.
func Example_wrap() {
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
	p, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	clear(master) // the provider does not need the caller's copy
	// envelope.New does this for you; here the Client is made by hand.
	kp := keyprovider.NewClient(p, nil)

	ctx := context.Background()
	dataKey := make([]byte, 32)
	_, _ = rand.Read(dataKey)
	ad := []byte("type=Customer;field=Email")

	wrapped, kek, err := kp.Wrap(ctx, dataKey, ad)
	if err != nil {
		log.Fatal(err)
	}
	got, err := kp.Unwrap(ctx, wrapped, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("unwrapped the same key:", bytes.Equal(got, dataKey))
	fmt.Println("wrapped size:", len(wrapped), "bytes")
	fmt.Println("wrapped by the primary:", kek == p.Primary())

	_, err = kp.Unwrap(ctx, wrapped, []byte("type=Customer;field=Phone"))
	fmt.Println("other associated data fails:", errors.Is(err, keyprovider.ErrAuthentication))
	// Output:
	// unwrapped the same key: true
	// wrapped size: 65 bytes
	// wrapped by the primary: true
	// other associated data fails: true
}

func ExampleProvider_Rotate() {
	dir, err := os.MkdirTemp("", "pii-local-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Generated for this example; never hard-code a real master key.
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	old := kp.Primary()
	wrapped, _, err := kp.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		log.Fatal(err)
	}

	// Add and promote a new version, rewrap, then retire the old one.
	if _, err := kp.Rotate(ctx); err != nil {
		log.Fatal(err)
	}
	rewrapped, kek, err := kp.Rewrap(ctx, wrapped, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rewrapped under the new primary:", kek == kp.Primary() && kek != old)
	if err := kp.Disable(ctx, old.Version); err != nil {
		log.Fatal(err)
	}
	_, err = kp.Unwrap(ctx, wrapped, nil)
	fmt.Println("old wrap after disable:", errors.Is(err, keyprovider.ErrKeyDisabled))
	if err := kp.Destroy(ctx, old.Version); err != nil {
		log.Fatal(err)
	}
	_, err = kp.Unwrap(ctx, rewrapped, nil)
	fmt.Println("rewrapped key still unwraps:", err == nil)

	versions, err := kp.Versions(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range versions {
		fmt.Println(v.Status, "primary:", v.Primary)
	}
	// Output:
	// rewrapped under the new primary: true
	// old wrap after disable: true
	// rewrapped key still unwraps: true
	// destroyed primary: false
	// enabled primary: true
}
