// Package testkp is an in-process AES-256-GCM key provider for envelope's
// tests: it counts calls and can be switched into an outage.
//
// The key it uses is for tests only and must never be used in production.
package testkp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/fieldguard/pii/keyprovider"
)

// Provider wraps keys under one of its KEK versions with AES-256-GCM.
// Wrapped form: version byte | nonce (12) | ciphertext || tag.
type Provider struct {
	mu       sync.RWMutex
	keks     []cipher.AEAD
	primary  int
	disabled map[int]bool

	Wraps, Unwraps atomic.Int64
	down           atomic.Bool
}

var _ keyprovider.KeyProvider = (*Provider)(nil)

// New returns a provider whose first KEK is key (32 bytes), or a random
// KEK when key is nil.
func New(key []byte) *Provider {
	p := &Provider{}
	p.addKEK(key)
	return p
}

func (p *Provider) addKEK(key []byte) int {
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	a, _ := cipher.NewGCM(b)
	p.keks = append(p.keks, a)
	return len(p.keks) - 1
}

// Rotate adds a KEK version and makes it primary.
func (p *Provider) Rotate(context.Context) (keyprovider.KeyID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.primary = p.addKEK(nil)
	return p.id(p.primary), nil
}

// SetDown simulates an outage: every call fails with ErrUnavailable.
func (p *Provider) SetDown(down bool) { p.down.Store(down) }

func (p *Provider) id(v int) keyprovider.KeyID {
	return keyprovider.KeyID{Key: "testkp", Version: string(rune('1' + v))}
}

var errDown = errors.New("testkp: simulated outage")

// Wrap implements keyprovider.KeyProvider.
func (p *Provider) Wrap(ctx context.Context, key, ad []byte) ([]byte, keyprovider.KeyID, error) {
	p.Wraps.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	if p.down.Load() {
		return nil, keyprovider.KeyID{}, keyprovider.Classify("wrap", keyprovider.ErrUnavailable, errDown)
	}
	p.mu.RLock()
	v := p.primary
	a := p.keks[v]
	p.mu.RUnlock()
	out := make([]byte, 13, 13+len(key)+16)
	out[0] = byte(v)
	rand.Read(out[1:13])
	return a.Seal(out, out[1:13], key, ad), p.id(v), nil
}

// Unwrap implements keyprovider.KeyProvider.
func (p *Provider) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	p.Unwraps.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.down.Load() {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrUnavailable, errDown)
	}
	if len(w) < 13+16 {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrInvalidArgument, errors.New("testkp: short"))
	}
	p.mu.RLock()
	if int(w[0]) >= len(p.keks) {
		p.mu.RUnlock()
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrKeyNotFound, errors.New("testkp: no such version"))
	}
	a, off := p.keks[w[0]], p.disabled[int(w[0])]
	p.mu.RUnlock()
	if off {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrKeyDisabled, errors.New("testkp: version disabled"))
	}
	k, err := a.Open(nil, w[1:13], w[13:], ad)
	if err != nil {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("testkp: authentication failed"))
	}
	return k, nil
}

// Disable makes unwraps under KEK version v (0-based) fail with
// ErrKeyDisabled, as after a KMS key version is disabled.
func (p *Provider) Disable(v int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disabled == nil {
		p.disabled = map[int]bool{}
	}
	p.disabled[v] = true
}
