package tokenize

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Record is one stored token (MethodStored). A token belongs to one data subject of one
// tenant, (Tenant, Subject), and one field. The value itself is never
// stored in clear: Sealed is AES-256-GCM under a key derived from the
// Tokenizer's root key, bound to the token, tenant, subject and field, and
// Lookup is a keyed hash (HMAC-SHA256) of tenant, subject, field and value,
// so the store can find a subject's token for a value without learning the
// value. Two subjects with the same value (a shared family e-mail address)
// have two tokens and two records, so deleting one subject's tokens never
// touches the other's.
type Record struct {
	Token   string
	Tenant  string
	Field   string
	Subject string // data subject; DeleteSubject removes their tokens
	KeyID   string
	Lookup  []byte
	Sealed  []byte
	Created time.Time
	Expires time.Time // zero: never
}

func (r *Record) live(now time.Time) bool {
	return r.Expires.IsZero() || now.Before(r.Expires)
}

// TokenStore keeps stored tokens. Implementations must be safe for
// concurrent use; NewMemoryStore and sqltokenstore.Store implement it, and
// tokenstoretest.Run is the conformance suite an implementation must pass.
//
// A store returns records as they were put; the Tokenizer checks every
// record against the scope it asked for (tenant, subject, field) and the
// sealed value's associated data binds it to its token and scope, so a
// store that returns the wrong row causes ErrNotFound, never another
// subject's value. A database-backed store reads and writes through
// pii.ExecutorFrom(ctx, db), so that under pii.WithExecutor its rows
// commit or roll back with the caller's transaction.
type TokenStore interface {
	// Put stores a new record; ErrTokenExists if its token is taken.
	Put(ctx context.Context, r *Record) error
	// Get returns the unexpired record of token, or ErrNotFound.
	Get(ctx context.Context, token string, now time.Time) (*Record, error)
	// Find returns the newest unexpired record with this lookup hash, or
	// ErrNotFound. The hash covers tenant, subject, field and value.
	Find(ctx context.Context, lookup []byte, now time.Time) (*Record, error)
	// DeleteSubject deletes every record of a data subject of a tenant,
	// and no other tenant's, and returns how many it deleted.
	DeleteSubject(ctx context.Context, tenant, subject string) (int64, error)
	// DeleteExpired deletes records that expired at or before now (and
	// none without an expiry), and returns how many it deleted.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// maxTokenDraws bounds the retries on token collisions.
const maxTokenDraws = 16

func (t *Tokenizer) storedTokenize(ctx context.Context, s Scope, f TokenFormat, value string) (string, error) {
	st := t.opts.Store
	if st == nil {
		return "", errNoStore
	}
	now := t.clock.Now()
	lookup := t.lookupMAC(s, value)
	if t.opts.Convergent {
		r, err := st.Find(ctx, lookup, now)
		// What the store returned is checked against what was asked: a
		// record of another tenant, subject or field is never reused.
		if err == nil && r.Tenant == s.Tenant && r.Subject == s.Subject && r.Field == s.Field {
			return r.Token, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", err
		}
	}
	gen := numerals{t: t, random: true}
	for range maxTokenDraws {
		tok, err := f.transform(gen, value, true)
		if err != nil {
			return "", err
		}
		sealed, err := t.seal(s, tok, value)
		if err != nil {
			return "", err
		}
		r := &Record{
			Token: tok, Tenant: s.Tenant, Field: s.Field, Subject: s.Subject,
			KeyID: t.opts.KeyID, Lookup: lookup, Sealed: sealed, Created: now,
		}
		if t.opts.TTL > 0 {
			r.Expires = now.Add(t.opts.TTL)
		}
		err = st.Put(ctx, r)
		if errors.Is(err, ErrTokenExists) {
			continue
		}
		if err != nil {
			return "", err
		}
		return tok, nil
	}
	return "", fmt.Errorf("%w: could not draw an unused token", ErrFormat)
}

func (t *Tokenizer) storedDetokenize(ctx context.Context, s Scope, token string) (string, error) {
	st := t.opts.Store
	if st == nil {
		return "", errNoStore
	}
	r, err := st.Get(ctx, token, t.clock.Now())
	if err != nil {
		return "", err
	}
	// A token of another tenant, subject or field is not found here.
	if r.Tenant != s.Tenant || r.Subject != s.Subject || r.Field != s.Field {
		return "", ErrNotFound
	}
	return t.open(s, token, r.Sealed)
}

// DeleteSubject deletes every stored token of a tenant's data subject
// from the store, and no other: tokens belong to one subject even when
// another subject has the same value. Subject ids need only be unique
// within a tenant. Under a context from pii.WithExecutor the deletion is
// part of the caller's transaction.
func (t *Tokenizer) DeleteSubject(ctx context.Context, tenant, subject string) (int64, error) {
	if t.opts.Store == nil {
		return 0, errNoStore
	}
	return t.opts.Store.DeleteSubject(ctx, tenant, subject)
}

func (t *Tokenizer) aead() (cipher.AEAD, error) {
	b, err := aes.NewCipher(t.k.seal)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// lookupMAC is the convergence lookup hash of a value: HMAC-SHA256 under
// the lookup key of tenant, subject, field and value, length-prefixed.
// This label and sealAD's keep the method's former name ("vault"): they
// are part of the stored format, and changing them would orphan every
// stored token.
func (t *Tokenizer) lookupMAC(s Scope, value string) []byte {
	h := hmac.New(sha256.New, t.k.lookup)
	var l [4]byte
	for _, p := range []string{"vault lookup v2", s.Tenant, s.Subject, s.Field, value} {
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		h.Write(l[:])
		io.WriteString(h, p)
	}
	return h.Sum(nil)
}

// sealAD is the associated data of a record's sealed value, built from the
// scope asked for: a record moved to another tenant, subject or field does
// not open.
func sealAD(s Scope, token string) []byte {
	ad := []byte("fieldguard/pii tokenize vault v2")
	for _, p := range []string{s.Tenant, s.Subject, s.Field, token} {
		ad = append(ad, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
		ad = append(ad, p...)
	}
	return ad
}

func (t *Tokenizer) seal(s Scope, token, value string) ([]byte, error) {
	g, err := t.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(value)+g.Overhead())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, []byte(value), sealAD(s, token)), nil
}

func (t *Tokenizer) open(s Scope, token string, sealed []byte) (string, error) {
	g, err := t.aead()
	if err != nil {
		return "", err
	}
	if len(sealed) < g.NonceSize() {
		return "", fmt.Errorf("%w: stored record is corrupt or from another key", ErrNotFound)
	}
	pt, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], sealAD(s, token))
	if err != nil {
		return "", fmt.Errorf("%w: stored record is corrupt or from another key", ErrNotFound)
	}
	defer clear(pt)
	return string(pt), nil
}

