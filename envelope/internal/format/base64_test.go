package format

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzBase64(f *testing.F) {
	for _, s := range []string{"", "A", "AQ", "AQI", "AQID", "AQIDBA", "AQIDBAU", "AQIDBAUG", "AR", "AQJ", "-_-_", "a+b/", "AQ\nID", "AQID\r"} {
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
	for c := 0; c < 256; c++ {
		s := []byte("AQIDBAUG")
		s[3] = byte(c)
		_, werr := base64.RawURLEncoding.Strict().Decode(make([]byte, 8), s)
		_, ok := decodeB64(make([]byte, 16), s)
		require.Equal(t, werr == nil && c != '\r' && c != '\n', ok, "byte %d", c)
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
