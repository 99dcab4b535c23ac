package envelope_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"runtime"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/tink-crypto/tink-go/v2/aead"
	tinksubtle "github.com/tink-crypto/tink-go/v2/aead/subtle"
)

var pt32 = []byte("0123456789abcdef0123456789abcdef")

func rawGCM(b *testing.B) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	a, _ := cipher.NewGCM(blk)
	return a
}

func BenchmarkRawAESGCM32(b *testing.B) {
	a := rawGCM(b)
	nonce := make([]byte, 12)
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(nonce)
		dst = a.Seal(dst[:0], nonce, pt32, nil)
	}
}

func BenchmarkRawAESGCMOpen32(b *testing.B) {
	a := rawGCM(b)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	ct := a.Seal(nil, nonce, pt32, nil)
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = a.Open(dst[:0], nonce, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// The ...Alloc baselines are the raw ones returning a fresh result each
// time, as any caller that keeps its plaintext must: they show how much of
// the envelope's ratio is the allocation (and its garbage collection) that
// the reusing baselines do not pay.

var sinkString string

func BenchmarkRawAESGCM32Alloc(b *testing.B) {
	a := rawGCM(b)
	nonce := make([]byte, 12)
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(nonce)
		sinkString = string(a.Seal(nil, nonce, pt32, nil))
	}
}

func BenchmarkRawAESGCMOpen32Alloc(b *testing.B) {
	a := rawGCM(b)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	ct := a.Seal(nil, nonce, pt32, nil)
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		pt, err := a.Open(dst[:0], nonce, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		sinkString = string(pt)
	}
}

var benchBinding = envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email", Record: "c-1", Subject: "s-1"}

func benchSealer(b *testing.B, opts *envelope.Options) *envelope.Sealer {
	if opts == nil {
		opts = &envelope.Options{Store: envelope.NewMemoryStore()}
	}
	s, err := envelope.New(testkp.New(nil), opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkEncryptString32(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	p := string(pt32)
	if _, err := s.EncryptString(ctx, p, benchBinding); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.EncryptString(ctx, p, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptString32(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	ct, err := s.EncryptString(ctx, string(pt32), benchBinding)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecryptString(ctx, ct, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

var pt64 = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

func BenchmarkEnvelopeRoundTrip64(b *testing.B) {
	s := benchSealer(b, &envelope.Options{Store: envelope.NewMemoryStore(), Inline: true})
	ctx := context.Background()
	if _, err := s.EncryptBytes(ctx, pt64, benchBinding); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ct, err := s.EncryptBytes(ctx, pt64, benchBinding)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.DecryptBytes(ctx, ct, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTinkEnvelopeRoundTrip64(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	kek, err := tinksubtle.NewAESGCM(key)
	if err != nil {
		b.Fatal(err)
	}
	env := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), kek)
	ad := []byte("acme/Customer/Email/c-1")
	b.ReportAllocs()
	for b.Loop() {
		ct, err := env.Encrypt(pt64, ad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.Decrypt(ct, ad); err != nil {
			b.Fatal(err)
		}
	}
}

type benchCustomer struct {
	ID      string `pii:"subject"`
	Tenant  string `pii:"tenant"`
	Name    string `pii:"name,encrypt"`
	Email   string `pii:"email,encrypt"`
	Phone   string `pii:"phone,encrypt"`
	Street  string `pii:"address,encrypt"`
	Zip     string `pii:"postcode,encrypt"`
	Country string `pii:"location,encrypt"`
	Plan    string `pii:"-"`
}

func BenchmarkSealCustomer(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	v := string(pt32)
	fresh := func() benchCustomer {
		return benchCustomer{ID: "s-1", Tenant: "acme", Name: v, Email: v, Phone: v, Street: v, Zip: v, Country: v, Plan: "gold"}
	}
	c := fresh()
	if err := s.Seal(ctx, &c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := fresh()
		if err := s.Seal(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenCustomer(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	v := string(pt32)
	sealed := benchCustomer{ID: "s-1", Tenant: "acme", Name: v, Email: v, Phone: v, Street: v, Zip: v, Country: v, Plan: "gold"}
	if err := s.Seal(ctx, &sealed); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := sealed
		if err := s.Open(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptBytes32(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.EncryptBytes(ctx, pt32, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptBytes32(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	ct, err := s.EncryptBytes(ctx, pt32, benchBinding)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecryptBytes(ctx, ct, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptDeterministic32(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	p := string(pt32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.EncryptDeterministic(ctx, p, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex32(b *testing.B) {
	s := benchSealer(b, nil)
	ctx := context.Background()
	p := string(pt32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", p); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSealNewSubject measures Seal of one record of a new data subject
// (its DEK made and written to the in-memory store) once the store holds
// have subjects. BenchmarkSealNewSubjectAt100000 over
// BenchmarkSealNewSubjectAt1000 is the in-memory store's goal (within
// 20%): every lookup takes constant time, whatever the number of subjects.
// Each iteration adds a subject, so run a fixed count (-benchtime=3000x,
// as scripts/benchmarks.sh does): timed runs let "At1000" grow to hundreds
// of thousands of subjects and compare two large stores.
func benchSealNewSubject(b *testing.B, have int) {
	ctx := context.Background()
	s, err := envelope.New(testkp.New(nil), &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Seal(ctx, subscribers("acme", 0, have)); err != nil {
		b.Fatal(err)
	}
	// Collect the fill's garbage now, so the loop does not pay for
	// marking it: the loop's own collections then cost the same per
	// record at any heap size.
	runtime.GC()
	next := have
	b.ReportAllocs()
	for b.Loop() {
		m := subscribers("acme", next, 1)
		if err := s.Seal(ctx, &m[0]); err != nil {
			b.Fatal(err)
		}
		next++
	}
}

func BenchmarkSealNewSubjectAt1000(b *testing.B)   { benchSealNewSubject(b, 1_000) }
func BenchmarkSealNewSubjectAt100000(b *testing.B) { benchSealNewSubject(b, 100_000) }