// memoryStore is the TokenStore of NewMemoryStore.
type memoryStore struct {
	mu      sync.Mutex
	byToken map[string]*Record
}

var _ TokenStore = (*memoryStore)(nil)

// NewMemoryStore returns an empty in-memory TokenStore, for tests and
// single-process use: its tokens die with the process, and it ignores
// pii.WithExecutor (nothing rolls back).
func NewMemoryStore() TokenStore {
	return &memoryStore{byToken: make(map[string]*Record)}
}

func cloneRecord(r *Record) *Record {
	c := *r
	c.Lookup = slices.Clone(r.Lookup)
	c.Sealed = slices.Clone(r.Sealed)
	return &c
}

func (m *memoryStore) Put(_ context.Context, r *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byToken[r.Token]; ok {
		return ErrTokenExists
	}
	m.byToken[r.Token] = cloneRecord(r)
	return nil
}

func (m *memoryStore) Get(_ context.Context, token string, now time.Time) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byToken[token]
	if !ok || !r.live(now) {
		return nil, ErrNotFound
	}
	return cloneRecord(r), nil
}

func (m *memoryStore) Find(_ context.Context, lookup []byte, now time.Time) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best *Record
	for _, r := range m.byToken {
		if hmac.Equal(r.Lookup, lookup) && r.live(now) && (best == nil || r.Created.After(best.Created)) {
			best = r
		}
	}
	if best == nil {
		return nil, ErrNotFound
	}
	return cloneRecord(best), nil
}

func (m *memoryStore) DeleteSubject(_ context.Context, tenant, subject string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, r := range m.byToken {
		if r.Tenant == tenant && r.Subject == subject {
			delete(m.byToken, k)
			n++
		}
	}
	return n, nil
}

func (m *memoryStore) DeleteExpired(_ context.Context, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, r := range m.byToken {
		if !r.live(now) {
			delete(m.byToken, k)
			n++
		}
	}
	return n, nil
}
