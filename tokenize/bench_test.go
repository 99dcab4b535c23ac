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
// Tokenizer.Tokenize: libphonenumber parsing dominates (each cycle-walk
// candidate is parsed back to prove the token reverses).
func BenchmarkTokenizePhone(b *testing.B) {
	tk, err := New(benchKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	s := Scope{Tenant: "acme", Field: "Customer.Phone"}
	f := Phone{DefaultRegion: "GB"}
	b.ReportAllocs()
	for b.Loop() {
		benchString, err = tk.Tokenize(ctx, MethodFF1, s, f, "07911 123456")
		if err != nil {
			b.Fatal(err)
		}
	}
}
