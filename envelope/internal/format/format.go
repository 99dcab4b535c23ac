// Package format is the field ciphertext wire format of package envelope:
// every byte of every version is laid out in this one file (and described
// in envelope/FORMAT.md).
//
// Binary forms (all integers big-endian):
//
//	v1 keyring   01 | dek id (3) | nonce (12) | commitment (16) | GCM ciphertext || tag (n+16)
//	v2 inline    02 | wrapped len (2) | wrapped DEK (len) | nonce (12) | commitment (16) | GCM ciphertext || tag (n+16)
//	v3 det       03 | commitment (16) | SIV (16) || CTR ciphertext (n)
//
// Text form: "pii" + decimal version + "." + base64url without padding of
// the whole binary form (version byte included), e.g. "pii1.AQAAAQ...".
package format

import (
	"encoding/base64"
	"errors"
	"strconv"
)

// Version is the first byte of a binary ciphertext.
type Version byte

// The shipped versions.
const (
	V1Keyring Version = 1
	V2Inline  Version = 2
	V3Det     Version = 3
)

// Field sizes.
const (
	DEKIDSize      = 3
	NonceSize      = 12
	CommitmentSize = 16
	TagSize        = 16
	SIVSize        = 16
	WrappedLenSize = 2

	// MaxDEKID is the largest DEK id a v1 ciphertext can name.
	MaxDEKID = 1<<24 - 1
	// MaxWrapped is the largest wrapped DEK a v2 ciphertext can carry.
	MaxWrapped = 1<<16 - 1

	// V1Header is the v1 header length: version, DEK id, nonce, commitment.
	V1Header = 1 + DEKIDSize + NonceSize + CommitmentSize
	// V1Overhead is the v1 ciphertext expansion (48 bytes).
	V1Overhead = V1Header + TagSize
	// V3Header is the v3 header length: version, commitment.
	V3Header = 1 + CommitmentSize
	// V3Overhead is the v3 ciphertext expansion (33 bytes).
	V3Overhead = V3Header + SIVSize
)

// V2Header returns the v2 header length for a wrapped DEK of wrappedLen bytes.
func V2Header(wrappedLen int) int {
	return 1 + WrappedLenSize + wrappedLen + NonceSize + CommitmentSize
}

// ErrUnknownVersion reports a ciphertext whose version this code does not know.
var ErrUnknownVersion = errors.New("envelope: unknown ciphertext version")

// ParseError is returned for a malformed ciphertext. errors.Is(err,
// ErrUnknownVersion) holds when the version is the problem.
type ParseError struct {
	Version Version // 0 when not even the version could be read
	Reason  string
	unknown bool
}

func (e *ParseError) Error() string {
	if e.unknown {
		return "envelope: unknown ciphertext version " + strconv.Itoa(int(e.Version))
	}
	return "envelope: malformed ciphertext: " + e.Reason
}

// Is makes errors.Is(err, ErrUnknownVersion) work.
func (e *ParseError) Is(target error) bool { return e.unknown && target == ErrUnknownVersion }

func malformed(v Version, reason string) error { return &ParseError{Version: v, Reason: reason} }

// Ciphertext is a parsed binary ciphertext. Its slices alias the parsed
// input.
type Ciphertext struct {
	Version    Version
	DEKID      uint32 // v1
	Wrapped    []byte // v2
	Nonce      []byte // v1, v2
	Commitment []byte // all versions
	Sealed     []byte // v1, v2: ciphertext||tag; v3: SIV||ciphertext
}

// Parse parses a binary ciphertext without copying.
func Parse(b []byte) (Ciphertext, error) {
	var c Ciphertext
	err := c.Parse(b)
	return c, err
}

