package vault

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactWarning(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Endpoint ignored these unrecognized parameters: [associated_data]", "Endpoint ignored these unrecognized parameters: [associated_data]"},
		{"key MDEyMzQ1Njc4OWFiY2RlZg== echoed", "key [REDACTED] echoed"},
		{"hex 30313233343536373839616263646566", "hex [REDACTED]"},
		{"url-safe abcdefgh_ijklmn-o1", "url-safe [REDACTED]"},
		{"fifteen chars: abcdefghijklmN.", "fifteen chars: abcdefghijklmN."},
		{"sixteen chars: abcdefghijklmnoP.", "sixteen chars: [REDACTED]."},
		{"lower-case words stay: partial_failure_response_code", "lower-case words stay: partial_failure_response_code"},
		{"lower-case hex goes: 0123456789abcdef", "lower-case hex goes: [REDACTED]"},
		{"control \x00\n\xff", "control ???"},
		{"", ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, redactWarning(tc.in), "%q", tc.in)
	}
	long := redactWarning(strings.Repeat("a b ", 100))
	require.Len(t, long, 203)
	require.True(t, strings.HasSuffix(long, "..."))
}

func TestParseCiphertext(t *testing.T) {
	tests := []struct {
		in      string
		version int
		ok      bool
	}{
		{"vault:v1:AAAA", 1, true},
		{"vault:v12:AAECAw==", 12, true},
		{"vault:v1:AAE=", 1, true},
		{"vault:v1:AAF=", 0, false}, // non-canonical padding bits
		{"vault:v01:AAAA", 0, false},
		{"vault:v0:AAAA", 0, false},
		{"vault:v:AAAA", 0, false},
		{"vault:v1:", 0, false},
		{"vault:v1:AA AA", 0, false},
		{"vault:v1:AA\nAA", 0, false},
		{"Vault:v1:AAAA", 0, false},
		{"vault:v1x:AAAA", 0, false},
		{"vault:v1:AAAA_", 0, false},
		{"vault:v1234567890:AAAA", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		v, raw, err := parseCiphertext(tc.in)
		if !tc.ok {
			require.Error(t, err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.version, v)
		require.NotEmpty(t, raw)
	}
}

func FuzzParseCiphertext(f *testing.F) {
	seeds := []string{"vault:v1:AAAA", "vault:v12:AAECAw==", "vault:v1:AAF=", "vault:v0:", ""}
	for _, s := range seeds {
		f.Add(s)
	}
	require.NotEmpty(f, seeds, "the seed corpus must not be empty")
	f.Fuzz(func(t *testing.T, s string) {
		v, raw, err := parseCiphertext(s)
		if err != nil {
			return
		}
		// Parse then re-encode is byte-identical: one string per ciphertext.
		enc := "vault:v" + strconv.Itoa(v) + ":" + base64.StdEncoding.EncodeToString(raw)
		require.Equal(t, s, enc)
	})
}
