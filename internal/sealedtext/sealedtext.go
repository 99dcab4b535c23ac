// Package sealedtext recognises the text form of an envelope field
// ciphertext ("pii1.", "pii2.", "pii3." followed by base64url) without
// importing package envelope, so that packages which must not depend on
// envelope (mask) can refuse to display a value that is still sealed.
//
// The rules are those of envelope/internal/format (see envelope/FORMAT.md):
// the prefix, canonical unpadded base64url, a first byte equal to the
// prefix's version, and the minimum length of that version. IsSealed is
// true exactly when envelope.IsSealed is; the tests check it against
// envelope and against the frozen ciphertexts of every shipped version.
package sealedtext

// Minimum binary lengths per version (envelope/internal/format): v1 is the
// version, DEK id, nonce, commitment and tag; v2 the version, wrapped-key
// length, nonce, commitment and tag, plus the wrapped key; v3 the version,
// commitment and SIV.
const (
	v1Min       = 1 + 3 + 12 + 16 + 16
	v2Fixed     = 1 + 2 + 12 + 16 + 16
	v3Min       = 1 + 16 + 16
	prefixLen   = len("pii1.")
	alphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	invalidChar = 0xff
)

var decode = func() (t [256]byte) {
	for i := range t {
		t[i] = invalidChar
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// IsSealed reports whether s is the text form of a field ciphertext of a
// version this module ships: "pii1." / "pii2." / "pii3." followed by
// canonical base64url (no padding, no line breaks, zero trailing bits)
// whose first byte is that version and whose length is at least that
// version's minimum. It does not authenticate s and does not allocate.
func IsSealed(s string) bool {
	if len(s) < prefixLen || s[0] != 'p' || s[1] != 'i' || s[2] != 'i' || s[4] != '.' {
		return false
	}
	v := s[3]
	if v < '1' || v > '3' {
		return false
	}
	version := v - '0'
	src := s[prefixLen:]
	n := len(src)
	if n%4 == 1 {
		return false
	}
	for i := 0; i < n; i++ {
		if decode[src[i]] == invalidChar {
			return false
		}
	}
	// Canonical encoding: the bits past the last whole byte are zero.
	switch n % 4 {
	case 2:
		if decode[src[n-1]]&0x0f != 0 {
			return false
		}
	case 3:
		if decode[src[n-1]]&0x03 != 0 {
			return false
		}
	}
	size := n/4*3 + [4]int{0, 0, 1, 2}[n%4]
	if size == 0 {
		return false
	}
	// The first three bytes: the version and, for v2, the wrapped-key length.
	var head [3]byte
	var acc uint32
	k := min(n, 4)
	for i := 0; i < k; i++ {
		acc |= uint32(decode[src[i]]) << (18 - 6*i)
	}
	head[0], head[1], head[2] = byte(acc>>16), byte(acc>>8), byte(acc)
	if head[0] != version {
		return false
	}
	switch version {
	case 1:
		return size >= v1Min
	case 2:
		if size < 3 {
			return false
		}
		wl := int(head[1])<<8 | int(head[2])
		return wl != 0 && size >= v2Fixed+wl
	default:
		return size >= v3Min
	}
}