// Parse sets c to the binary ciphertext b, without copying; on error c is
// left as it was. Hot paths use it to fill a Ciphertext in place rather
// than copy one back from the function.
func (c *Ciphertext) Parse(b []byte) error {
	if len(b) == 0 {
		return malformed(0, "empty")
	}
	v := Version(b[0])
	switch v {
	case V1Keyring:
		if len(b) < V1Overhead {
			return malformed(v, "too short")
		}
		c.Version = v
		c.DEKID = uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		c.Wrapped = nil
		c.Nonce = b[4 : 4+NonceSize]
		c.Commitment = b[4+NonceSize : V1Header]
		c.Sealed = b[V1Header:]
		return nil
	case V2Inline:
		if len(b) < 1+WrappedLenSize {
			return malformed(v, "too short")
		}
		wl := int(b[1])<<8 | int(b[2])
		if wl == 0 {
			return malformed(v, "empty wrapped key")
		}
		h := V2Header(wl)
		if len(b) < h+TagSize {
			return malformed(v, "too short")
		}
		o := 1 + WrappedLenSize
		*c = Ciphertext{
			Version:    v,
			Wrapped:    b[o : o+wl],
			Nonce:      b[o+wl : o+wl+NonceSize],
			Commitment: b[o+wl+NonceSize : h],
			Sealed:     b[h:],
		}
		return nil
	case V3Det:
		if len(b) < V3Overhead {
			return malformed(v, "too short")
		}
		*c = Ciphertext{
			Version:    v,
			Commitment: b[1:V3Header],
			Sealed:     b[V3Header:],
		}
		return nil
	}
	return &ParseError{Version: v, unknown: true}
}

// Len returns the binary length of c.
func (c *Ciphertext) Len() int {
	switch c.Version {
	case V1Keyring:
		return V1Header + len(c.Sealed)
	case V2Inline:
		return V2Header(len(c.Wrapped)) + len(c.Sealed)
	default:
		return V3Header + len(c.Sealed)
	}
}

// Append appends the binary form of c to dst. It panics on a Ciphertext
// that Parse could not have returned (programmer error).
func (c *Ciphertext) Append(dst []byte) []byte {
	dst = append(dst, byte(c.Version))
	switch c.Version {
	case V1Keyring:
		if c.DEKID > MaxDEKID {
			panic("format: DEK id out of range")
		}
		dst = PutDEKID(dst, c.DEKID)
		dst = append(dst, c.Nonce...)
	case V2Inline:
		if len(c.Wrapped) == 0 || len(c.Wrapped) > MaxWrapped {
			panic("format: wrapped key length out of range")
		}
		dst = append(dst, byte(len(c.Wrapped)>>8), byte(len(c.Wrapped)))
		dst = append(dst, c.Wrapped...)
		dst = append(dst, c.Nonce...)
	case V3Det:
	default:
		panic("format: unknown version")
	}
	dst = append(dst, c.Commitment...)
	return append(dst, c.Sealed...)
}

// PutDEKID appends a 3-byte DEK id.
func PutDEKID(dst []byte, id uint32) []byte {
	return append(dst, byte(id>>16), byte(id>>8), byte(id))
}

// Text encoding.

var b64 = base64.RawURLEncoding.Strict()

// prefixes[v] is the text prefix of version v.
var prefixes = [...]string{V1Keyring: "pii1.", V2Inline: "pii2.", V3Det: "pii3."}

// PrefixLen is the length of every shipped text prefix.
const PrefixLen = 5

// Prefix returns the text prefix for v ("pii1." ...), or "" if unknown.
func Prefix(v Version) string {
	if int(v) < len(prefixes) {
		return prefixes[v]
	}
	return ""
}

// TextVersion returns the version named by the text prefix of s, with ok
// false when s does not start with "pii<digits>.". The version may be
// unknown to Parse.
func TextVersion[T string | []byte](s T) (v Version, ok bool) {
	if len(s) < 5 || s[0] != 'p' || s[1] != 'i' || s[2] != 'i' {
		return 0, false
	}
	if s[4] == '.' && s[3] >= '1' && s[3] <= '9' {
		return Version(s[3] - '0'), true // one digit: every shipped version
	}
	n := 0
	i := 3
	for ; i < len(s) && i < 6 && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if i == 3 || i >= len(s) || s[i] != '.' || n > 255 || (s[3] == '0') {
		return 0, false
	}
	return Version(n), true
}

// EncodedLen returns the text length for a binary ciphertext of n bytes.
func EncodedLen(n int) int { return PrefixLen + b64.EncodedLen(n) }

// AppendText appends the text form of the binary ciphertext bin to dst.
func AppendText(dst []byte, bin []byte) []byte {
	dst = append(dst, Prefix(Version(bin[0]))...)
	n := len(dst)
	dst = append(dst, make([]byte, b64.EncodedLen(len(bin)))...)
	encodeB64(dst[n:], bin)
	return dst
}

