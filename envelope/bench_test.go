package envelope_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
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

var benchBinding = envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email", Record: "c-1", Subject: "s-1"}

func benchSealer(b *testing.B, opts *envelope.Options) *envelope.Sealer {
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
