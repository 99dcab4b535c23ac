package envelope

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
)

// commitEqual compares a cached commitment with a carried one in constant
// time (b's length is public: the parser fixes it at 16).
func commitEqual(a, b []byte) bool {
	if len(a) != 16 || len(b) != 16 {
		return subtle.ConstantTimeCompare(a, b) == 1
	}
	x := binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b)
	y := binary.LittleEndian.Uint64(a[8:]) ^ binary.LittleEndian.Uint64(b[8:])
	return x|y == 0
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
