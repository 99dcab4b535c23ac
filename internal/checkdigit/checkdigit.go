// Package checkdigit holds the check-digit algorithms that mask (to
// recognise identifiers) and tokenize (to keep or break a token's check
// digit) share, written once: Luhn (ISO/IEC 7812, card numbers), the
// ISO 7064 mod 97-10 of IBANs (ISO 13616), and the check digits of
// national identifiers (national.go): Verhoeff, ISO 7064 MOD 11,10 and the
// weighted sums of each scheme.
package checkdigit

// LuhnSum returns the Luhn sum modulo 10 of the digits d (values 0–9,
// most significant first); a number passes the check when it is 0.
func LuhnSum[T ~uint8 | ~uint16 | ~int](d []T) int {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i])
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum % 10
}

// LuhnText reports whether the ASCII digits of s pass the Luhn check;
// every other byte is skipped, so separators may stay in. Fewer than two
// digits never pass.
func LuhnText(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		v := int(c - '0')
		if n%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		n++
	}
	return n > 1 && sum%10 == 0
}

// Mod97 returns the ISO 7064 mod 97-10 remainder of an IBAN in compact,
// upper-case form (country, check digits, BBAN), computed over the BBAN
// followed by the first four characters as ISO 13616 prescribes, letters
// counting as 10–35. ok is false when a character is neither a digit nor
// an upper-case letter or b is shorter than 5. A valid IBAN has remainder 1.
func Mod97(b []byte) (rem int, ok bool) {
	if len(b) < 5 {
		return 0, false
	}
	for _, part := range [2][]byte{b[4:], b[:4]} {
		for _, c := range part {
			switch {
			case c >= '0' && c <= '9':
				rem = (rem*10 + int(c-'0')) % 97
			case c >= 'A' && c <= 'Z':
				rem = (rem*100 + int(c-'A') + 10) % 97
			default:
				return 0, false
			}
		}
	}
	return rem, true
}

// IBANValid reports whether a compact, upper-case IBAN passes mod 97.
func IBANValid(b []byte) bool {
	rem, ok := Mod97(b)
	return ok && rem == 1
}

// IBANCheckDigits returns the check digits (02–98) that make a compact
// IBAN valid, whatever its current check digits are.
func IBANCheckDigits(b []byte) (int, bool) {
	if len(b) < 5 {
		return 0, false
	}
	var probe [34]byte
	if len(b) > len(probe) {
		return 0, false
	}
	n := copy(probe[:], b)
	probe[2], probe[3] = '0', '0'
	rem, ok := Mod97(probe[:n])
	if !ok {
		return 0, false
	}
	return 98 - rem, true
}

// CompactIBAN returns s in compact, upper-case form when it has the shape
// of an IBAN (two letters, two digits, 15–34 letters and digits in all,
// spaces and dashes between them dropped), else nil. The checksum is not
// checked (IBANValid does).
func CompactIBAN(s string) []byte {
	if len(s) > 64 {
		return nil
	}
	b := make([]byte, 0, 34)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return nil
		}
		b = append(b, c)
	}
	letter := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(b) < 15 || len(b) > 34 || !letter(b[0]) || !letter(b[1]) || !digit(b[2]) || !digit(b[3]) {
		return nil
	}
	return b
}
