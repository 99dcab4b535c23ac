package tokenize

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/clock"
	"github.com/fieldguard/pii/internal/redact"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/tokenize/fpe"
)

// Method selects how a value becomes a token; the values are those of the
// `pii:"...,token=<method>"` tag option.
type Method string

const (
	// MethodFF1 is format-preserving encryption with FF1, the default.
	MethodFF1 Method = "ff1"
	// MethodFF31 is FF3-1, for interoperability only (see fpe.FF31).
	MethodFF31 Method = "ff3-1"
	// MethodHMAC gives keyed pseudonyms (HMAC-SHA256); not reversible.
	MethodHMAC Method = "hmac"
	// MethodStored gives random tokens of the value's format, kept with
	// their sealed value in a TokenStore (Options.Store).
	MethodStored Method = "stored"
)

// rootKeySize is the size of the root key a Tokenizer derives its keys from.
const rootKeySize = 32

// Scope is where a value lives. Tenant and Field make the tweak (and the
// HMAC context): the same value gives the same FPE token or pseudonym
// within one tenant's field, and different ones across tenants or fields.
// Give two fields the same Field name to make their tokens join. Subject
// does not affect FPE or HMAC tokens.
//
// A stored token belongs to one data subject, (Tenant, Subject): the
// convergence lookup covers tenant, subject, field and value, so two
// subjects with the same value get two tokens, and Detokenize finds a
// stored token only in the scope (tenant, subject and field) it was made
// in. DeleteSubject deletes exactly that subject's tokens. Types without a
// `pii:"subject"` (or `pii:"tenant"`) field use "".
type Scope struct {
	Tenant  string
	Field   string
	Subject string
}

// Options configure a Tokenizer. The zero value (or nil) is valid; it
// allows every method but token=stored, which needs a Store.
type Options struct {
	// KeyID names the root key generation; it prefixes HMAC pseudonyms and
	// is recorded with stored tokens. Default "k1".
	KeyID string
	// Store holds stored tokens (MethodStored). There is no default: pass
	// sqltokenstore.New(db, nil) to keep tokens in your database, or
	// NewMemoryStore() for tokens that die with the process. Without a
	// Store, MethodStored and DeleteSubject fail with an error saying so.
	Store TokenStore
	// Convergent makes stored tokens convergent: the same value of the same
	// data subject in the same field (tenant, subject and field of the
	// Scope) returns the existing token instead of a new random one.
	// Another subject with the same value gets their own token.
	Convergent bool
	// TTL is the lifetime of new stored tokens; zero means no expiry.
	TTL time.Duration
	// Formats overrides the format chosen for a pii category by Apply and
	// Reverse (see FormatFor). Keys are categories ("card", "phone", …).
	Formats map[string]TokenFormat
	// Clock reads the time for stored-token expiry; nil is the system
	// clock.
	Clock pii.Clock
}

// noPrint gives the Tokenizer the printing methods of internal/redact.
type noPrint = redact.Redacted

