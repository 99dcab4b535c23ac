package tokenstoretest_test

import (
	"context"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/tokenize"
)

// myStore stands for a TokenStore of your own (here it delegates to the
// in-memory one). Its tests call
//
//	tokenstoretest.Run(t, func(t *testing.T) tokenize.TokenStore { return newMyStore(t) })
//
// and the Tokenizer uses it for token=stored fields.
type myStore struct{ tokenize.TokenStore }

// A store that passes the suite backs Apply and Reverse of stored tokens.
func Example() {
	type Payment struct {
		Customer string `pii:"subject"`
		Card     string `pii:"card,token=stored"`
	}
	// A test root key: never hard-code keys in production.
	tk, err := tokenize.New([]byte("an example root key, 32 bytes!!!"), &tokenize.Options{
		Store: myStore{tokenize.NewMemoryStore()},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p := Payment{Customer: "c-1", Card: "4111 1111 1111 1111"}
	if err := tk.Apply(ctx, &p); err != nil {
		panic(err)
	}
	fmt.Println(p.Card[15:], p.Card != "4111 1111 1111 1111")
	allow := func(context.Context, *pii.Field, string) error { return nil }
	if err := tk.Reverse(ctx, &p, allow); err != nil {
		panic(err)
	}
	fmt.Println(p.Card)
	// Output:
	// 1111 true
	// 4111 1111 1111 1111
}
