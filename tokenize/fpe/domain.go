package fpe

import (
	"fmt"
	"math/big"
	"math/bits"

	"github.com/fieldguard/pii/tokenize/internal/alphabet"
)

// minDomain is the smallest domain size SP 800-38G Rev. 1 allows:
// radix^minlen ≥ 1,000,000. There is deliberately no way to lower it.
const minDomain = 1_000_000

const (
	minRadix = alphabet.MinRadix
	maxRadix = alphabet.MaxRadix
)

func checkKey(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%w: key must be 16, 24 or 32 bytes, got %d", errKey, len(key))
}

func checkRadix(radix int) error {
	if radix < minRadix || radix > maxRadix {
		return fmt.Errorf("%w: radix %d outside 2..65536", ErrDomain, radix)
	}
	return nil
}

// minLenFor returns the smallest length n ≥ 2 with radix^n ≥ 1,000,000.
func minLenFor(radix int) int {
	n, p := 1, uint64(radix)
	for p < minDomain {
		p *= uint64(radix)
		n++
	}
	return max(n, 2)
}

// powUint64 returns radix^e and whether it fits in a uint64.
func powUint64(radix, e int) (uint64, bool) {
	p := uint64(1)
	for range e {
		hi, lo := bits.Mul64(p, uint64(radix))
		if hi != 0 {
			return 0, false
		}
		p = lo
	}
	return p, true
}

func checkNumerals(x []uint16, radix int) error {
	if radix == maxRadix {
		return nil
	}
	r := uint16(radix)
	for _, d := range x {
		if d >= r {
			return fmt.Errorf("%w: numeral not below radix %d", ErrDomain, radix)
		}
	}
	return nil
}

// numBig returns NUM_radix(x) (big-endian numerals).
func numBig(x []uint16, radix int) *big.Int {
	r := big.NewInt(int64(radix))
	z := new(big.Int)
	d := new(big.Int)
	for _, v := range x {
		z.Mul(z, r)
		z.Add(z, d.SetUint64(uint64(v)))
	}
	return z
}

// numBigRev returns NUM_radix(REV(x)) (little-endian numerals).
func numBigRev(x []uint16, radix int) *big.Int {
	r := big.NewInt(int64(radix))
	z := new(big.Int)
	d := new(big.Int)
	for i := len(x) - 1; i >= 0; i-- {
		z.Mul(z, r)
		z.Add(z, d.SetUint64(uint64(x[i])))
	}
	return z
}

// strBig writes STR^m_radix(z) into out (big-endian numerals); z is consumed.
func strBig(out []uint16, z *big.Int, radix int) {
	r := big.NewInt(int64(radix))
	m := new(big.Int)
	for i := len(out) - 1; i >= 0; i-- {
		z.QuoRem(z, r, m)
		out[i] = uint16(m.Uint64())
	}
}

// strBigRev writes REV(STR^m_radix(z)) into out; z is consumed.
func strBigRev(out []uint16, z *big.Int, radix int) {
	r := big.NewInt(int64(radix))
	m := new(big.Int)
	for i := range out {
		z.QuoRem(z, r, m)
		out[i] = uint16(m.Uint64())
	}
}

func bigPow(radix, e int) *big.Int {
	return new(big.Int).Exp(big.NewInt(int64(radix)), big.NewInt(int64(e)), nil)
}

// feistelBig runs the Feistel rounds of the math/big fallback that FF1 (10
// rounds) and FF3-1 (8 rounds) share: round i sets y to the round function
// of one half (f(i, half)) and adds it to (or, decrypting, subtracts it
// from) the other half modulo radix^u in even rounds and radix^v in odd
// ones. It returns the two halves in output order.
func feistelBig(rounds int, enc bool, powU, powV, a, b, y *big.Int, f func(i int, half *big.Int)) (*big.Int, *big.Int) {
	mod := func(i int) *big.Int {
		if i&1 == 1 {
			return powV
		}
		return powU
	}
	if enc {
		for i := range rounds {
			f(i, b)
			c := new(big.Int).Add(a, y)
			a, b = b, c.Mod(c, mod(i))
		}
		return a, b
	}
	for i := rounds - 1; i >= 0; i-- {
		f(i, a)
		c := new(big.Int).Sub(b, y)
		a, b = c.Mod(c, mod(i)), a // Mod is Euclidean: the result is non-negative.
	}
	return a, b
}