// PutText writes the text form of bin to dst, which must be exactly
// EncodedLen(len(bin)) bytes long.
func PutText(dst []byte, bin []byte) {
	copy(dst, Prefix(Version(bin[0])))
	encodeB64(dst[PrefixLen:], bin)
}

// DecodedLen returns an upper bound of the binary length of a text form of
// n bytes, or -1 when n is too short.
func DecodedLen(n int) int {
	if n < PrefixLen {
		return -1
	}
	return b64.DecodedLen(n - PrefixLen)
}

// ErrNoPrefix is DecodeText's error for a value without the
// "pii<digits>." prefix: not a sealed value at all.
var ErrNoPrefix error = malformed(0, "no pii text prefix")

// DecodeText decodes the text form s into dst (appending; give it capacity
// for DecodedLen(len(s)) + 8 more bytes to avoid allocating and take the
// fast path; bytes past the result up to cap(dst) may be overwritten) and
// returns the extended slice holding the binary form. It fails with
// ErrNoPrefix when s has no text prefix, checks that the prefix and the
// version byte agree, and rejects non-canonical base64, so
// encode(decode(s)) == s.
func DecodeText[T string | []byte](dst []byte, s T) ([]byte, error) {
	v, ok := TextVersion(s)
	if !ok {
		return nil, ErrNoPrefix
	}
	// Every known prefix is "pii" + one digit + ".", which TextVersion
	// checked; an unknown version has no prefix to compare.
	if Prefix(v) == "" {
		return nil, &ParseError{Version: v, unknown: true}
	}
	start := len(dst)
	src := s[PrefixLen:]
	// Decode with the whole capacity as room: base64's fast path writes
	// 8-byte words and needs slack past the decoded length.
	if need := start + b64.DecodedLen(len(src)) + 2; cap(dst) < need {
		dst = append(dst, make([]byte, need-start)...)[:start]
	}
	n, ok := decodeB64(dst[start:cap(dst)], src)
	if !ok {
		return nil, malformed(v, "bad base64")
	}
	out := dst[:start+n]
	if len(out) == start || Version(out[start]) != v {
		return nil, malformed(v, "prefix and version byte differ")
	}
	return out, nil
}

// ParseText decodes and parses a text ciphertext (allocating the binary form).
func ParseText(s string) (Ciphertext, error) {
	n := DecodedLen(len(s))
	if n < 0 {
		return Ciphertext{}, malformed(0, "too short")
	}
	bin, err := DecodeText(make([]byte, 0, n), s)
	if err != nil {
		return Ciphertext{}, err
	}
	return Parse(bin)
}

// AppendTextCiphertext appends the text form of c.
func (c *Ciphertext) AppendText(dst []byte) []byte {
	return AppendText(dst, c.Append(make([]byte, 0, c.Len())))
}

// DEKIDOf returns the DEK id that the v1 ciphertext s names, in text or
// binary form, reading only its first bytes; ok is false for anything
// else. It says nothing about whether the rest of s parses: it is a hint
// for loading keys ahead, and the value is parsed in full when opened.
func DEKIDOf[T string | []byte](s T, text bool) (id uint32, ok bool) {
	if !text {
		if len(s) < 1+DEKIDSize || Version(s[0]) != V1Keyring {
			return 0, false
		}
		return uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]), true
	}
	// "pii1." then base64url: 4 characters carry 3 bytes, so 8 carry the
	// version byte and the 3-byte id.
	if len(s) < PrefixLen+8 || string(s[:PrefixLen]) != prefixes[V1Keyring] {
		return 0, false
	}
	c := s[PrefixLen:]
	a := decTab[0][c[0]] | decTab[1][c[1]] | decTab[2][c[2]] | decTab[3][c[3]]
	b := decTab[0][c[4]] | decTab[1][c[5]] | decTab[2][c[6]] | decTab[3][c[7]]
	if (a|b)&bad != 0 || Version(a>>16&0xff) != V1Keyring {
		return 0, false
	}
	return (a&0xffff)<<8 | b>>16&0xff, true
}
