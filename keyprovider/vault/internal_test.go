package vault

import (
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
