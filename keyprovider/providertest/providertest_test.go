package providertest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
)

// flaws switch on one deliberate bug each in the reference provider.
type flaws struct {
	ignoreAD      bool // seal and open without the associated data
	noAuth        bool // AES-CTR without a tag
	ignoreCtx     bool // never look at the context
	leakKey       bool // put the data key in the cancelled-Wrap error
	cache         bool // keep the caller's slice and hand it back from Unwrap
	mutate        bool // clear the caller's dataKey after wrapping
	panicShort    bool // slice the wrapped bytes without a length check
	emptyKeyID    bool // report KeyID{}
	unclassified  bool // return a plain error on authentication failure
	sameKeyAndIDs bool // (harness) both providers share one KEK and id
	rotateDrops   bool // Rotate forgets the old versions
	staleKeyID    bool // Wrap keeps reporting the first version
	twoPrimaries  bool // Versions lists the primary twice
	rewrapNoAD    bool // Rewrap wraps again without the associated data
	doublePrefix  bool // say "ref: " twice in the authentication error
}

// refProvider is a minimal correct provider: AES-256-GCM KEK versions,
// wrapped = 0x01 | version id (4 bytes) | nonce (12) | ciphertext+tag. It
// implements every optional interface.
type refProvider struct {
	name string
	f    flaws

	mu       sync.RWMutex
	versions map[uint32]*refKEK
	order    []uint32
	primary  uint32
	cache    map[string][]byte
}

type refKEK struct {
	aead  cipher.AEAD
	block cipher.Block
}

const refPrefix = 5

func newKEK(t testing.TB, kek []byte) *refKEK {
	block, err := aes.NewCipher(kek)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &refKEK{aead: aead, block: block}
}

func newRef(t testing.TB, f flaws, kek []byte, id uint32, name string) *refProvider {
	return &refProvider{
		name: name, f: f,
		versions: map[uint32]*refKEK{id: newKEK(t, kek)},
		order:    []uint32{id},
		primary:  id,
		cache:    map[string][]byte{},
	}
}

func randomKEK() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func refHarness(f flaws) Harness {
	return Harness{New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
		if f.sameKeyAndIDs {
			kek := randomKEK()
			return newRef(t, f, kek, 7, "ref"), newRef(t, f, kek, 7, "ref")
		}
		return newRef(t, f, randomKEK(), 100, "ref-a"), newRef(t, f, randomKEK(), 200, "ref-b")
	}}
}

// plainHarness hides the optional interfaces.
func plainHarness() Harness {
	return Harness{New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
		a, b = refHarness(flaws{}).New(t)
		return plain{a}, plain{b}
	}}
}

type plain struct{ keyprovider.KeyProvider }

// unsupported implements the optional interfaces but refuses, as
// keyprovider.Client does for a backend without them.
type unsupported struct{ keyprovider.KeyProvider }

func (unsupported) Rotate(context.Context) (keyprovider.KeyID, error) {
	return keyprovider.KeyID{}, fmt.Errorf("cannot rotate: %w", errors.ErrUnsupported)
}

func (unsupported) Versions(context.Context) ([]keyprovider.Version, error) {
	return nil, fmt.Errorf("cannot list: %w", errors.ErrUnsupported)
}

func (unsupported) Rewrap(context.Context, []byte, []byte) ([]byte, keyprovider.KeyID, error) {
	return nil, keyprovider.KeyID{}, fmt.Errorf("cannot rewrap: %w", errors.ErrUnsupported)
}

func (p *refProvider) keyID(id uint32) keyprovider.KeyID {
	if p.f.emptyKeyID {
		return keyprovider.KeyID{}
	}
	if p.f.staleKeyID {
		id = p.order[0]
	}
	return keyprovider.KeyID{Key: p.name, Version: fmt.Sprint(id)}
}

