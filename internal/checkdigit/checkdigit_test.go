package checkdigit_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/checkdigit"
)

func TestLuhn(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"4111111111111111", true},
		{"4111 1111 1111 1111", true},
		{"4111-1111-1111-1112", false},
		{"79927398713", true},
		{"79927398710", false},
		{"0", false},
		{"00", true},
		{"", false},
	} {
		require.Equal(t, tc.ok, checkdigit.LuhnText(tc.s), tc.s)
		var d []uint16
		for _, c := range tc.s {
			if c >= '0' && c <= '9' {
				d = append(d, uint16(c-'0'))
			}
		}
		if len(d) > 1 {
			require.Equal(t, tc.ok, checkdigit.LuhnSum(d) == 0, tc.s)
		}
	}
}

func TestIBAN(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"GB82WEST12345698765432", true},
		{"DE89370400440532013000", true},
		{"DE89370400440532013001", false},
		{"NL91ABNA0417164300", true},
		{"gb82WEST12345698765432", false}, // not upper case
		{"GB82", false},
	} {
		require.Equal(t, tc.ok, checkdigit.IBANValid([]byte(tc.s)), tc.s)
	}
	cd, ok := checkdigit.IBANCheckDigits([]byte("GB00WEST12345698765432"))
	require.True(t, ok)
	require.Equal(t, 82, cd)
	_, ok = checkdigit.IBANCheckDigits([]byte("GB0"))
	require.False(t, ok)
}
