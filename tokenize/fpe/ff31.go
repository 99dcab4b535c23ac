package fpe

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
)

// ff31TweakSize is the FF3-1 tweak length in bytes (56 bits), exactly.
const ff31TweakSize = 7

// FF31 is the FF3-1 format-preserving cipher of the NIST SP 800-38G Rev. 1
// draft, with a 56-bit tweak.
//
// FF3-1 is provided for interoperability only, for example with HashiCorp
// Vault's Transform secrets engine, which implements it. Prefer FF1: Beyne
// (CRYPTO 2021, "Linear Cryptanalysis of FF3-1 and FEA") showed practical
// distinguishing and message-recovery attacks on FF3-1 over small domains,
// after Durak and Vaudenay (CRYPTO 2017) broke the original FF3, and NIST's
// second public draft of SP 800-38G Rev. 1 (2025) removes the FF3 family,
// leaving FF1 as the only approved mode. FF1 is this package's default
// everywhere.
//
// Following the specification, the AES key is the byte-reversed input key,
// and numerals are read least significant first (NUM_radix(REV(X))).
//
// A *FF31 is immutable and safe for concurrent use.
type FF31 struct {
	block          cipher.Block // keyed with REVB(key)
	radix          int
	minLen, maxLen int
	// pow[k] = radix^k for every k whose power fits in 64 bits; halves up
	// to len(pow)-1 numerals take the machine-integer path.
	pow []uint64
	// inv[k] = floor((2^64-1)/pow[k]) and r64[k] = 2^64 mod pow[k], for
	// reducing the 128-bit y without a division when pow[k] < 2^32.
	inv, r64 []uint64
}

// NewFF31 returns an FF3-1 cipher for the given AES key (16, 24 or 32
// bytes) and radix (2..65536). Inputs must have radix^len ≥ 1,000,000 and at
// most 2·floor(log_radix(2^96)) numerals; tweaks are exactly 7 bytes.
func NewFF31(key []byte, radix int) (*FF31, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkRadix(radix); err != nil {
		return nil, err
	}
	rk := slices.Clone(key)
	slices.Reverse(rk)
	block, err := aes.NewCipher(rk)
	clear(rk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKey, err)
	}
	c := &FF31{block: block, radix: radix, minLen: minLenFor(radix)}
	// maxlen = 2·floor(log_radix(2^96)), computed exactly.
	lim := new(big.Int).Lsh(big.NewInt(1), 96)
	p, r, k := big.NewInt(1), big.NewInt(int64(radix)), 0
	for {
		p.Mul(p, r)
		if p.Cmp(lim) > 0 {
			break
		}
		k++
	}
	c.maxLen = 2 * k
	for e := 0; ; e++ {
		v, ok := powUint64(radix, e)
		if !ok {
			break
		}
		c.pow = append(c.pow, v)
		c.inv = append(c.inv, ^uint64(0)/v)
		c.r64 = append(c.r64, (^uint64(0)%v+1)%v)
	}
	return c, nil
}

// EncryptNumerals encrypts x under the 7-byte tweak and returns a new
// slice of the same length.
func (c *FF31) EncryptNumerals(tweak []byte, x []uint16) ([]uint16, error) {
	return c.crypt(tweak, x, true)
}

// DecryptNumerals reverses EncryptNumerals.
func (c *FF31) DecryptNumerals(tweak []byte, x []uint16) ([]uint16, error) {
	return c.crypt(tweak, x, false)
}

func (c *FF31) check(tweak []byte, x []uint16) error {
	n := len(x)
	switch {
	case len(tweak) != ff31TweakSize:
		return fmt.Errorf("%w: FF3-1 tweak must be exactly 7 bytes, got %d", errTweak, len(tweak))
	case n == 0:
		return fmt.Errorf("%w: empty input", ErrDomain)
	case n < c.minLen:
		return fmt.Errorf("%w: length %d below the minimum %d for radix %d", ErrDomain, n, c.minLen, c.radix)
	case n > c.maxLen:
		return fmt.Errorf("%w: length %d above the FF3-1 maximum %d for radix %d", ErrDomain, n, c.maxLen, c.radix)
	}
	return checkNumerals(x, c.radix)
}

