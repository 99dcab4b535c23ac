package keystoretest_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider/local"
)

// myStore stands for a KeyStore of your own (here it delegates to the
// in-memory one). Its tests call
//
//	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore { return newMyStore(t) })
//
// and a Sealer keeps its wrapped keys in it.
type myStore struct{ envelope.KeyStore }

// A store that passes the suite backs Seal and Open.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt"`
	}
	dir, err := os.MkdirTemp("", "keystoretest-example")
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
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	s, err := envelope.New(kp, &envelope.Options{Store: myStore{envelope.NewMemoryStore()}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c := &Customer{ID: "c-42", Email: "alice@example.com"}
	if err := s.Seal(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sealed:", envelope.IsSealed(c.Email))
	if err := s.Open(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println("opened:", c.Email)
	// Output:
	// sealed: true
	// opened: alice@example.com
}