func (p *refProvider) Wrap(ctx context.Context, dataKey, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if !p.f.ignoreCtx {
		if err := ctx.Err(); err != nil {
			if p.f.leakKey {
				return nil, keyprovider.KeyID{}, fmt.Errorf("ref: wrap %x: %w", dataKey, err)
			}
			return nil, keyprovider.KeyID{}, err
		}
	}
	p.mu.RLock()
	id := p.primary
	kek := p.versions[id]
	kid := p.keyID(id)
	p.mu.RUnlock()
	out := p.seal(kek, id, dataKey, ad)
	if p.f.cache {
		p.mu.Lock()
		p.cache[string(out)] = dataKey
		p.mu.Unlock()
	}
	if p.f.mutate {
		clear(dataKey)
	}
	return out, kid, nil
}

func (p *refProvider) seal(kek *refKEK, id uint32, dataKey, ad []byte) []byte {
	if p.f.ignoreAD {
		ad = nil
	}
	out := make([]byte, refPrefix, refPrefix+12+len(dataKey)+16)
	out[0] = 1
	binary.BigEndian.PutUint32(out[1:], id)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	if p.f.noAuth {
		body := make([]byte, len(dataKey))
		cipher.NewCTR(kek.block, append(nonce, 0, 0, 0, 0)).XORKeyStream(body, dataKey)
		return append(out, body...)
	}
	return kek.aead.Seal(out, nonce, dataKey, ad)
}

func (p *refProvider) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	if !p.f.ignoreCtx {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if p.f.cache {
		p.mu.Lock()
		k, ok := p.cache[string(wrapped)]
		p.mu.Unlock()
		if ok {
			return k, nil
		}
	}
	if p.f.ignoreAD {
		ad = nil
	}
	if !p.f.panicShort && len(wrapped) < refPrefix+12 {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("ref: wrapped key too short"))
	}
	nonce := wrapped[refPrefix : refPrefix+12]
	p.mu.RLock()
	kek, ok := p.versions[binary.BigEndian.Uint32(wrapped[1:])]
	p.mu.RUnlock()
	if wrapped[0] != 1 || !ok {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrKeyNotFound, errors.New("ref: not wrapped under this KEK"))
	}
	if p.f.noAuth {
		out := make([]byte, len(wrapped)-refPrefix-12)
		cipher.NewCTR(kek.block, append(bytes.Clone(nonce), 0, 0, 0, 0)).XORKeyStream(out, wrapped[refPrefix+12:])
		return out, nil
	}
	out, err := kek.aead.Open(nil, nonce, wrapped[refPrefix+12:], ad)
	if err != nil {
		if p.f.unclassified {
			return nil, errors.New("ref: open failed")
		}
		if p.f.doublePrefix {
			return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, fmt.Errorf("ref: open: %w", errors.New("ref: tag mismatch")))
		}
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, err)
	}
	return out, nil
}

func (p *refProvider) Rotate(ctx context.Context) (keyprovider.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return keyprovider.KeyID{}, err
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.order[len(p.order)-1] + 1
	if p.f.rotateDrops {
		p.versions = map[uint32]*refKEK{}
	}
	p.versions[id] = &refKEK{aead: aead, block: block}
	p.order = append(p.order, id)
	p.primary = id
	return keyprovider.KeyID{Key: p.name, Version: fmt.Sprint(id)}, nil
}

func (p *refProvider) Versions(ctx context.Context) ([]keyprovider.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []keyprovider.Version
	for _, id := range p.order {
		out = append(out, keyprovider.Version{
			ID:      keyprovider.KeyID{Key: p.name, Version: fmt.Sprint(id)},
			Status:  keyprovider.StatusEnabled,
			Primary: id == p.primary,
		})
	}
	if p.f.twoPrimaries {
		out = append(out, out[len(out)-1])
	}
	return out, nil
}

