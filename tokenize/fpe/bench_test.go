package fpe

import (
	"crypto/aes"
	"testing"
)

// benchKey is a test key; never hard-code keys in production.
var benchKey = []byte("0123456789abcdef0123456789abcdef")

var benchSink []uint16

// BenchmarkAESBlock is the baseline: one AES-256 block encryption through
// cipher.Block. FF1 ratios are reported against it.
func BenchmarkAESBlock(b *testing.B) {
	blk, err := aes.NewCipher(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	var buf [16]byte
	b.ReportAllocs()
	for b.Loop() {
		blk.Encrypt(buf[:], buf[:])
	}
}

func benchDigits16() []uint16 {
	x := make([]uint16, 16)
	for i := range x {
		x[i] = uint16((i*7 + 3) % 10)
	}
	return x
}

func BenchmarkFF1Radix10Len16(b *testing.B) {
	c, err := NewFF1(benchKey, 10)
	if err != nil {
		b.Fatal(err)
	}
	x := benchDigits16()
	tweak := []byte("tnt/fld1") // 8 bytes, the size of a Tokenizer-derived tweak
	b.ReportAllocs()
	for b.Loop() {
		benchSink, err = c.EncryptNumerals(tweak, x)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFF31Radix10Len16(b *testing.B) {
	c, err := NewFF31(benchKey, 10)
	if err != nil {
		b.Fatal(err)
	}
	x := benchDigits16()
	tweak := []byte("1234567")
	b.ReportAllocs()
	for b.Loop() {
		benchSink, err = c.EncryptNumerals(tweak, x)
		if err != nil {
			b.Fatal(err)
		}
	}
}
