package format

import "encoding/binary"

// A base64url (no padding) codec for the hot path: the text form of every
// sealed string goes through it. It is strict where encoding/base64 is
// lenient (it rejects \r and \n, which the standard decoder skips), so
// decode-then-encode is byte-identical. The decoder turns each character
// into its bits already in place through four shift tables and writes
// eight characters as one 8-byte store, sixteen per loop; the encoder maps
// twelve bits to two characters through one 8 KiB table. FuzzBase64 and
// FuzzBase64Encode check both against encoding/base64.
//
// They stay because they pay: BenchmarkBase64Decode and
// BenchmarkBase64Encode compare them with encoding/base64 in the same run,
// on the 107-character text of a sealed 32-byte value; BENCHMARKS.md at the
// module root has the ratios (rows Base64Decode/hand / Base64Decode/std and
// Base64Encode/hand / Base64Encode/std; below 1 means the hand-written codec
// is faster). A ratio that climbs towards 1 means the codec should go.

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const bad = 0xff000000 // marks a byte outside the alphabet

var decTab [4][256]uint32

func init() {
	for i := range decTab {
		for c := range decTab[i] {
			decTab[i][c] = bad
		}
		for v := 0; v < len(alphabet); v++ {
			decTab[i][alphabet[v]] = uint32(v) << (18 - 6*i)
		}
	}
}

// decodeB64 decodes src into dst, which needs room for len(src)*3/4
// bytes plus 2 of slack, returning the decoded length, or ok false for a
// byte outside the alphabet, a dangling character or non-zero trailing
// bits.
func decodeB64[T string | []byte](dst []byte, src T) (n int, ok bool) {
	t0, t1, t2, t3 := &decTab[0], &decTab[1], &decTab[2], &decTab[3]
	for len(src) >= 16 && len(dst)-n >= 14 {
		s := src[:16]
		a := t0[s[0]] | t1[s[1]] | t2[s[2]] | t3[s[3]]
		b := t0[s[4]] | t1[s[5]] | t2[s[6]] | t3[s[7]]
		c := t0[s[8]] | t1[s[9]] | t2[s[10]] | t3[s[11]]
		d := t0[s[12]] | t1[s[13]] | t2[s[14]] | t3[s[15]]
		if (a|b|c|d)&bad != 0 {
			return 0, false
		}
		o := dst[n : n+14]
		binary.BigEndian.PutUint64(o, uint64(a)<<40|uint64(b)<<16)
		binary.BigEndian.PutUint64(o[6:], uint64(c)<<40|uint64(d)<<16)
		n += 12
		src = src[16:]
	}
	for len(src) >= 8 && len(dst)-n >= 8 {
		a := t0[src[0]] | t1[src[1]] | t2[src[2]] | t3[src[3]]
		b := t0[src[4]] | t1[src[5]] | t2[src[6]] | t3[src[7]]
		if (a|b)&bad != 0 {
			return 0, false
		}
		binary.BigEndian.PutUint64(dst[n:], uint64(a)<<40|uint64(b)<<16)
		n += 6
		src = src[8:]
	}
	for len(src) >= 4 {
		a := t0[src[0]] | t1[src[1]] | t2[src[2]] | t3[src[3]]
		if a&bad != 0 || len(dst)-n < 3 {
			return 0, false
		}
		dst[n], dst[n+1], dst[n+2] = byte(a>>16), byte(a>>8), byte(a)
		n += 3
		src = src[4:]
	}
	switch len(src) {
	case 0:
	case 2:
		a := t0[src[0]] | t1[src[1]]
		if a&bad != 0 || a&0xffff != 0 || len(dst)-n < 1 {
			return 0, false
		}
		dst[n] = byte(a >> 16)
		n++
	case 3:
		a := t0[src[0]] | t1[src[1]] | t2[src[2]]
		if a&bad != 0 || a&0xff != 0 || len(dst)-n < 2 {
			return 0, false
		}
		dst[n], dst[n+1] = byte(a>>16), byte(a>>8)
		n += 2
	default:
		return 0, false
	}
	return n, true
}

// encTab2[x] is the two characters of the 12-bit value x, big-endian.
var encTab2 = func() (t [4096]uint16) {
	for i := range t {
		t[i] = uint16(alphabet[i>>6])<<8 | uint16(alphabet[i&63])
	}
	return t
}()

// encodeB64 writes the base64url (no padding) encoding of src to dst,
// which must hold exactly EncodedLen(len(src)) bytes: twelve source bytes
// (two 8-byte loads) per loop, then six, then three.
func encodeB64(dst, src []byte) {
	di := 0
	t := &encTab2
	for len(src) >= 14 && len(dst)-di >= 16 {
		v := binary.BigEndian.Uint64(src)
		w := binary.BigEndian.Uint64(src[6:])
		d := dst[di : di+16]
		binary.BigEndian.PutUint64(d, uint64(t[v>>52])<<48|uint64(t[v>>40&0xfff])<<32|uint64(t[v>>28&0xfff])<<16|uint64(t[v>>16&0xfff]))
		binary.BigEndian.PutUint64(d[8:], uint64(t[w>>52])<<48|uint64(t[w>>40&0xfff])<<32|uint64(t[w>>28&0xfff])<<16|uint64(t[w>>16&0xfff]))
		di += 16
		src = src[12:]
	}
	for len(src) >= 8 && len(dst)-di >= 8 {
		v := binary.BigEndian.Uint64(src)
		binary.BigEndian.PutUint64(dst[di:], uint64(t[v>>52])<<48|uint64(t[v>>40&0xfff])<<32|uint64(t[v>>28&0xfff])<<16|uint64(t[v>>16&0xfff]))
		di += 8
		src = src[6:]
	}
	for len(src) >= 3 {
		v := uint(src[0])<<16 | uint(src[1])<<8 | uint(src[2])
		dst[di], dst[di+1], dst[di+2], dst[di+3] = alphabet[v>>18], alphabet[v>>12&63], alphabet[v>>6&63], alphabet[v&63]
		di += 4
		src = src[3:]
	}
	switch len(src) {
	case 1:
		v := uint(src[0]) << 16
		dst[di], dst[di+1] = alphabet[v>>18], alphabet[v>>12&63]
	case 2:
		v := uint(src[0])<<16 | uint(src[1])<<8
		dst[di], dst[di+1], dst[di+2] = alphabet[v>>18], alphabet[v>>12&63], alphabet[v>>6&63]
	}
}