func (c *FF31) crypt(tweak []byte, x []uint16, enc bool) ([]uint16, error) {
	if err := c.check(tweak, x); err != nil {
		return nil, err
	}
	out := make([]uint16, len(x))
	n := len(x)
	// T_L = T[0..27] || 0^4, T_R = T[32..55] || T[28..31] || 0^4.
	tl := binary.BigEndian.Uint32(tweak[0:4]) &^ 0xf
	tr := uint32(tweak[4])<<24 | uint32(tweak[5])<<16 | uint32(tweak[6])<<8 | uint32(tweak[3]&0xf)<<4
	if u := (n + 1) / 2; u < len(c.pow) {
		c.cryptFast(tl, tr, x, out, enc)
	} else {
		c.cryptBig(tl, tr, x, out, enc)
	}
	return out, nil
}

// cryptFast keeps A and B as uint64 values across the eight rounds. The
// block fed to AES is REVB(P): NUM(REV(B)) little-endian in bytes 0..11,
// then W ⊕ [i]^4 byte-reversed; y = NUM(REVB(output)) is the output read
// little-endian.
func (c *FF31) cryptFast(tl, tr uint32, x, out []uint16, enc bool) {
	n := len(x)
	u, v := (n+1)/2, n/2
	radix := uint64(c.radix)
	var a, b uint64
	for j := u - 1; j >= 0; j-- {
		a = a*radix + uint64(x[j])
	}
	for j := n - 1; j >= u; j-- {
		b = b*radix + uint64(x[j])
	}
	buf := blockPool.Get().(*blockBuf)
	// One loop for both directions keeps the round body inline.
	for r := range 8 {
		i, num := r, b
		if !enc {
			i, num = 7-r, a
		}
		w, e := tr, u
		if i&1 == 1 {
			w, e = tl, v
		}
		m := c.pow[e]
		binary.LittleEndian.PutUint64(buf[0:8], num)
		binary.LittleEndian.PutUint64(buf[8:16], uint64(w^uint32(i))<<32)
		c.block.Encrypt(buf[:], buf[:])
		yLo := binary.LittleEndian.Uint64(buf[0:8])
		yHi := binary.LittleEndian.Uint64(buf[8:16])
		var y uint64
		if m < 1<<32 {
			// y mod m = ((yHi mod m)·(2^64 mod m) + yLo mod m) mod m, and
			// every term stays below 2^64 because m < 2^32.
			inv := c.inv[e]
			y = barrett(barrett(yHi, m, inv)*c.r64[e]+barrett(yLo, m, inv), m, inv)
		} else {
			_, y = bits.Div64(barrett(yHi, m, c.inv[e]), yLo, m)
		}
		if enc {
			s, carry := bits.Add64(a, y, 0)
			if carry != 0 || s >= m {
				s -= m
			}
			a, b = b, s
		} else {
			s := b - y
			if b < y {
				s += m
			}
			a, b = s, a
		}
	}
	*buf = blockBuf{}
	blockPool.Put(buf)
	for j := range u {
		out[j] = uint16(a % radix)
		a /= radix
	}
	for j := u; j < n; j++ {
		out[j] = uint16(b % radix)
		b /= radix
	}
}

// cryptBig is the spec-literal algorithm on math/big integers, for halves
// whose radix^u exceeds 64 bits (at most 96 bits by the length limit).
func (c *FF31) cryptBig(tl, tr uint32, x, out []uint16, enc bool) {
	n := len(x)
	u, v := (n+1)/2, n/2
	powU, powV := bigPow(c.radix, u), bigPow(c.radix, v)
	a, b := numBigRev(x[:u], c.radix), numBigRev(x[u:], c.radix)
	var p, numBytes [16]byte
	y := new(big.Int)
	f := func(i int, num *big.Int) {
		w := tr
		if i&1 == 1 {
			w = tl
		}
		binary.BigEndian.PutUint32(p[0:4], w^uint32(i))
		num.FillBytes(numBytes[:12])
		copy(p[4:], numBytes[:12])
		slices.Reverse(p[:])
		c.block.Encrypt(p[:], p[:])
		slices.Reverse(p[:])
		y.SetBytes(p[:])
	}
	a, b = feistelBig(8, enc, powU, powV, a, b, y, f)
	strBigRev(out[:u], a, c.radix)
	strBigRev(out[u:], b, c.radix)
}
