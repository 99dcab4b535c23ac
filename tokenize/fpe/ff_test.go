package fpe

import (
	"bytes"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// numeralCipher is what *FF1 and *FF31 have in common, for table tests.
type numeralCipher interface {
	EncryptNumerals(tweak []byte, x []uint16) ([]uint16, error)
	DecryptNumerals(tweak []byte, x []uint16) ([]uint16, error)
}

var (
	_ numeralCipher = (*FF1)(nil)
	_ numeralCipher = (*FF31)(nil)
)

// testKey is a test key; never hard-code keys in production.
var testKey = bytes.Repeat([]byte{0x42}, 32)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		key   []byte
		radix int
		want  error
	}{
		{"short key", make([]byte, 15), 10, errKey},
		{"long key", make([]byte, 33), 10, errKey},
		{"nil key", nil, 10, errKey},
		{"radix 1", testKey, 1, ErrDomain},
		{"radix 65537", testKey, 65537, ErrDomain},
		{"radix 0", testKey, 0, ErrDomain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFF1(tc.key, tc.radix)
			require.ErrorIs(t, err, tc.want)
			_, err = NewFF31(tc.key, tc.radix)
			require.ErrorIs(t, err, tc.want)
		})
	}
	for _, n := range []int{16, 24, 32} {
		_, err := NewFF1(testKey[:n], 10)
		require.NoError(t, err)
	}
}

// TestNewAlphabetErrors: an invalid alphabet definition is a mistake of the
// program (a plain error, not ErrDomain); a symbol outside a valid
// alphabet, or a numeral not below its radix, is input outside the domain.
func TestNewAlphabetErrors(t *testing.T) {
	for _, symbols := range []string{"", "a", "aa", "ab\xff"} {
		_, err := NewAlphabet(symbols)
		require.ErrorIs(t, err, errAlphabet, "%q", symbols)
		require.NotErrorIs(t, err, ErrDomain, "%q", symbols)
		require.True(t, strings.HasPrefix(err.Error(), "fpe: "), err.Error())
	}
	a, err := NewAlphabet("ab")
	require.NoError(t, err)
	_, err = a.Numerals("abc")
	require.ErrorIs(t, err, ErrDomain)
	_, err = a.String([]uint16{0, 2})
	require.ErrorIs(t, err, ErrDomain)
}

