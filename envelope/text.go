package envelope

import "github.com/fieldguard/pii/envelope/internal/format"

// IsSealed reports whether s is in the text form of a version this code
// knows: the "pii1." / "pii2." / "pii3." prefix followed by canonical
// base64url that parses. It does not authenticate s; a plaintext that
// happens to look sealed is still refused by Open (ErrDecrypt), and Seal
// re-encrypts any value that does not open.
func IsSealed(s string) bool {
	if _, ok := format.TextVersion(s); !ok {
		return false
	}
	_, err := format.ParseText(s)
	return err == nil
}
