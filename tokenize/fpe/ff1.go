package fpe

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"
	"sync"
	"sync/atomic"
)

// maxFF1Len is the largest input length FF1 accepts: SP 800-38G encodes n
// (and the tweak length) in four bytes of the P block.
const maxFF1Len = 1<<32 - 1

// FF1 is the FF1 format-preserving cipher of NIST SP 800-38G Rev. 1 with
// AES-128, AES-192 or AES-256 and a fixed radix.
//
// A *FF1 is immutable after NewFF1 and safe for concurrent use by any number
// of goroutines: every call keeps its state on its own stack or in a
// per-call scratch buffer, and the shared AES block cipher is itself safe
// for concurrent use.
type FF1 struct {
	block  cipher.Block
	radix  int
	minLen int
	// fast holds the per-length constants for every length n ≥ minLen whose
	// half radix^ceil(n/2) fits in 64 bits, indexed by n-minLen. Longer
	// inputs take the math/big path.
	fast []ff1Params
}

// ff1Params are the constants of one (radix, length) pair.
type ff1Params struct {
	u, v       int
	b, d       int
	powU, powV uint64
	// invU, invV are floor((2^64-1)/radix^u) and floor((2^64-1)/radix^v),
	// for Barrett reduction: a multiplication instead of a division on the
	// round's critical path.
	invU, invV uint64
	// p is the P block with the tweak length (bytes 12..15) left zero.
	p [16]byte
	// ep caches E(P) for tweak lengths below 16, filled on first use. The
	// values are a pure function of key, radix, length and tweak length, so
	// racing stores write the same bytes.
	ep [16]atomic.Pointer[[16]byte]
}

// NewFF1 returns an FF1 cipher for the given AES key (16, 24 or 32 bytes)
// and radix (2..65536). Inputs must then have radix^len ≥ 1,000,000 and at
// most 2^32-1 numerals; tweaks may have any length below 2^32 bytes,
// including zero.
func NewFF1(key []byte, radix int) (*FF1, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkRadix(radix); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKey, err)
	}
	c := &FF1{block: block, radix: radix, minLen: minLenFor(radix)}
	maxFast := c.minLen - 1
	for {
		if _, ok := powUint64(radix, (maxFast+2)/2); !ok {
			break
		}
		maxFast++
	}
	c.fast = make([]ff1Params, max(maxFast-c.minLen+1, 0))
	for i := range c.fast {
		n := c.minLen + i
		u, v := n/2, n-n/2
		powU, _ := powUint64(radix, u)
		powV, _ := powUint64(radix, v)
		b := (bits.Len64(powV-1) + 7) / 8
		p := &c.fast[i]
		p.u, p.v, p.b, p.d = u, v, b, 4*((b+3)/4)+4
		p.powU, p.powV = powU, powV
		p.invU, p.invV = ^uint64(0)/powU, ^uint64(0)/powV
		p.p = ff1P(radix, u, n)
	}
	return c, nil
}

func ff1P(radix, u, n int) [16]byte {
	var p [16]byte
	p[0], p[1], p[2] = 1, 2, 1
	p[3], p[4], p[5] = byte(radix>>16), byte(radix>>8), byte(radix)
	p[6] = 10
	p[7] = byte(u)
	binary.BigEndian.PutUint32(p[8:], uint32(n))
	return p
}

// EncryptNumerals encrypts x (numerals below the radix) under tweak and
// returns a new slice of the same length. x and tweak are not modified.
func (c *FF1) EncryptNumerals(tweak []byte, x []uint16) ([]uint16, error) {
	return c.crypt(tweak, x, true)
}

// DecryptNumerals reverses EncryptNumerals.
func (c *FF1) DecryptNumerals(tweak []byte, x []uint16) ([]uint16, error) {
	return c.crypt(tweak, x, false)
}

func (c *FF1) check(tweak []byte, x []uint16) error {
	n := len(x)
	switch {
	case n == 0:
		return fmt.Errorf("%w: empty input", ErrDomain)
	case n < c.minLen:
		return fmt.Errorf("%w: length %d below the minimum %d for radix %d", ErrDomain, n, c.minLen, c.radix)
	case uint64(n) > maxFF1Len:
		return fmt.Errorf("%w: length %d above the FF1 maximum", ErrDomain, n)
	case uint64(len(tweak)) > maxFF1Len:
		return fmt.Errorf("%w: tweak longer than 2^32-1 bytes", errTweak)
	}
	return checkNumerals(x, c.radix)
}

