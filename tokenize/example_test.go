package tokenize_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/tokenize"
)

// rootKey is a test root key. Never hard-code keys in production: wrap a
// key from tokenize.GenerateRootKey with your KMS and use
// tokenize.NewFromProvider.
var rootKey = []byte("an example root key, 32 bytes!!!")

type Customer struct {
	ID     string `pii:"subject"`
	Tenant string `pii:"tenant"`
	Card   string `pii:"card,token=ff1"`
	Email  string `pii:"email,token=ff1"`
	Alias  string `pii:"name,token=hmac"`
}

// Tokenize the token= fields of a tagged struct in place, and reverse them
// for a caller that passes the permission check.
func Example() {
	tk, _ := tokenize.New(rootKey, &tokenize.Options{KeyID: "2026-11"})
	ctx := context.Background()
	c := Customer{ID: "c-1", Tenant: "acme", Card: "5555-5555-5555-4444", Email: "jane.doe@example.com", Alias: "jdoe"}
	if err := tk.Apply(ctx, &c); err != nil {
		panic(err)
	}
	fmt.Println(c.Card, c.Email, c.Alias)

	// Reversal needs a permission check; this one refuses card numbers,
	// which keep their tokens while the other fields are restored.
	err := tk.Reverse(ctx, &c, func(_ context.Context, f *pii.Field, path string) error {
		if f.Category == "card" {
			return errors.New("role agent may not see card numbers")
		}
		return nil
	})
	fmt.Println(err)
	fmt.Println(c.Card, c.Email, c.Alias)
	// Output:
	// 8779-1214-6553-4444 x9DU.TRF@example.com 2026-11:tlO0NU5X-lvZUzSGePJhsw
	// tokenize: Customer.Card (record of subject field ID): reversal not permitted: role agent may not see card numbers
	// 8779-1214-6553-4444 jane.doe@example.com 2026-11:tlO0NU5X-lvZUzSGePJhsw
}

func ExampleTokenizer_Tokenize() {
	tk, err := tokenize.New(rootKey, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	scope := tokenize.Scope{Tenant: "acme", Field: "Customer.Card"}

	tok, _ := tk.Tokenize(ctx, tokenize.MethodFF1, scope, tokenize.Card{KeepBIN: 6}, "4111 1111 1111 1111")
	back, _ := tk.Detokenize(ctx, tokenize.MethodFF1, scope, tokenize.Card{KeepBIN: 6}, tok)
	fmt.Println(tok) // fails the Luhn check, so it is never taken for a card number
	fmt.Println(back)

	phone := tokenize.Phone{DefaultRegion: "US", KeepAreaCode: true}
	ptok, _ := tk.Tokenize(ctx, tokenize.MethodFF1, tokenize.Scope{Tenant: "acme", Field: "Customer.Phone"}, phone, "(415) 555-2671")
	fmt.Println(ptok)
	// Output:
	// 4111 1119 6926 1111
	// 4111 1111 1111 1111
	// (415) 421-7789
}

func ExampleAnnotate() {
	tk, _ := tokenize.New(rootKey, nil)
	ctx := context.Background()
	scope := tokenize.Scope{Tenant: "acme", Field: "chat"}
	phone := tokenize.Phone{DefaultRegion: "US"}

	tok, _ := tk.Tokenize(ctx, tokenize.MethodFF1, scope, phone, "(415) 555-2671")
	ann, _ := tokenize.Annotate(phone.Name(), tok)
	transcript := "Customer: call me on " + ann + " after 5pm"
	fmt.Println(transcript)

	plain, _ := tokenize.ReplaceSurrogates(transcript, func(s tokenize.Surrogate) (string, error) {
		return tk.Detokenize(ctx, tokenize.MethodFF1, scope, phone, s.Token)
	})
	fmt.Println(plain)
	// Output:
	// Customer: call me on PHONE(14):(626) 607-0545 after 5pm
	// Customer: call me on (415) 555-2671 after 5pm
}

// Stored tokens are random tokens of the value's format; the store keeps
// the value, sealed. An in-memory store's tokens die with the process: keep
// them in your database with sqltokenstore.
func ExampleNewMemoryStore() {
	type Payment struct {
		Customer string `pii:"subject"`
		IBAN     string `pii:"iban,token=stored"`
	}
	tk, err := tokenize.New(rootKey, &tokenize.Options{Store: tokenize.NewMemoryStore()})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p := Payment{Customer: "c-1", IBAN: "GB82 WEST 1234 5698 7654 32"}
	if err := tk.Apply(ctx, &p); err != nil {
		panic(err)
	}
	fmt.Println(p.IBAN[:2], p.IBAN[4:10], len(p.IBAN), p.IBAN != "GB82 WEST 1234 5698 7654 32")
	if err := tk.Reverse(ctx, &p, func(context.Context, *pii.Field, string) error { return nil }); err != nil {
		panic(err)
	}
	fmt.Println(p.IBAN)
	// Output:
	// GB  WEST  27 true
	// GB82 WEST 1234 5698 7654 32
}
