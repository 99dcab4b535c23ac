package checkdigit_test

import (
	"strings"
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

// Published examples of each scheme (issuers' documentation and the
// schemes' reference pages), and the same with one digit changed.
func TestNational(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(string) bool
		ok   []string
		bad  []string
	}{
		{"Verhoeff", checkdigit.Verhoeff, []string{"2363", "123451", "234123412346"}, []string{"2364", "123452", "1", ""}},
		{"Mod11_10", checkdigit.Mod11_10, []string{"86095742719", "47036892816", "65929970489", "57549285017", "25768131411"}, []string{"86095742718", "47036892815", "x"}},
		{"BSN", checkdigit.BSN, []string{"111222333", "123456782"}, []string{"111222334", "123456783", "000000000", "12345678"}},
		{"PESEL", checkdigit.PESEL, []string{"44051401359", "02070803628"}, []string{"44051401358", "02070803627"}},
		{"CPF", checkdigit.CPF, []string{"11144477735", "52998224725"}, []string{"11144477736", "52998224715"}},
		{"TFN", checkdigit.TFN, []string{"123456782", "876543210", "37118629"}, []string{"123456783", "876543211", "1234567"}},
		{"NIR", checkdigit.NIR, []string{"269054958815780", "255081416802538", "185052A00608435", "185052B00608462"}, []string{"269054958815781", "2690549588157", "x69054958815780"}},
		{"CodiceFiscale", checkdigit.CodiceFiscale, []string{"RSSMRA85T10A562S", "MRTMTT25D09F205Z"}, []string{"RSSMRA85T10A562T", "RSSMRA85T10A562"}},
	} {
		for _, s := range tc.ok {
			require.True(t, tc.f(s), "%s(%s)", tc.name, s)
		}
		for _, s := range tc.bad {
			require.False(t, tc.f(s), "%s(%s)", tc.name, s)
		}
	}
	require.Equal(t, byte('Z'), checkdigit.DNILetter("12345678"))
	require.Equal(t, byte('L'), checkdigit.DNILetter("01234567")) // NIE X1234567L
	require.Equal(t, byte(0), checkdigit.DNILetter("1234567"))
}

func TestCompactIBAN(t *testing.T) {
	for in, want := range map[string]string{
		"GB82 WEST 1234 5698 7654 32":  "GB82WEST12345698765432",
		"gb82-west-1234-5698-7654-32":  "GB82WEST12345698765432",
		"GB82 WEST 1234":               "",
		"GB8X WEST 1234 5698 7654 32":  "",
		"1B82 WEST 1234 5698 7654 32":  "",
		"GB82 WEST 1234 5698 7654 32!": "",
		strings.Repeat("GB82WEST", 10): "",
	} {
		require.Equal(t, want, string(checkdigit.CompactIBAN(in)), in)
	}
}
