package fpe_test

import (
	"context"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/fpe"
)

// Most code wants FF1 through package tokenize, which tokenizes the
// token= fields of a tagged struct with the right rules for each format.
func Example() {
	type Customer struct {
		ID    string `pii:"subject"`
		Card  string `pii:"card,token=ff1"`
		Email string `pii:"email,token=ff1"`
	}
	// A test root key: never hard-code keys in production.
	tk, err := tokenize.New([]byte("an example root key, 32 bytes!!!"), nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	c := Customer{ID: "c-1", Card: "4111 1111 1111 1111", Email: "jane.doe@example.com"}
	if err := tk.Apply(ctx, &c); err != nil {
		panic(err)
	}
	fmt.Println(c.Card, c.Email)
	allow := func(context.Context, *pii.Field, string) error { return nil }
	if err := tk.Reverse(ctx, &c, allow); err != nil {
		panic(err)
	}
	fmt.Println(c.Card, c.Email)
	// Output:
	// 4581 8995 6156 1111 MUod.701@example.com
	// 4111 1111 1111 1111 jane.doe@example.com
}

// exampleKey is the AES-128 key of the NIST FF1 samples. Never hard-code
// keys in production.
var exampleKey = []byte{
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
}

func ExampleFF1() {
	c, err := fpe.NewFF1(exampleKey, 10)
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

// Strings over an alphabet: numerals in, FF1, numerals out.
func ExampleAlphabet() {
	a, err := fpe.NewAlphabet("0123456789abcdefghijklmnopqrstuvwxyz")
	if err != nil {
		panic(err)
	}
	c, err := fpe.NewFF1(exampleKey, a.Radix())
	if err != nil {
		panic(err)
	}
	x, _ := a.Numerals("0123456789abcdefghi")
	y, _ := c.EncryptNumerals([]byte("7777pqrs777"), x)
	tok, _ := a.String(y)
	fmt.Println(tok)
	// Output:
	// a9tv40mll9kdu509eum
}
