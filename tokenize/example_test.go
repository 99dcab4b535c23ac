package tokenize_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/tokenize"
)

// exampleKey is a test key. Never hard-code keys in production: load them
// from a KMS (tokenize.NewFromProvider) or a secret store.
var exampleKey = []byte{
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
}

func ExampleFF1() {
	c, err := tokenize.NewFF1(exampleKey, 10)
	if err != nil {
		panic(err)
	}
	x := []uint16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	y, _ := c.EncryptNumerals(nil, x)
	back, _ := c.DecryptNumerals(nil, y)
	fmt.Println(y)
	fmt.Println(back)
	// Output:
	// [2 4 3 3 4 7 7 4 8 4]
	// [0 1 2 3 4 5 6 7 8 9]
}

func ExampleAlphabet_FF1() {
	a, _ := tokenize.NewAlphabet(tokenize.LowerAlnum)
	c, _ := a.FF1(exampleKey)
	tok, _ := c.Encrypt("7777pqrs777", "0123456789abcdefghi")
	fmt.Println(tok)
	// Output:
	// a9tv40mll9kdu509eum
}

// rootKey is a test root key. Never hard-code keys in production: wrap a
// key from tokenize.GenerateRootKey with your KMS and use
// tokenize.NewFromProvider.
var rootKey = []byte("an example root key, 32 bytes!!!")

func ExampleTokenizer_Tokenize() {
	tk, err := tokenize.New(rootKey, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	scope := tokenize.Scope{Tenant: "acme", Field: "Customer.Card"}

	tok, _ := tk.Tokenize(ctx, tokenize.MethodFF1, scope, tokenize.Card{KeepBIN: 6}, "4111 1111 1111 1111")
	back, _ := tk.Detokenize(ctx, tokenize.MethodFF1, scope, tokenize.Card{KeepBIN: 6}, tok)
	fmt.Println(tok, tokenize.LuhnValid(tok))
	fmt.Println(back)

	phone := tokenize.Phone{DefaultRegion: "US", KeepAreaCode: true}
	ptok, _ := tk.Tokenize(ctx, tokenize.MethodFF1, tokenize.Scope{Tenant: "acme", Field: "Customer.Phone"}, phone, "(415) 555-2671")
	fmt.Println(ptok)
	// Output:
	// 4111 1119 6926 1111 false
	// 4111 1111 1111 1111
	// (415) 421-7789
}

type Customer struct {
	ID     string `pii:"subject"`
	Tenant string `pii:"tenant"`
	Card   string `pii:"card,token=ff1"`
	Email  string `pii:"email,token=ff1"`
	Alias  string `pii:"name,token=hmac"`
}

func ExampleTokenizer_Apply() {
	tk, _ := tokenize.New(rootKey, &tokenize.Options{KeyID: "2026-11"})
	ctx := context.Background()
	c := Customer{ID: "c-1", Tenant: "acme", Card: "5555-5555-5555-4444", Email: "jane.doe@example.com", Alias: "jdoe"}
	if err := tk.Apply(ctx, &c); err != nil {
		panic(err)
	}
	fmt.Println(c.Card, c.Email, c.Alias)

	// Reversal needs a permission check; this one refuses card numbers.
	err := tk.Reverse(ctx, &c, func(_ context.Context, f *pii.Field, path string) error {
		if f.Category == "card" {
			return errors.New("role agent may not see card numbers")
		}
		return nil
	})
	fmt.Println(err)
	_ = tk.Reverse(ctx, &c, func(context.Context, *pii.Field, string) error { return nil })
	fmt.Println(c.Card, c.Email, c.Alias)
	// Output:
	// 8779-1214-6553-4444 x9DU.TRF@example.com 2026-11:tlO0NU5X-lvZUzSGePJhsw
	// tokenize: Customer.Card (record id in Customer.ID): reversal not permitted: role agent may not see card numbers
	// 5555-5555-5555-4444 jane.doe@example.com 2026-11:tlO0NU5X-lvZUzSGePJhsw
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
