package mask_test

import (
	"fmt"

	"github.com/fieldguard/pii/mask"
)

func Example_styles() {
	fmt.Println(mask.Apply("card", "4111 1111 1111 1111"))
	fmt.Println(mask.Apply("card:bin6", "4111-1111-1111-1111"))
	fmt.Println(mask.Apply("email", "alice.smith@example.com"))
	fmt.Println(mask.Apply("email:mask-domain", "alice.smith@example.com"))
	fmt.Println(mask.Apply("phone", "+44 7911 123456"))
	fmt.Println(mask.Apply("iban", "DE89 3704 0044 0532 0130 00"))
	fmt.Println(mask.Apply("ip", "2001:db8:abcd:12::1"))
	fmt.Println(mask.Apply("date", "1987-06-14"))
	fmt.Println(mask.Apply("initials", "Ada Lovelace"))
	fmt.Println(mask.Apply("card", "not a card"))
	// Output:
	// **** **** **** 1111
	// 4111-11**-****-1111
	// a***@example.com
	// a***@*******.com
	// +44 ******3456
	// DE** **** **** **** **30 00
	// 2001:db8:abcd::/48
	// 1987-**-**
	// A. L.
	// ********
}

func ExampleMasker_Register() {
	// Test key: never hard-code a key in production.
	m, err := mask.NewMasker(&mask.MaskerOptions{HMACKey: []byte("0123456789abcdef"), HMACKeyID: "k1"})
	if err != nil {
		panic(err)
	}
	err = m.Register("zip3", func(v, _ string) string {
		if len(v) < 5 {
			return mask.Placeholder
		}
		return v[:3] + "**"
	})
	if err != nil {
		panic(err)
	}
	zip, _ := m.Mask("zip3", "94107")
	pseudo, _ := m.Mask("hmac", "alice@example.com")
	fmt.Println(zip)
	fmt.Println(pseudo[:8], len(pseudo))
	// Output:
	// 941**
	// hmac:k1: 40
}
