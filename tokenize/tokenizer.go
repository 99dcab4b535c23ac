package tokenize

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldguard/pii/keyprovider"
)

// Method selects how a value becomes a token; the names are those of the
// `pii:"...,token=<method>"` tag option.
type Method string

const (
	// MethodFF1 is format-preserving encryption with FF1, the default.
	MethodFF1 Method = "ff1"
	// MethodFF31 is FF3-1, for interoperability only (see FF31).
	MethodFF31 Method = "ff3-1"
	// MethodHMAC gives keyed pseudonyms (HMAC-SHA256); not reversible.
	MethodHMAC Method = "hmac"
	// MethodVault gives random tokens kept in a TokenStore.
	MethodVault Method = "vault"
)

// RootKeySize is the size of the root key a Tokenizer derives its keys from.
const RootKeySize = 32

// Scope is where a value lives. Tenant and Field make the tweak (and the
// HMAC context): the same value gives the same FPE token or pseudonym
// within one tenant's field, and different ones across tenants or fields.
// Give two fields the same Field name to make their tokens join. Subject
// does not affect FPE or HMAC tokens.
//
// A vault token belongs to one data subject, (Tenant, Subject): the
// convergence lookup covers tenant, subject, field and value, so two
// subjects with the same value get two tokens, and Detokenize finds a vault
// token only in the scope (tenant, subject and field) it was made in.
// DeleteSubject deletes exactly that subject's tokens. Types without a
// `pii:"subject"` (or `pii:"tenant"`) field use "".
type Scope struct {
	Tenant  string
	Field   string
	Subject string
}

// Options configure a Tokenizer. The zero value (or nil) is valid.
type Options struct {
	// KeyID names the root key generation; it prefixes HMAC pseudonyms and
	// is recorded with vault tokens. Default "k1".
	KeyID string
	// Store holds vault tokens (MethodVault). Nil disables the method.
	Store TokenStore
	// Convergent makes vault tokens convergent: the same value of the same
	// data subject in the same field (tenant, subject and field of the
	// Scope) returns the existing token instead of a new random one.
	// Another subject with the same value gets their own token.
	Convergent bool
	// TTL is the lifetime of new vault tokens; zero means no expiry.
	TTL time.Duration
	// Formats overrides the format chosen for a pii category by Apply and
	// Reverse (see FormatFor). Keys are categories ("card", "phone", …).
	Formats map[string]Format
	// Now is the clock for vault expiry; default time.Now.
	Now func() time.Time
	// Rand is the randomness for vault tokens; default crypto/rand.Reader.
	Rand io.Reader
}

// Tokenizer applies format-aware tokenization with keys derived from one
// root key. It is safe for concurrent use.
type Tokenizer struct {
	k    *tokenizerKeys // behind a pointer: fmt never prints key bytes
	opts Options

	ff1r10    *FF1     // the most used cipher, without a map lookup
	ciphers   sync.Map // cipherKey → NumeralCipher, created on first use
	tweaks    sync.Map // tweakKey → *recentTweak
	tweakSize atomic.Int64
	// recent is a small direct-mapped cache in front of tweaks: a hit
	// costs two string hashes and compares instead of the sync.Map's
	// reflective hashing of the key struct.
	recent [64]atomic.Pointer[recentTweak]
	seed   maphash.Seed
}

type recentTweak struct {
	key tweakKey
	e   []byte // tweak ‖ check byte
}

type tokenizerKeys struct {
	ff1, ff31, tweak, hmac, lookup, seal []byte
}

type cipherKey struct {
	m     Method
	radix int
}

type tweakKey struct {
	m             Method
	tenant, field string
}

// maxTweakCache bounds the derived-tweak cache; beyond it tweaks are
// recomputed per call.
const maxTweakCache = 1 << 14

// New returns a Tokenizer whose keys are derived (HKDF-SHA256) from the
// 32-byte root key. The Tokenizer keeps derived keys only; the caller may
// clear root afterwards.
func New(root []byte, opts *Options) (*Tokenizer, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("%w: root key must be %d bytes, got %d", ErrKey, RootKeySize, len(root))
	}
	t := &Tokenizer{k: &tokenizerKeys{}, seed: maphash.MakeSeed()}
	if opts != nil {
		t.opts = *opts
	}
	if t.opts.KeyID == "" {
		t.opts.KeyID = "k1"
	}
	if t.opts.Now == nil {
		t.opts.Now = time.Now
	}
	if t.opts.Rand == nil {
		t.opts.Rand = rand.Reader
	}
	for _, d := range []struct {
		dst  *[]byte
		info string
	}{
		{&t.k.ff1, "ff1"}, {&t.k.ff31, "ff3-1"}, {&t.k.tweak, "tweak"},
		{&t.k.hmac, "hmac"}, {&t.k.lookup, "vault-lookup"}, {&t.k.seal, "vault-seal"},
	} {
		k, err := hkdf.Key(sha256.New, root, nil, "fieldguard/pii tokenize v1 "+d.info, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: key derivation failed", ErrKey)
		}
		*d.dst = k
	}
	// The common radices are ready before the first call.
	for _, r := range []int{10, 36, 62} {
		if _, err := t.cipher(MethodFF1, r); err != nil {
			return nil, err
		}
	}
	c, _ := t.cipher(MethodFF1, 10)
	t.ff1r10 = c.(*FF1)
	return t, nil
}

