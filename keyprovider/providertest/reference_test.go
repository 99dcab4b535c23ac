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
	"sync"
	"testing"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/stretchr/testify/require"
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
