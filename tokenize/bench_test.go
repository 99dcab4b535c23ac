package tokenize

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
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

// BenchmarkTokenizePhone tokenizes UK mobile numbers (64 valid ones, in
// national format, taken in turn: a single number's cost is its own walk's
// length) through Tokenizer.Tokenize: libphonenumber dominates (the
// original is parsed, and each cycle-walk candidate is checked against the
// region's metadata and, when it passes, parsed back to prove the token
// reverses). BenchmarkTokenizePhoneReference is the same through phoneRef,
// the implementation without the metadata check (phone_test.go); the US
// pair uses numbers of the United States in E.164.
func BenchmarkTokenizePhone(b *testing.B) {
	benchPhone(b, Phone{DefaultRegion: "GB"}, phoneBenchNumbers(b, "GB", phonenumbers.NATIONAL))
}

func BenchmarkTokenizePhoneReference(b *testing.B) {
	benchPhone(b, phoneRef{Phone{DefaultRegion: "GB"}}, phoneBenchNumbers(b, "GB", phonenumbers.NATIONAL))
}

func BenchmarkTokenizePhoneUS(b *testing.B) {
	benchPhone(b, Phone{}, phoneBenchNumbers(b, "US", phonenumbers.E164))
}

func BenchmarkTokenizePhoneUSReference(b *testing.B) {
	benchPhone(b, phoneRef{Phone{}}, phoneBenchNumbers(b, "US", phonenumbers.E164))
}

// BenchmarkTokenizePhoneWorld is the pair for data the metadata check was
// not tuned on: one valid mobile number (E.164) of each region that is the
// main region of its calling code (the reference fails on many numbers of
// the others; see TestPhoneEveryRegion) and long enough to tokenize (6
// digits), taken in turn.
func BenchmarkTokenizePhoneWorld(b *testing.B) {
	benchPhone(b, Phone{}, phoneWorldNumbers(b))
}

func BenchmarkTokenizePhoneWorldReference(b *testing.B) {
	benchPhone(b, phoneRef{Phone{}}, phoneWorldNumbers(b))
}

func phoneWorldNumbers(b *testing.B) []string {
	tk, err := New(benchKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := Scope{Tenant: "acme", Field: "Customer.Phone"}
	var out []string
	for _, region := range slices.Sorted(maps.Keys(phonenumbers.GetSupportedRegions())) {
		cc := int32(phonenumbers.GetCountryCodeForRegion(region))
		if minorRegion(cc, region) || phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE) == nil {
			continue
		}
		n := phoneBenchNumbers(b, region, phonenumbers.E164)[0]
		if _, err := tk.Tokenize(b.Context(), MethodFF1, s, Phone{}, n); err != nil {
			continue // too short for the cipher
		}
		out = append(out, n)
	}
	if len(out) < 150 {
		b.Fatalf("%d regions", len(out))
	}
	return out
}

// phoneBenchNumbers returns 64 valid mobile numbers of region, the same
// ones every run, written in format.
func phoneBenchNumbers(b *testing.B, region string, format phonenumbers.PhoneNumberFormat) []string {
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	nsn := phonenumbers.GetNationalSignificantNumber(ex)
	rng := rand.New(rand.NewPCG(7, 8))
	var out []string
	for tries := 0; len(out) < 64; tries++ {
		if tries == 100_000 {
			b.Fatalf("%s: no valid numbers from the example's pattern", region)
		}
		d := []byte(nsn)
		for i := 2; i < len(d); i++ {
			d[i] = byte('0' + rng.IntN(10))
		}
		n, err := phonenumbers.Parse(fmt.Sprintf("+%d%s", ex.GetCountryCode(), d), "ZZ")
		if err == nil && phonenumbers.IsValidNumber(n) && phonenumbers.GetRegionCodeForNumber(n) == region {
			out = append(out, phonenumbers.Format(n, format))
		}
	}
	return out
}

func benchPhone(b *testing.B, f TokenFormat, values []string) {
	tk, err := New(benchKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	s := Scope{Tenant: "acme", Field: "Customer.Phone"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		benchString, err = tk.Tokenize(ctx, MethodFF1, s, f, values[i%len(values)])
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}