// Tokenizer applies format-aware tokenization with keys derived from one
// root key. It is safe for concurrent use.
type Tokenizer struct {
	noPrint                // prints as tokenize.Tokenizer{[REDACTED]} under fmt, slog and json
	k       *tokenizerKeys // behind a pointer: fmt never prints key bytes
	opts    Options
	clock   pii.Clock

	ff1r10    *fpe.FF1 // the most used cipher, without a map lookup
	ciphers   sync.Map // cipherKey → numeralCipher, created on first use
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

// errNoStore is the error of MethodStored and DeleteSubject without
// Options.Store.
var errNoStore = errors.New("tokenize: token=stored needs Options.Store: pass sqltokenstore.New(db, nil) " +
	"to keep tokens in your database, or tokenize.NewMemoryStore() for tokens that die with the process")

// New returns a Tokenizer whose keys are derived (HKDF-SHA256) from the
// 32-byte root key. The Tokenizer keeps derived keys only; the caller may
// clear root afterwards.
func New(root []byte, opts *Options) (*Tokenizer, error) {
	if len(root) != rootKeySize {
		return nil, fmt.Errorf("%w: root key must be %d bytes, got %d", errKey, rootKeySize, len(root))
	}
	t := &Tokenizer{noPrint: redact.Named("tokenize.Tokenizer"), k: &tokenizerKeys{}, seed: maphash.MakeSeed()}
	if opts != nil {
		t.opts = *opts
		t.opts.Formats = maps.Clone(opts.Formats) // the caller may reuse its map
	}
	if t.opts.KeyID == "" {
		t.opts.KeyID = "k1"
	}
	switch {
	case t.opts.TTL < 0:
		return nil, errors.New("tokenize: Options.TTL is negative")
	case t.opts.Store == nil && (t.opts.Convergent || t.opts.TTL != 0):
		return nil, errors.New("tokenize: Options.Convergent and Options.TTL apply to stored tokens, and Options.Store is nil: " +
			"pass sqltokenstore.New(db, nil) to keep tokens in your database, or tokenize.NewMemoryStore() for tokens that die with the process")
	}
	t.clock = clock.Or(t.opts.Clock)
	for _, d := range []struct {
		dst  *[]byte
		info string
	}{
		{&t.k.ff1, "ff1"}, {&t.k.ff31, "ff3-1"}, {&t.k.tweak, "tweak"},
		// The stored-token keys keep their version 1 labels ("vault") so
		// that tokens stored before the method was renamed still open.
		{&t.k.hmac, "hmac"}, {&t.k.lookup, "vault-lookup"}, {&t.k.seal, "vault-seal"},
	} {
		k, err := hkdf.Key(sha256.New, root, nil, "fieldguard/pii tokenize v1 "+d.info, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: key derivation failed", errKey)
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
	t.ff1r10 = c.(*fpe.FF1)
	return t, nil
}

// NewFromProvider unwraps the root key with a key provider (a KMS-held
// key-encryption key) and returns New(root, opts). wrapped is the output of
// KeyProvider.Wrap for a 32-byte root key, made with the same associated
// data. The unwrapped root is cleared once the subkeys are derived.
//
// A bare provider is wrapped in keyprovider.NewClient(kp, nil), so the
// call has the Client's deadline, retries and circuit breaker; a
// *keyprovider.Client is used as it is.
func NewFromProvider(ctx context.Context, kp keyprovider.KeyProvider, wrapped, associatedData []byte, opts *Options) (*Tokenizer, error) {
	if kp == nil {
		return nil, errors.New("tokenize: NewFromProvider with a nil KeyProvider")
	}
	if _, ok := kp.(*keyprovider.Client); !ok {
		kp = keyprovider.NewClient(kp, nil)
	}
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
	k := make([]byte, rootKeySize)
	rand.Read(k)
	return k
}

func (t *Tokenizer) cipher(m Method, radix int) (numeralCipher, error) {
	if radix == 10 && m == MethodFF1 && t.ff1r10 != nil {
		return t.ff1r10, nil
	}
	key := cipherKey{m, radix}
	if c, ok := t.ciphers.Load(key); ok {
		return c.(numeralCipher), nil
	}
	var c numeralCipher
	var err error
	switch m {
	case MethodFF1:
		c, err = fpe.NewFF1(t.k.ff1, radix)
	case MethodFF31:
		c, err = fpe.NewFF31(t.k.ff31, radix)
	default:
		return nil, fmt.Errorf("%w: method %q has no numeral cipher", ErrFormat, m)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	actual, _ := t.ciphers.LoadOrStore(key, c)
	return actual.(numeralCipher), nil
}

// tweak derives the tweak of a scope, the first 8 (FF1) or 7 (FF3-1)
// bytes of HMAC-SHA256(tweak key, tenant, field), and the scope's check
// byte, the byte after them, which sets by how much the field's card and
// IBAN tokens miss their check digits (see Card and IBAN). Eight bytes keep
// the FF1 Q block to a single AES block for decimal inputs up to 38 digits.
func (t *Tokenizer) tweak(m Method, s Scope) (tweak []byte, check byte) {
	n := 8
	if m == MethodFF31 {
		n = ff31TweakSize
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

func (t *Tokenizer) newNumerals(m Method, s Scope) (numerals, error) {
	switch m {
	case "", MethodFF1:
		tw, check := t.tweak(MethodFF1, s)
		return numerals{t: t, m: MethodFF1, tweak: tw, check: check}, nil
	case MethodFF31:
		tw, check := t.tweak(MethodFF31, s)
		return numerals{t: t, m: MethodFF31, tweak: tw, check: check}, nil
	}
	return numerals{}, fmt.Errorf("%w: unknown method %q", ErrFormat, m)
}

// Tokenize turns value into a token of format f with method m ("" means
// FF1) in scope s. MethodHMAC ignores f (it may be nil) and returns the
// keyed pseudonym "<key id>:" followed by the first 128 bits of
// HMAC-SHA256(hmac key, tenant, field, value) in unpadded base64url.
// MethodStored draws a random token of format f and keeps it, with the
// value sealed, in Options.Store; under a context from pii.WithExecutor
// the row is written in the caller's transaction.
func (t *Tokenizer) Tokenize(ctx context.Context, m Method, s Scope, f TokenFormat, value string) (string, error) {
	if m == MethodHMAC {
		return t.pseudonym(s, value), nil
	}
	if f == nil {
		return "", fmt.Errorf("%w: nil format", ErrFormat)
	}
	if m == MethodStored {
		return t.storedTokenize(ctx, s, f, value)
	}
	e, err := t.newNumerals(m, s)
	if err != nil {
		return "", err
	}
	return f.transform(e, value, true)
}

// Detokenize reverses Tokenize. It checks no permission itself: callers
// that expose it must (Reverse takes a Permit for this reason). MethodHMAC
// pseudonyms are one-way: Detokenize refuses them.
func (t *Tokenizer) Detokenize(ctx context.Context, m Method, s Scope, f TokenFormat, token string) (string, error) {
	if m == MethodHMAC {
		return "", errIrreversible
	}
	if f == nil {
		return "", fmt.Errorf("%w: nil format", ErrFormat)
	}
	if m == MethodStored {
		return t.storedDetokenize(ctx, s, token)
	}
	e, err := t.newNumerals(m, s)
	if err != nil {
		return "", err
	}
	return f.transform(e, token, false)
}
