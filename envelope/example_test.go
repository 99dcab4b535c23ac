package envelope_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
)

// exampleKMS returns the embedded local key provider on a keyset in a
// temporary directory, under a master key generated for the example only:
// real master keys come from local.MasterKeyFromEnv or a file and are never
// hard-coded.
func exampleKMS() (*local.Provider, func()) {
	dir, err := os.MkdirTemp("", "envelope-example")
	if err != nil {
		log.Fatal(err)
	}
	master, err := local.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	return kp, func() { os.RemoveAll(dir) }
}

// wrapCounter counts a key provider's Wrap calls.
type wrapCounter struct {
	keyprovider.KeyProvider
	wraps atomic.Int64
}

func (c *wrapCounter) Wrap(ctx context.Context, dataKey, ad []byte) ([]byte, keyprovider.KeyID, error) {
	c.wraps.Add(1)
	return c.KeyProvider.Wrap(ctx, dataKey, ad)
}

func Example() {
	type Customer struct {
		Tenant string `pii:"tenant"`
		ID     string `pii:"subject"`
		Email  string `pii:"email,encrypt"`
		Name   string `pii:"name,encrypt"`
		Plan   string `pii:"-"`
	}
	kp, done := exampleKMS()
	defer done()
	ctx := context.Background()
	// Keys in memory for the example: sqlkeystore.New(db, nil) keeps them
	// in your database.
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	c := &Customer{Tenant: "acme", ID: "c-42", Email: "alice@example.com", Name: "Alice Liddell", Plan: "gold"}
	if err := s.Seal(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Email[:5], envelope.IsSealed(c.Name), c.Plan)
	sealedEmail := c.Email

	if err := s.Open(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Email, "/", c.Name)

	// A sealed value copied into another customer's record does not open.
	other := &Customer{Tenant: "acme", ID: "c-43", Email: sealedEmail}
	err = s.Open(ctx, other)
	fmt.Println(errors.Is(err, envelope.ErrDecrypt))
	// Output:
	// pii1. true gold
	// alice@example.com / Alice Liddell
	// true
}

// Example_bytes encrypts one value with the byte-level API, which Seal and
// Open use for each field: the Binding says what the value is bound to.
func Example_bytes() {
	kp, done := exampleKMS()
	defer done()
	ctx := context.Background()

	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	b := envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email", Record: "c-42", Subject: "alice"}
	ct, err := s.EncryptString(ctx, "alice@example.com", b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ct[:5], envelope.IsSealed(ct))

	pt, err := s.DecryptString(ctx, ct, b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pt)

	// The same value presented as another record's does not open.
	b.Record = "c-43"
	_, err = s.DecryptString(ctx, ct, b)
	fmt.Println(errors.Is(err, envelope.ErrDecrypt))
	// Output:
	// pii1. true
	// alice@example.com
	// true
}

func ExampleSealer_ForgetSubject() {
	kp, done := exampleKMS()
	defer done()
	ctx := context.Background()
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	b := envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email", Record: "c-42", Subject: "alice"}
	ct, err := s.EncryptString(ctx, "alice@example.com", b)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.ForgetSubject(ctx, "acme", "alice"); err != nil {
		log.Fatal(err)
	}
	_, err = s.DecryptString(ctx, ct, b)
	fmt.Println(errors.Is(err, envelope.ErrShredded))
	// Output: true
}

func ExampleSealer_BlindIndexes() {
	type Customer struct {
		Tenant      string `pii:"tenant"`
		ID          string `pii:"subject"`
		Name        string `pii:"name,encrypt"`
		Email       string `pii:"email,encrypt,index=EmailIdx"`
		EmailIdx    string `pii:"-"`
		BackupEmail string `pii:"email,encrypt,index"`
	}
	kp, done := exampleKMS()
	defer done()
	ctx := context.Background()
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	// One index outside a search key rotation, one per live key version
	// during one (match any: WHERE email_idx IN (...)).
	idx, err := s.BlindIndexes(ctx, "acme", (*Customer)(nil), "Email", "alice@example.com")
	if err != nil {
		log.Fatal(err)
	}
	a := idx[0]
	again, _ := s.BlindIndexes(ctx, "acme", (*Customer)(nil), "Email", "alice@example.com")
	otherField, _ := s.BlindIndexes(ctx, "acme", (*Customer)(nil), "BackupEmail", "alice@example.com")
	otherTenant, _ := s.BlindIndexes(ctx, "globex", (*Customer)(nil), "Email", "alice@example.com")
	fmt.Println(len(idx), len(a), a == again[0], a == otherField[0], a == otherTenant[0])
	c := &Customer{Tenant: "acme", ID: "c-1", Email: "alice@example.com"}
	if err := s.Seal(ctx, c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.EmailIdx == a) // what Seal writes beside the ciphertext
	_, err = s.BlindIndexes(ctx, "acme", (*Customer)(nil), "Name", "Alice")
	fmt.Println(err)
	// Output:
	// 1 22 true false false
	// true
	// envelope: BlindIndexes: Customer.Name has no index option
}

func Example_inline() {
	kp, done := exampleKMS()
	defer done()
	ctx := context.Background()
	// Inline mode: no key store; each ciphertext carries its wrapped DEK,
	// and DEKs are reused under the cache limits.
	counted := &wrapCounter{KeyProvider: kp}
	s, err := envelope.New(counted, &envelope.Options{Store: envelope.NewMemoryStore(), Inline: true})
	if err != nil {
		log.Fatal(err)
	}
	b := envelope.Binding{Tenant: "acme", Type: "Order", Field: "Address", Record: "o-1"}
	for _, v := range []string{"1 Rabbit Hole", "2 Looking Glass"} {
		ct, err := s.EncryptString(ctx, v, b)
		if err != nil {
			log.Fatal(err)
		}
		pt, err := s.DecryptString(ctx, ct, b)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ct[:5], pt)
	}
	fmt.Println("KMS wraps:", counted.wraps.Load())
	// Output:
	// pii2. 1 Rabbit Hole
	// pii2. 2 Looking Glass
	// KMS wraps: 1
}
