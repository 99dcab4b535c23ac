package format_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/stretchr/testify/require"
)

var seeds = [][]byte{
	append([]byte{1, 0, 0, 1}, make([]byte, 44+17)...),
	append([]byte{2, 0, 3, 9, 9, 9}, make([]byte, 12+16+16)...),
	append([]byte{3}, make([]byte, 32+5)...),
	{},
	{1},
	{2, 0, 0},
	{9, 1, 2, 3},
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := format.Parse(b)
		if err != nil {
			var pe *format.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := c.Append(nil)
		if !bytes.Equal(out, b) {
			t.Fatalf("parse/marshal not identical:\n%x\n%x", b, out)
		}
		if c.Len() != len(b) {
			t.Fatalf("Len %d, want %d", c.Len(), len(b))
		}
		text := c.AppendText(nil)
		c2, err := format.ParseText(string(text))
		if err != nil {
			t.Fatalf("text form does not parse: %v", err)
		}
		if !bytes.Equal(c2.Append(nil), b) {
			t.Fatal("text round trip differs")
		}
	})
}

func FuzzParseText(f *testing.F) {
	for _, s := range seeds {
		if len(s) > 0 && format.Prefix(format.Version(s[0])) != "" {
			if c, err := format.Parse(s); err == nil {
				f.Add(string(c.AppendText(nil)))
			}
		}
	}
	f.Add("pii1.")
	f.Add("pii9.AQ")
	f.Add("plaintext")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := format.ParseText(s)
		if err != nil {
			var pe *format.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if got := string(c.AppendText(nil)); got != s {
			t.Fatalf("text parse/marshal not identical:\n%q\n%q", s, got)
		}
	})
}

func TestSeedsPresent(t *testing.T) {
	require.NotEmpty(t, seeds, "fuzz seed corpus must not be empty")
	valid := 0
	for _, s := range seeds {
		if _, err := format.Parse(s); err == nil {
			valid++
		}
	}
	require.Equal(t, 3, valid, "one valid seed per version")
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		unknown bool
	}{
		{"empty", nil, false},
		{"v1 short", append([]byte{1}, make([]byte, 46)...), false},
		{"v2 zero wrapped", append([]byte{2, 0, 0}, make([]byte, 60)...), false},
		{"v2 short", []byte{2, 0, 5, 1, 2}, false},
		{"v3 short", append([]byte{3}, make([]byte, 31)...), false},
		{"v0", []byte{0, 1, 2}, true},
		{"v4", append([]byte{4}, make([]byte, 60)...), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := format.Parse(tc.in)
			require.Error(t, err)
			require.Equal(t, tc.unknown, errors.Is(err, format.ErrUnknownVersion))
		})
	}
	for _, s := range []string{"", "pii", "pii1", "pii01.AQ", "pii1.AQ=", "pii2.AQAAAQ", "Pii1.AQ", "pii1.A"} {
		_, err := format.ParseText(s)
		require.Error(t, err, s)
	}
}

func TestOverhead(t *testing.T) {
	require.Equal(t, 48, format.V1Overhead)
	require.Equal(t, 33, format.V3Overhead)
}
