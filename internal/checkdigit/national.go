package checkdigit

// Check digits of national identifiers. Each function takes the compact
// identifier (ASCII digits, and the letters the scheme uses, upper case)
// and checks its check digits only: the layout and the other rules of a
// scheme (dates, reserved prefixes) are the caller's.

// digitsOnly reports whether s is made of n ASCII digits.
func digitsOnly(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// weighted returns the sum of the digits of s times weights, position by
// position; s must be at least as long as weights.
func weighted(s string, weights ...int) int {
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	return sum
}

var (
	verhoeffD = [10][10]uint8{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]uint8{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 7, 6, 8, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// Verhoeff reports whether the digits s, check digit last, pass the
// Verhoeff dihedral check (Indian Aadhaar). Fewer than two digits never
// pass.
func Verhoeff(s string) bool {
	if len(s) < 2 || !digitsOnly(s, len(s)) {
		return false
	}
	c := uint8(0)
	for i := 0; i < len(s); i++ {
		c = verhoeffD[c][verhoeffP[i%8][s[len(s)-1-i]-'0']]
	}
	return c == 0
}

// Mod11_10 reports whether the digits s, check digit last, pass ISO 7064
// MOD 11,10 (German tax id, Steuer-IdNr).
func Mod11_10(s string) bool {
	if len(s) < 2 || !digitsOnly(s, len(s)) {
		return false
	}
	p := 10
	for i := 0; i < len(s)-1; i++ {
		x := (int(s[i]-'0') + p) % 10
		if x == 0 {
			x = 10
		}
		p = x * 2 % 11
	}
	c := 11 - p
	if c == 10 {
		c = 0
	}
	return int(s[len(s)-1]-'0') == c
}

// BSN reports whether nine digits pass the Dutch "elfproef": weights 9 to
// 2 and -1, sum a multiple of 11 (and not 0).
func BSN(s string) bool {
	if !digitsOnly(s, 9) {
		return false
	}
	sum := weighted(s, 9, 8, 7, 6, 5, 4, 3, 2) - int(s[8]-'0')
	return sum > 0 && sum%11 == 0
}

// PESEL reports whether eleven digits pass the Polish PESEL check digit.
func PESEL(s string) bool {
	if !digitsOnly(s, 11) {
		return false
	}
	return (10-weighted(s, 1, 3, 7, 9, 1, 3, 7, 9, 1, 3)%10)%10 == int(s[10]-'0')
}

// CPF reports whether eleven digits pass the two mod 11 check digits of a
// Brazilian CPF.
func CPF(s string) bool {
	if !digitsOnly(s, 11) {
		return false
	}
	d1 := weighted(s, 10, 9, 8, 7, 6, 5, 4, 3, 2) * 10 % 11 % 10
	d2 := weighted(s, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2) * 10 % 11 % 10
	return d1 == int(s[9]-'0') && d2 == int(s[10]-'0')
}

// TFN reports whether eight or nine digits pass the Australian tax file
// number weights (sum a multiple of 11).
func TFN(s string) bool {
	switch {
	case digitsOnly(s, 9):
		return weighted(s, 1, 4, 3, 7, 5, 8, 6, 9, 10)%11 == 0
	case digitsOnly(s, 8):
		return weighted(s, 10, 7, 8, 4, 6, 3, 5, 1)%11 == 0
	}
	return false
}

// NIR reports whether fifteen characters pass the key of a French social
// security number (NIR): 97 minus the first thirteen modulo 97. Corsican
// departments 2A and 2B (positions 6–7) count as 19 and 18.
func NIR(s string) bool {
	if len(s) != 15 || !digitsOnly(s[13:], 2) {
		return false
	}
	var b [13]byte
	copy(b[:], s)
	if b[5] == '2' && (b[6] == 'A' || b[6] == 'B') {
		b[5], b[6] = '1', '9'-(b[6]-'A')
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
		n = (n*10 + int(c-'0')) % 97
	}
	return 97-n == int(s[13]-'0')*10+int(s[14]-'0')
}

// DNILetter returns the check letter of a Spanish DNI (eight digits) or of
// an NIE once its initial X, Y or Z is replaced by 0, 1 or 2; 0 when s is
// not eight digits.
func DNILetter(s string) byte {
	if !digitsOnly(s, 8) {
		return 0
	}
	n := 0
	for i := 0; i < 8; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23]
}

// codiceOdd is the value of a character in an odd (1st, 3rd, …) position of
// an Italian codice fiscale, digits and letters alike (A and 0 are 1, B and
// 1 are 0, …).
var codiceOdd = [26]uint8{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// CodiceFiscale reports whether sixteen upper-case characters end in the
// check letter of an Italian codice fiscale.
func CodiceFiscale(s string) bool {
	if len(s) != 16 {
		return false
	}
	sum := 0
	for i := 0; i < 15; i++ {
		c := s[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c - 'A')
		default:
			return false
		}
		if i%2 == 0 {
			v = int(codiceOdd[v])
		}
		sum += v
	}
	return s[15] == byte('A'+sum%26)
}
