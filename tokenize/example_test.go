package tokenize_test

import (
	"fmt"

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