func (c *FF1) crypt(tweak []byte, x []uint16, enc bool) ([]uint16, error) {
	if err := c.check(tweak, x); err != nil {
		return nil, err
	}
	out := make([]uint16, len(x))
	if i := len(x) - c.minLen; i < len(c.fast) {
		c.cryptFast(&c.fast[i], tweak, x, out, enc)
	} else {
		c.cryptBig(tweak, x, out, enc)
	}
	return out, nil
}

// blockBuf is the per-call scratch block. cipher.Block is an interface, so
// a buffer passed to it escapes; pooling it keeps calls allocation-free
// apart from the result.
type blockBuf [16]byte

var blockPool = sync.Pool{New: func() any { return new(blockBuf) }}

// cryptFast runs FF1 with A and B held as uint64 values for the whole
// Feistel network: NUM and STR are computed once, not per round. The PRF is
// a CBC-MAC over P || Q computed by hand: E(P) and every block of Q except
// the last (tweak and padding) are computed once per call, so each round
// costs one AES block encryption.
func (c *FF1) cryptFast(p *ff1Params, tweak []byte, x, out []uint16, enc bool) {
	radix := uint64(c.radix)
	var a, b uint64
	for _, d := range x[:p.u] {
		a = a*radix + uint64(d)
	}
	for _, d := range x[p.u:] {
		b = b*radix + uint64(d)
	}

	buf := blockPool.Get().(*blockBuf)
	t := len(tweak)
	if t < len(p.ep) {
		if ep := p.ep[t].Load(); ep != nil {
			*buf = *ep
		} else {
			*buf = p.p
			binary.BigEndian.PutUint32(buf[12:], uint32(t))
			c.block.Encrypt(buf[:], buf[:])
			ep := [16]byte(*buf)
			p.ep[t].Store(&ep)
		}
	} else {
		*buf = p.p
		binary.BigEndian.PutUint32(buf[12:], uint32(t))
		c.block.Encrypt(buf[:], buf[:])
	}

	// Q = T || 0^pad || [i] || [NUM(B)]^b, a multiple of 16 bytes. Every
	// block but the last holds only tweak bytes and zero padding.
	qlen := t + p.b + 1
	qlen += (16 - qlen%16) % 16
	off := 0
	for ; off < qlen-16; off += 16 {
		xorTweak(buf, tweak, off)
		c.block.Encrypt(buf[:], buf[:])
	}
	// The last block of Q xored with the chaining value, with [i] and NUM
	// left zero; each round xors them in.
	xorTweak(buf, tweak, off)
	hHi := binary.BigEndian.Uint64(buf[0:8])
	hLo := binary.BigEndian.Uint64(buf[8:16])
	iShift := uint(8 * p.b) // bit position of [i] in the low word (b < 8)

	// One loop for both directions keeps the round body inline: a closure
	// call per round costs more than the branches on enc.
	for r := range 10 {
		i, num := r, b
		if !enc {
			i, num = 9-r, a
		}
		m, inv := p.powU, p.invU
		if i&1 == 1 {
			m, inv = p.powV, p.invV
		}
		hi, lo := hHi, hLo^num
		if p.b == 8 {
			hi ^= uint64(i)
		} else {
			lo ^= uint64(i) << iShift
		}
		binary.BigEndian.PutUint64(buf[0:8], hi)
		binary.BigEndian.PutUint64(buf[8:16], lo)
		c.block.Encrypt(buf[:], buf[:])
		// y = NUM(S) mod m, for S the first d ≤ 12 bytes of R.
		var y uint64
		if p.d == 8 {
			y = barrett(binary.BigEndian.Uint64(buf[0:8]), m, inv)
		} else {
			yHi := barrett(uint64(binary.BigEndian.Uint32(buf[0:4])), m, inv)
			_, y = bits.Div64(yHi, binary.BigEndian.Uint64(buf[4:12]), m)
		}
		if enc {
			// c = (a + y) mod m without overflow: a, y < m.
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

	strUint64(out[:p.u], a, radix)
	strUint64(out[p.u:], b, radix)
}

// barrett returns y mod m given inv = floor((2^64-1)/m). With y < 2^64,
// y·inv/2^64 > y/m - 1, so the estimated quotient hi(y·inv) is the true
// one or one less, and one correction suffices.
func barrett(y, m, inv uint64) uint64 {
	q, _ := bits.Mul64(y, inv)
	r := y - q*m
	if r >= m {
		r -= m
	}
	return r
}

// xorTweak xors tweak[off:off+16] (zero beyond the tweak) into buf.
func xorTweak(buf *blockBuf, tweak []byte, off int) {
	if off >= len(tweak) {
		return
	}
	var tb [16]byte
	copy(tb[:], tweak[off:])
	hi := binary.BigEndian.Uint64(buf[0:8]) ^ binary.BigEndian.Uint64(tb[0:8])
	lo := binary.BigEndian.Uint64(buf[8:16]) ^ binary.BigEndian.Uint64(tb[8:16])
	binary.BigEndian.PutUint64(buf[0:8], hi)
	binary.BigEndian.PutUint64(buf[8:16], lo)
}

// strUint64 writes STR^len(out)_radix(z) (big-endian numerals) into out.
// Values below 2^32 use 32-bit division, which is cheaper.
func strUint64(out []uint16, z, radix uint64) {
	if radix == 10 {
		// Division by a constant compiles to a multiplication.
		for j := len(out) - 1; j >= 0; j-- {
			out[j] = uint16(z % 10)
			z /= 10
		}
		return
	}
	j := len(out) - 1
	for ; j >= 0 && z >= 1<<32; j-- {
		out[j] = uint16(z % radix)
		z /= radix
	}
	z32, r32 := uint32(z), uint32(radix)
	for ; j >= 0; j-- {
		out[j] = uint16(z32 % r32)
		z32 /= r32
	}
}

// cryptBig is the spec-literal algorithm on math/big integers, used when
// radix^ceil(n/2) does not fit in 64 bits.
func (c *FF1) cryptBig(tweak []byte, x, out []uint16, enc bool) {
	n := len(x)
	u, v := n/2, n-n/2
	t := len(tweak)
	powU, powV := bigPow(c.radix, u), bigPow(c.radix, v)
	b := (new(big.Int).Sub(powV, big.NewInt(1)).BitLen() + 7) / 8
	d := 4*((b+3)/4) + 4

	pblk := ff1P(c.radix, u, n)
	binary.BigEndian.PutUint32(pblk[12:], uint32(t))
	pad := (16 - (t+b+1)%16) % 16
	q := make([]byte, t+pad+1+b)
	copy(q, tweak)
	s := make([]byte, (d+15)/16*16)
	var h, blk [16]byte

	a, bb := numBig(x[:u], c.radix), numBig(x[u:], c.radix)
	y := new(big.Int)
	f := func(i int, num *big.Int) {
		q[t+pad] = byte(i)
		num.FillBytes(q[t+pad+1:])
		// R = PRF(P || Q), CBC-MAC with a zero IV.
		c.block.Encrypt(h[:], pblk[:])
		for off := 0; off < len(q); off += 16 {
			subtle16(&h, q[off:off+16])
			c.block.Encrypt(h[:], h[:])
		}
		copy(s, h[:])
		// S = R || CIPH(R ⊕ [1]^16) || CIPH(R ⊕ [2]^16) || …
		for j := 1; j*16 < d; j++ {
			blk = h
			var jb [8]byte
			binary.BigEndian.PutUint64(jb[:], uint64(j))
			for k := range 8 {
				blk[8+k] ^= jb[k]
			}
			c.block.Encrypt(s[16*j:], blk[:])
		}
		y.SetBytes(s[:d])
	}
	a, bb = feistelBig(10, enc, powU, powV, a, bb, y, f)
	strBig(out[:u], a, c.radix)
	strBig(out[u:], bb, c.radix)
}

func subtle16(dst *[16]byte, src []byte) {
	for k := range 16 {
		dst[k] ^= src[k]
	}
}