func TestDomainRules(t *testing.T) {
	f10, err := NewFF1(testKey, 10)
	require.NoError(t, err)
	g10, err := NewFF31(testKey, 10)
	require.NoError(t, err)
	tw7 := []byte("1234567")
	tests := []struct {
		name  string
		c     numeralCipher
		tweak []byte
		x     []uint16
		want  error
	}{
		{"ff1 empty", f10, nil, nil, ErrDomain},
		{"ff1 5 digits below 10^6", f10, nil, make([]uint16, 5), ErrDomain},
		{"ff1 numeral = radix", f10, nil, []uint16{0, 0, 0, 0, 0, 10}, ErrDomain},
		{"ff31 empty", g10, tw7, nil, ErrDomain},
		{"ff31 5 digits", g10, tw7, make([]uint16, 5), ErrDomain},
		{"ff31 57 digits above 2*floor(log10 2^96)", g10, tw7, make([]uint16, 57), ErrDomain},
		{"ff31 tweak 8 bytes", g10, []byte("12345678"), make([]uint16, 6), errTweak},
		{"ff31 tweak 6 bytes", g10, []byte("123456"), make([]uint16, 6), errTweak},
		{"ff31 nil tweak", g10, nil, make([]uint16, 6), errTweak},
		{"ff31 numeral = radix", g10, tw7, []uint16{0, 0, 0, 0, 0, 10}, ErrDomain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.EncryptNumerals(tc.tweak, tc.x)
			require.ErrorIs(t, err, tc.want)
			require.NotContains(t, err.Error(), "0, 0")
			require.Regexp(t, `^fpe: `, err.Error())
			_, err = tc.c.DecryptNumerals(tc.tweak, tc.x)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// Boundaries: exactly 10^6 is allowed; FF3-1 radix 10 maximum is 56.
	_, err = f10.EncryptNumerals(nil, make([]uint16, 6))
	require.NoError(t, err)
	_, err = g10.EncryptNumerals(tw7, make([]uint16, 56))
	require.NoError(t, err)
	require.Equal(t, 56, g10.maxLen)

	for _, tc := range []struct{ radix, minLen, ff31Max int }{
		{2, 20, 192}, {10, 6, 56}, {26, 5, 40}, {36, 4, 36}, {64, 4, 32}, {1000, 2, 18}, {65535, 2, 12}, {65536, 2, 12},
	} {
		f, err := NewFF1(testKey, tc.radix)
		require.NoError(t, err)
		require.Equal(t, tc.minLen, f.minLen, "radix %d", tc.radix)
		g, err := NewFF31(testKey, tc.radix)
		require.NoError(t, err)
		require.Equal(t, tc.ff31Max, g.maxLen, "radix %d", tc.radix)
	}
}

// TestRoundTrip checks both paths (machine integers and math/big) across
// radices and lengths, with random tweaks.
func TestRoundTrip(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, radix := range []int{2, 3, 10, 16, 26, 36, 62, 255, 256, 1000, 65535, 65536} {
		f, err := NewFF1(testKey[:16], radix)
		require.NoError(t, err)
		g, err := NewFF31(testKey[:24], radix)
		require.NoError(t, err)
		for n := f.minLen; n < f.minLen+150; n += 1 + n/8 {
			x := make([]uint16, n)
			for i := range x {
				x[i] = uint16(rng.IntN(radix))
			}
			tweak := make([]byte, rng.IntN(40))
			rand.Read(tweak)
			y, err := f.EncryptNumerals(tweak, x)
			require.NoError(t, err)
			require.Len(t, y, n)
			require.NoError(t, checkNumerals(y, radix))
			z, err := f.DecryptNumerals(tweak, y)
			require.NoError(t, err)
			require.Equal(t, x, z, "ff1 radix %d n %d", radix, n)
			if n <= g.maxLen {
				tw := tweak[:0:0]
				tw = append(tw, make([]byte, 7)...)
				rand.Read(tw)
				y, err := g.EncryptNumerals(tw, x)
				require.NoError(t, err)
				z, err := g.DecryptNumerals(tw, y)
				require.NoError(t, err)
				require.Equal(t, x, z, "ff3-1 radix %d n %d", radix, n)
			}
		}
	}
}

// TestFastMatchesBig pins the machine-integer path to the spec-literal
// math/big path on the same inputs.
func TestFastMatchesBig(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, radix := range []int{2, 7, 10, 36, 255, 65536} {
		f, err := NewFF1(testKey, radix)
		require.NoError(t, err)
		g, err := NewFF31(testKey, radix)
		require.NoError(t, err)
		for i := range f.fast {
			n := f.minLen + i
			x := make([]uint16, n)
			for j := range x {
				x[j] = uint16(rng.IntN(radix))
			}
			tweak := []byte(fmt.Sprint("tweak", i, "-with-some-length"))[:i%25]
			fast := make([]uint16, n)
			slow := make([]uint16, n)
			for _, enc := range []bool{true, false} {
				f.cryptFast(&f.fast[i], tweak, x, fast, enc)
				f.cryptBig(tweak, x, slow, enc)
				require.Equal(t, slow, fast, "ff1 radix %d n %d", radix, n)
				if n <= g.maxLen && (n+1)/2 < len(g.pow) {
					g.cryptFast(0x61626300, 0x65666770, x, fast, enc)
					g.cryptBig(0x61626300, 0x65666770, x, slow, enc)
					require.Equal(t, slow, fast, "ff3-1 radix %d n %d", radix, n)
				}
			}
		}
	}
}

// TestConcurrent runs 64 goroutines through one *FF1 and one *FF31 and
// compares with the sequential results (run with -race).
func TestConcurrent(t *testing.T) {
	f, err := NewFF1(testKey, 10)
	require.NoError(t, err)
	g, err := NewFF31(testKey, 10)
	require.NoError(t, err)
	const workers, per = 64, 50
	type job struct {
		x     []uint16
		tweak []byte
	}
	rng := mrand.New(mrand.NewPCG(5, 6))
	jobs := make([]job, workers*per)
	for i := range jobs {
		n := 6 + rng.IntN(40)
		x := make([]uint16, n)
		for j := range x {
			x[j] = uint16(rng.IntN(10))
		}
		jobs[i] = job{x: x, tweak: []byte(fmt.Sprintf("t%06d", i))[:7]}
	}
	want1 := make([][]uint16, len(jobs))
	want3 := make([][]uint16, len(jobs))
	for i, j := range jobs {
		want1[i], err = f.EncryptNumerals(j.tweak, j.x)
		require.NoError(t, err)
		want3[i], err = g.EncryptNumerals(j.tweak, j.x)
		require.NoError(t, err)
	}
	got1 := make([][]uint16, len(jobs))
	got3 := make([][]uint16, len(jobs))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range per {
				i := (w*per + k*7) % len(jobs) // interleave
				a, err := f.EncryptNumerals(jobs[i].tweak, jobs[i].x)
				if err != nil {
					errs[w] = err
					return
				}
				b, err := g.EncryptNumerals(jobs[i].tweak, jobs[i].x)
				if err != nil {
					errs[w] = err
					return
				}
				got1[i], got3[i] = a, b
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	filled := 0
	for i := range jobs {
		if got1[i] != nil {
			filled++
			require.Equal(t, want1[i], got1[i], "ff1 job %d", i)
			require.Equal(t, want3[i], got3[i], "ff3-1 job %d", i)
		}
	}
	require.Equal(t, len(jobs), filled) // the interleaving visits every job once
}

func TestBarrett(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 8))
	ms := []uint64{1, 2, 3, 10, 1e6, 1e8, 1e18, 1e19, 1<<63 - 1, 1 << 63, 1<<64 - 1, 1<<64 - 2, 12157665459056928801}
	for range 200 {
		ms = append(ms, rng.Uint64()>>rng.IntN(64)|1)
	}
	for _, m := range ms {
		inv := ^uint64(0) / m
		for _, y := range []uint64{0, 1, m - 1, m, m + 1, 2*m - 1, ^uint64(0), ^uint64(0) - 1, rng.Uint64(), rng.Uint64()} {
			require.Equal(t, y%m, barrett(y, m, inv), "y=%d m=%d", y, m)
		}
	}
}