// NewFromProvider unwraps the root key with a key provider (a KMS-held
// key-encryption key) and returns New(root, opts). wrapped is the output of
// KeyProvider.Wrap for a 32-byte root key, made with the same associated
// data. The unwrapped root is cleared once the subkeys are derived.
func NewFromProvider(ctx context.Context, kp keyprovider.KeyProvider, wrapped, associatedData []byte, opts *Options) (*Tokenizer, error) {
	root, err := kp.Unwrap(ctx, wrapped, associatedData)
	if err != nil {
		return nil, fmt.Errorf("tokenize: unwrap root key: %w", err)
	}
	defer clear(root)
	return New(root, opts)
}

// GenerateRootKey returns a new random 32-byte root key, to be wrapped with
// KeyProvider.Wrap and stored.
func GenerateRootKey() []byte {
	k := make([]byte, RootKeySize)
	rand.Read(k)
	return k
}

// KeyID returns the configured key id.
func (t *Tokenizer) KeyID() string { return t.opts.KeyID }

// Format prints the Tokenizer without key material.
func (t *Tokenizer) Format(f fmt.State, _ rune) { io.WriteString(f, "tokenize.Tokenizer{[REDACTED]}") }

// GoString prints the Tokenizer without key material.
func (t *Tokenizer) GoString() string { return "tokenize.Tokenizer{[REDACTED]}" }

// LogValue logs the Tokenizer without key material.
func (t *Tokenizer) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// MarshalJSON encodes the Tokenizer without key material.
func (t *Tokenizer) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }

func (t *Tokenizer) cipher(m Method, radix int) (NumeralCipher, error) {
	if radix == 10 && m == MethodFF1 && t.ff1r10 != nil {
		return t.ff1r10, nil
	}
	key := cipherKey{m, radix}
	if c, ok := t.ciphers.Load(key); ok {
		return c.(NumeralCipher), nil
	}
	var c NumeralCipher
	var err error
	switch m {
	case MethodFF1:
		c, err = NewFF1(t.k.ff1, radix)
	case MethodFF31:
		c, err = NewFF31(t.k.ff31, radix)
	default:
		return nil, fmt.Errorf("%w: method %q has no numeral cipher", ErrFormat, m)
	}
	if err != nil {
		return nil, err
	}
	actual, _ := t.ciphers.LoadOrStore(key, c)
	return actual.(NumeralCipher), nil
}

// tweak derives the tweak of a scope, the first 8 (FF1) or 7 (FF3-1)
// bytes of HMAC-SHA256(tweak key, tenant, field), and the scope's check
// byte, the byte after them, which sets by how much the field's card and
// IBAN tokens miss their check digits (see Card and IBAN). Eight bytes keep
// the FF1 Q block to a single AES block for decimal inputs up to 38 digits.
func (t *Tokenizer) tweak(m Method, s Scope) (tweak []byte, check byte) {
	n := 8
	if m == MethodFF31 {
		n = FF31TweakSize
	}
	slot := &t.recent[(maphash.String(t.seed, s.Field)^maphash.String(t.seed, s.Tenant)<<1^uint64(n))%uint64(len(t.recent))]
	if r := slot.Load(); r != nil && r.key.m == m && r.key.tenant == s.Tenant && r.key.field == s.Field {
		return r.e[:n:n], r.e[n]
	}
	key := tweakKey{m, s.Tenant, s.Field}
	var r *recentTweak
	if v, ok := t.tweaks.Load(key); ok {
		r = v.(*recentTweak)
	} else {
		mac := t.mac(t.k.tweak, s, "")
		r = &recentTweak{key: key, e: mac[: n+1 : n+1]}
		if t.tweakSize.Load() < maxTweakCache {
			v, loaded := t.tweaks.LoadOrStore(key, r)
			if !loaded {
				t.tweakSize.Add(1)
			}
			r = v.(*recentTweak)
		}
	}
	slot.Store(r)
	return r.e[:n:n], r.e[n]
}

// mac computes HMAC-SHA256(key, len‖tenant‖len‖field‖value) with length
// prefixes so no two scopes share an encoding.
func (t *Tokenizer) mac(key []byte, s Scope, value string) []byte {
	h := hmac.New(sha256.New, key)
	var l [4]byte
	for _, p := range []string{s.Tenant, s.Field, value} {
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		h.Write(l[:])
		io.WriteString(h, p)
	}
	return h.Sum(nil)
}

