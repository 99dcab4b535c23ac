package tokenize

import (
	"testing"
)

// benchKey is a test key; never hard-code keys in production.
var benchKey = []byte("0123456789abcdef0123456789abcdef")

var benchString string

// BenchmarkTokenizeCard is a 16-digit card, last 4 kept, through
// Tokenizer.Tokenize with a cached scope tweak. Compare it with
// fpe's BenchmarkFF1Radix10Len16, the bare cipher on 16 digits.
func BenchmarkTokenizeCard(b *testing.B) {
	tk, err := New(benchKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	s := Scope{Tenant: "acme", Field: "Customer.Card"}
	b.ReportAllocs()
	for b.Loop() {
		benchString, err = tk.Tokenize(ctx, MethodFF1, s, Card{}, "4111 1111 1111 1111")
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenizePhone is a UK mobile number in national format through
// Tokenizer.Tokenize: libphonenumber dominates (the original is parsed,
// and each cycle-walk candidate is checked against the region's metadata
// and, when it passes, parsed back to prove the token reverses).
// BenchmarkTokenizePhoneReference is the same through phoneRef, the
// implementation before the metadata check (phone_test.go), and the US
// pair a number of the North American plan in E.164.
func BenchmarkTokenizePhone(b *testing.B) {
	benchPhone(b, Phone{DefaultRegion: "GB"}, "07911 123456")
}

func BenchmarkTokenizePhoneReference(b *testing.B) {
	benchPhone(b, phoneRef{Phone{DefaultRegion: "GB"}}, "07911 123456")
}

func BenchmarkTokenizePhoneUS(b *testing.B) {
	benchPhone(b, Phone{}, "+14155552671")
}

func BenchmarkTokenizePhoneUSReference(b *testing.B) {
	benchPhone(b, phoneRef{Phone{}}, "+14155552671")
}

func benchPhone(b *testing.B, f TokenFormat, value string) {
	tk, err := New(benchKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	s := Scope{Tenant: "acme", Field: "Customer.Phone"}
	b.ReportAllocs()
	for b.Loop() {
		benchString, err = tk.Tokenize(ctx, MethodFF1, s, f, value)
		if err != nil {
			b.Fatal(err)
		}
	}
}
