package envelope

import (
	"crypto/subtle"
	"encoding/base64"
)

func commitEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func b64Encode(dst, src []byte) []byte {
	n := base64.RawURLEncoding.EncodedLen(len(src))
	base64.RawURLEncoding.Encode(dst[:n], src)
	return dst[:n]
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
