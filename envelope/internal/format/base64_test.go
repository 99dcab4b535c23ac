package format

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzBase64(f *testing.F) {
	for _, s := range []string{"", "A", "AQ", "AQI", "AQID", "AQIDBA", "AQIDBAU", "AQIDBAUG", "AR", "AQJ", "-_-_", "a+b/", "AQ\nID", "AQID\r",
		"AQIDBAUGBwgJCgsMDQ4P", "AQIDBAUGBwgJCgsMDQ4PEA", "AQIDBAUGBwgJCgsM*Q4P", "AQIDBAUGBwgJCgs\nDQ4P"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := base64.RawURLEncoding.Strict().DecodeString(s)
		if strings.ContainsAny(s, "\r\n") {
			werr = base64.CorruptInputError(0) // the standard decoder skips them; we refuse
		}
		dst := make([]byte, len(s)*3/4+8)
		n, ok := decodeB64(dst, []byte(s))
		if ok != (werr == nil) {
			t.Fatalf("%q: ok %v, encoding/base64 err %v", s, ok, werr)
		}
		if ok && !bytes.Equal(dst[:n], want) {
			t.Fatalf("%q: %x, want %x", s, dst[:n], want)
		}
		// The string instantiation (DecryptString's) agrees.
		dst2 := make([]byte, len(s)*3/4+8)
		n2, ok2 := decodeB64(dst2, s)
		if ok2 != ok || n2 != n || !bytes.Equal(dst2[:n2], dst[:n]) {
			t.Fatalf("%q: string and []byte decoders differ", s)
		}
	})
}

func TestBase64Exhaustive(t *testing.T) {
	// Every length up to 70 bytes, with every byte value in each position
	// of a short input.
	for n := 0; n <= 70; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*37 + n)
		}
		enc := base64.RawURLEncoding.EncodeToString(src)
		dst := make([]byte, len(enc)*3/4+8)
		m, ok := decodeB64(dst, []byte(enc))
		require.True(t, ok, n)
		require.Equal(t, src, dst[:m])
	}
	// Every byte value in every position of texts long enough for the
	// sixteen-, eight- and four-character loops and both tails.
	for _, n := range []int{32, 34} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*29 + 1)
		}
		checkEveryByte(t, base64.RawURLEncoding.EncodeToString(raw))
	}
}

func checkEveryByte(t *testing.T, valid string) {
	for pos := range len(valid) {
		for c := 0; c < 256; c++ {
			s := []byte(valid)
			s[pos] = byte(c)
			want, werr := base64.RawURLEncoding.Strict().DecodeString(string(s))
			dst := make([]byte, len(s))
			n, ok := decodeB64(dst, s)
			require.Equal(t, werr == nil && c != '\r' && c != '\n', ok, "byte %d at %d", c, pos)
			if ok {
				require.Equal(t, want, dst[:n])
			}
		}
	}
}

func FuzzBase64Encode(f *testing.F) {
	for _, s := range [][]byte{{}, {1}, {1, 2}, {1, 2, 3}, make([]byte, 7), make([]byte, 8), make([]byte, 80), []byte("alice@example.com")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := base64.RawURLEncoding.EncodeToString(b)
		dst := make([]byte, len(want))
		encodeB64(dst, b)
		if string(dst) != want {
			t.Fatalf("%x: %q, want %q", b, dst, want)
		}
	})
}

func TestBase64EncodeLengths(t *testing.T) {
	for n := 0; n <= 100; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*91 + n*7)
		}
		want := base64.RawURLEncoding.EncodeToString(src)
		dst := make([]byte, len(want))
		encodeB64(dst, src)
		require.Equal(t, want, string(dst), n)
	}
}

// benchBin is the binary form of a sealed 32-byte value (48 bytes of
// overhead): what DecryptString32 and EncryptString32 decode and encode.
var benchBin = func() []byte {
	b := make([]byte, V1Overhead+32)
	for i := range b {
		b[i] = byte(i*131 + 7)
	}
	return b
}()

// BenchmarkBase64Decode compares the hand-written decoder with
// encoding/base64 in the same run, on the text of a sealed 32-byte value.
func BenchmarkBase64Decode(b *testing.B) {
	src := []byte(base64.RawURLEncoding.EncodeToString(benchBin))
	dst := make([]byte, len(benchBin)+8)
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeB64(dst, src); !ok {
				b.Fatal("decode")
			}
		}
	})
	std := base64.RawURLEncoding.Strict()
	b.Run("std", func(b *testing.B) {
		for b.Loop() {
			if _, err := std.Decode(dst, src); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBase64Encode is BenchmarkBase64Decode for the encoder.
func BenchmarkBase64Encode(b *testing.B) {
	dst := make([]byte, base64.RawURLEncoding.EncodedLen(len(benchBin)))
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			encodeB64(dst, benchBin)
		}
	})
	b.Run("std", func(b *testing.B) {
		for b.Loop() {
			base64.RawURLEncoding.Encode(dst, benchBin)
		}
	})
}