// fpe is the numeral transformation a Format applies to its tokenized
// positions: FF1 or FF3-1 under the scope's tweak, or fresh randomness for
// vault tokens.
type fpe struct {
	t      *Tokenizer
	m      Method
	tweak  []byte
	check  byte // the scope's check byte (see Tokenizer.tweak); 0 for vault tokens
	random bool
}

// maxWalk bounds cycle-walking. Every format that walks keeps at least
// ~10% of its domain valid, so reaching the bound means a broken input.
const maxWalk = 10_000

// crypt transforms x over radix. With valid non-nil it cycle-walks: it
// applies the permutation again until the result is valid. Cycle-walking
// a permutation restricted to a subset is a permutation of that subset,
// provided the input is in it.
func (f *fpe) crypt(radix int, x []uint16, enc bool, valid func([]uint16) bool) ([]uint16, error) {
	if f.random {
		return f.randomNumerals(radix, len(x), valid)
	}
	c, err := f.t.cipher(f.m, radix)
	if err != nil {
		return nil, err
	}
	// x is only read here, never kept: callers pass stack buffers.
	y, err := f.apply(c, x, enc)
	if err != nil {
		return nil, err
	}
	for i := 1; valid != nil && !valid(y); i++ {
		if i == maxWalk {
			clear(y)
			return nil, fmt.Errorf("%w: cycle-walk did not reach a valid value", ErrFormat)
		}
		next, err := f.apply(c, y, enc)
		clear(y)
		if err != nil {
			return nil, err
		}
		y = next
	}
	return y, nil
}

// apply calls the concrete cipher, so that the compiler can see x does not
// escape; a call through the interface would move it to the heap.
func (f *fpe) apply(c NumeralCipher, x []uint16, enc bool) ([]uint16, error) {
	switch c := c.(type) {
	case *FF1:
		return c.crypt(f.tweak, x, enc)
	case *FF31:
		return c.crypt(f.tweak, x, enc)
	}
	return nil, fmt.Errorf("%w: unsupported cipher", ErrFormat)
}

func (f *fpe) randomNumerals(radix, n int, valid func([]uint16) bool) ([]uint16, error) {
	y := make([]uint16, n)
	var b [2]byte
	for range maxWalk {
		for i := range y {
			// Rejection sampling keeps the numerals uniform.
			lim := 65536 - 65536%radix
			for {
				if _, err := io.ReadFull(f.t.opts.Rand, b[:]); err != nil {
					return nil, fmt.Errorf("tokenize: random source: %w", err)
				}
				if v := int(binary.BigEndian.Uint16(b[:])); v < lim {
					y[i] = uint16(v % radix)
					break
				}
			}
		}
		if valid == nil || valid(y) {
			return y, nil
		}
	}
	return nil, fmt.Errorf("%w: no valid random token found", ErrFormat)
}

func (t *Tokenizer) newFPE(m Method, s Scope) (fpe, error) {
	switch m {
	case "", MethodFF1:
		tw, check := t.tweak(MethodFF1, s)
		return fpe{t: t, m: MethodFF1, tweak: tw, check: check}, nil
	case MethodFF31:
		tw, check := t.tweak(MethodFF31, s)
		return fpe{t: t, m: MethodFF31, tweak: tw, check: check}, nil
	}
	return fpe{}, fmt.Errorf("%w: unknown method %q", ErrFormat, m)
}

// Tokenize turns value into a token of format f with method m ("" means
// FF1) in scope s.
func (t *Tokenizer) Tokenize(ctx context.Context, m Method, s Scope, f Format, value string) (string, error) {
	if f == nil {
		return "", fmt.Errorf("%w: nil format", ErrFormat)
	}
	switch m {
	case MethodHMAC:
		return t.Pseudonym(s, value), nil
	case MethodVault:
		return t.vaultTokenize(ctx, s, f, value)
	}
	e, err := t.newFPE(m, s)
	if err != nil {
		return "", err
	}
	return f.transform(e, value, true)
}

// Detokenize reverses Tokenize. It checks no permission itself: callers
// that expose it must (Reverse takes a Permit for this reason).
func (t *Tokenizer) Detokenize(ctx context.Context, m Method, s Scope, f Format, token string) (string, error) {
	if f == nil {
		return "", fmt.Errorf("%w: nil format", ErrFormat)
	}
	switch m {
	case MethodHMAC:
		return "", ErrIrreversible
	case MethodVault:
		return t.vaultDetokenize(ctx, s, token)
	}
	e, err := t.newFPE(m, s)
	if err != nil {
		return "", err
	}
	return f.transform(e, token, false)
}
