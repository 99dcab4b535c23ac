package awskms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/fieldguard/pii/internal/kmsfake/awskmstest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/awskms"
)

// Example_wrap wraps and unwraps a data key through AWS KMS. It runs offline
// against this repository's in-process fake of AWS KMS; in production pass nil
// options (the SDK's default configuration and credential chain) and your
// own key ARN.
func Example_wrap() {
	ctx := context.Background()
	srv := awskmstest.Start()
	defer srv.Close()
	arn := srv.CreateKey("customers")

	cfg := srv.Config() // static test credentials, region eu-west-1
	kp, err := awskms.New(ctx, arn, &awskms.Options{Config: &cfg, Endpoint: srv.URL()})
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
	fmt.Println("wrapped by the configured key:", id.Key == arn)

	got, err := kp.Unwrap(ctx, wrapped, ad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("round trip:", bytes.Equal(got, dataKey))

	_, err = kp.Unwrap(ctx, wrapped, []byte("customers/43"))
	fmt.Println("other record fails authentication:", errors.Is(err, keyprovider.ErrAuthentication))
	// Output:
	// wrapped by the configured key: true
	// round trip: true
	// other record fails authentication: true
}