func (p *refProvider) Rewrap(ctx context.Context, wrapped, ad []byte) ([]byte, keyprovider.KeyID, error) {
	key, err := p.Unwrap(ctx, wrapped, ad)
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	defer clear(key)
	if p.f.rewrapNoAD {
		ad = nil
	}
	return p.Wrap(ctx, key, ad)
}

func TestReferenceProviderConforms(t *testing.T) {
	Run(t, refHarness(flaws{}))
}

// TestOptionalChecksSkip runs the suite on providers without the optional
// interfaces: the optional checks report a skip, the others pass.
func TestOptionalChecksSkip(t *testing.T) {
	for _, name := range []string{"Rotation", "Versions", "Rewrap"} {
		a, b := plainHarness().New(t)
		err := runCheck(t.Context(), name, a, b)
		var skip *skipError
		require.ErrorAs(t, err, &skip, name)
		require.Contains(t, skip.reason, "does not implement keyprovider.")

		a, b = refHarness(flaws{}).New(t)
		err = runCheck(t.Context(), name, unsupported{a}, unsupported{b})
		require.ErrorAs(t, err, &skip, name)
		require.Contains(t, skip.reason, "reports errors.ErrUnsupported")
	}
	Run(t, plainHarness())
}

// TestChecksCatchBrokenProviders runs each check against a provider with one
// deliberate flaw, and against the correct reference, so a check that
// passes everything cannot hide here.
func TestChecksCatchBrokenProviders(t *testing.T) {
	tests := []struct {
		name  string
		flaws flaws
		check string
		want  string
	}{
		{"ignores associated data", flaws{ignoreAD: true}, "WrongAssociatedData", "associated data is not authenticated"},
		{"unclassified authentication error", flaws{unclassified: true}, "WrongAssociatedData", "want an error matching keyprovider.ErrAuthentication"},
		{"no integrity: bit flips", flaws{noAuth: true}, "BitFlips", "Unwrap succeeded"},
		{"no integrity: truncations", flaws{noAuth: true}, "Truncations", "Unwrap succeeded"},
		{"panics on short input: truncations", flaws{panicShort: true}, "Truncations", "provider panicked"},
		{"panics on short input: garbage", flaws{panicShort: true}, "Garbage", "provider panicked"},
		{"shared KEK", flaws{sameKeyAndIDs: true}, "CrossKEK", "Unwrap returned the original data key"},
		{"shared KEK ids", flaws{sameKeyAndIDs: true}, "CrossKEK", "two KEKs must have distinct ids"},
		{"ignores a cancelled context", flaws{ignoreCtx: true}, "CancelledContext", "want an error matching context canceled"},
		{"ignores an expired deadline", flaws{ignoreCtx: true}, "ExpiredDeadline", "want an error matching context deadline exceeded"},
		{"leaks the key: cancelled context", flaws{leakKey: true}, "CancelledContext", "contains a data key (hex)"},
		{"leaks the key: provoked errors", flaws{leakKey: true}, "NoKeyBytesInErrors", "contains a data key (hex)"},
		{"retains the caller's slice", flaws{cache: true}, "NoAliasing", "Wrap retained the caller's slice"},
		{"returns an internal buffer", flaws{cache: true}, "NoAliasing", "Unwrap returned an internal buffer"},
		{"mutates the caller's key", flaws{mutate: true}, "NoAliasing", "Wrap mutated the caller's dataKey"},
		{"empty key id", flaws{emptyKeyID: true}, "RoundTrip", "empty KeyID.Key"},
		{"rotation forgets old versions", flaws{rotateDrops: true}, "Rotation", "key wrapped before Rotate: Unwrap"},
		{"stale key id after rotation", flaws{staleKeyID: true}, "Rotation", "still reports the old version"},
		{"two primaries", flaws{twoPrimaries: true}, "Versions", "lists 2 primary versions, want 1"},
		{"rewrap drops associated data", flaws{rewrapNoAD: true}, "Rewrap", "Unwrap of a rewrapped key"},
		{"rewrap ignores a cancelled context", flaws{ignoreCtx: true}, "Rewrap", "want an error matching context.Canceled"},
		{"repeats its prefix", flaws{doublePrefix: true}, "WrongAssociatedData", `repeats the prefix "ref: "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := refHarness(tt.flaws).New(t)
			err := runCheck(t.Context(), tt.check, a, b)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)

			a, b = refHarness(flaws{}).New(t)
			require.NoError(t, runCheck(t.Context(), tt.check, a, b), "the correct reference must pass %s", tt.check)
		})
	}
}

func TestEveryCheckIsExercised(t *testing.T) {
	require.Len(t, checks, 14)
	seen := map[string]bool{}
	for _, c := range checks {
		require.False(t, seen[c.name], "duplicate check %s", c.name)
		seen[c.name] = true
	}
	require.Error(t, runCheck(t.Context(), "NoSuchCheck", nil, nil))
}

func TestLeakFormsFindEncodings(t *testing.T) {
	key := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"hex", fmt.Errorf("x %x", key), "(hex)"},
		{"upper hex", fmt.Errorf("x %X", key), "(upper-case hex)"},
		{"partial hex", fmt.Errorf("x %x", key[3:11]), "(hex of bytes"},
		{"base64", fmt.Errorf("x %s", "3q2+796tvu/erb7v3q2+7w=="), "base64"},
		{"raw", fmt.Errorf("x %s", key), "(raw)"},
		{"%v", fmt.Errorf("x %v", key), "(%v of the byte slice)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t.Context(), nil, nil)
			e.keys = append(e.keys, key)
			e.record(tt.err)
			err := e.leaks()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "dead")
		})
	}
	e := newEnv(t.Context(), nil, nil)
	e.keys = append(e.keys, key)
	e.record(errors.New("keyprovider: authentication failed"))
	require.NoError(t, e.leaks())
}

func TestRepeatedPrefix(t *testing.T) {
	tests := []struct {
		msg, want string
	}{
		{"keyprovider: authentication failed (unwrap): vault: Error making API request.\n\nURL: PUT http://127.0.0.1:1/v1/transit/decrypt/a\nCode: 400. Errors:\n\n* cipher: message authentication failed", ""},
		{"keyprovider: key service unavailable (wrap): circuit breaker open (last attempt: key service unavailable (wrap): gcpkms: rpc error: code = Unavailable desc = x)", ""},
		{`keyprovider: key service unavailable (wrap): vault: Put "http://127.0.0.1:1/v1/transit/encrypt/a": dial tcp 127.0.0.1:1: connect: connection refused`, ""},
		{"vault: vault: x", "vault"},
		{"keyprovider: invalid argument (wrap): keyprovider: backend panicked", "keyprovider"},
		{"keyprovider: x (last attempt: keyprovider: y)", "keyprovider"},
		{"tokenize: Customer.Phone: tokenize: token not found", "tokenize"},
		{"local2: a: local2: b", "local2"},
		{"context deadline exceeded", ""},
		{"", ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, repeatedPrefix(tc.msg), tc.msg)
	}
}

// TestRunFailsOnBrokenProvider runs the whole suite, in a child process,
// against a provider that ignores associated data, and checks that Run
// fails exactly the subtest that should catch it.
func TestRunFailsOnBrokenProvider(t *testing.T) {
	if os.Getenv("PROVIDERTEST_BROKEN_CHILD") == "1" {
		Run(t, refHarness(flaws{ignoreAD: true}))
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunFailsOnBrokenProvider$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "PROVIDERTEST_BROKEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the suite must fail a provider that ignores associated data; output:\n%s", out)
	require.Contains(t, string(out), "--- FAIL: TestRunFailsOnBrokenProvider/WrongAssociatedData")
	require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenProvider/RoundTrip")
	require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenProvider/BitFlips")
}
