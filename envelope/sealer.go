package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/fieldguard/pii/keyprovider"
)

// Sealer encrypts and decrypts fields. It is safe for concurrent use; make
// one per process (or per key provider) and share it, since its caches are
// what keep KMS calls proportional to branch keys rather than to records.
type Sealer struct {
	kp    keyprovider.KeyProvider
	opts  Options
	store KeyStore

	now       func() time.Time // wall clock for record timestamps
	testNow   func() time.Time // test hook replacing both clocks
	nonceHook func([]byte)     // test hook: fixed nonces for frozen vectors
	testHook  func(string)     // test hook: called at named points of the key lookups

	mu        sync.RWMutex
	deks      map[dekRef]*dekEntry
	cur       map[scopeRef]*dekEntry
	inline    map[string]*dekEntry // by wrapped DEK bytes
	inlineCur map[string]*dekEntry // by tenant
	branches  map[branchRef]*branchEntry
	branchCur map[string]*branchEntry // by tenant
	roots     map[string]*rootEntry   // search root keys by tenant
	fields    map[fieldRef]*fieldKeys

	// lastEnc and lastDec are one-entry front caches: the fields of one
	// record share a DEK, so Seal and Open mostly hit them without touching
	// the lock or hashing. Every removal from the maps resets them.
	lastEnc, lastDec atomic.Pointer[dekEntry]

	kmsMu    sync.Mutex // serialises key provider loads so misses do not multiply KMS calls
	createMu sync.Mutex // serialises DEK creation

	// forgets counts ForgetSubject calls per stripe of scopes (changed
	// under mu); see forgetEpoch.
	forgets [64]atomic.Uint64
	seed    maphash.Seed

	st         counters
	limitBytes bool // Cache.MaxBytes is set: count bytes per DEK
}

type counters struct {
	wraps, unwraps, misses, stale, evictions atomic.Uint64
}

// Stats are counters since New.
type Stats struct {
	Wraps, Unwraps uint64 // key provider calls
	CacheMisses    uint64 // key lookups that left the hot path
	StaleServed    uint64 // decrypts served by expired keys during a key provider outage
	Evictions      uint64
}

// Stats returns the Sealer's counters.
func (s *Sealer) Stats() Stats {
	return Stats{
		Wraps: s.st.wraps.Load(), Unwraps: s.st.unwraps.Load(),
		CacheMisses: s.st.misses.Load(),
		StaleServed: s.st.stale.Load(), Evictions: s.st.evictions.Load(),
	}
}

type scopeRef struct{ tenant, subject string }

type dekRef struct {
	tenant, subject string
	id              uint32
}

type branchRef struct {
	tenant  string
	version uint32
}

type fieldRef struct{ tenant, typ, field string }

// dekEntry is one unwrapped DEK with everything derived from it.
type dekEntry struct {
	noPrint
	ref     dekRef
	aead    cipher.AEAD
	commit  [format.CommitmentSize]byte
	key     secret
	loaded  int64  // clock() when unwrapped (cache age)
	until   int64  // clock() at which its time bucket ends (tenant scope)
	wrapped string // inline mode: the wrapped DEK as carried
	msgs    atomic.Uint64
	bytes   atomic.Uint64
	spent   atomic.Bool
}

type branchEntry struct {
	noPrint
	tenant  string
	version uint32
	aead    cipher.AEAD
	key     secret
	loaded  int64
}

// New returns a Sealer that wraps its keys with kp. With nil opts it runs in
// keyring mode on a MemoryStore.
func New(kp keyprovider.KeyProvider, opts *Options) (*Sealer, error) {
	if kp == nil {
		return nil, errors.New("envelope: nil key provider")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Mode != Keyring && o.Mode != Inline {
		return nil, fmt.Errorf("envelope: unknown mode %d", o.Mode)
	}
	if o.IndexBytes != 0 && (o.IndexBytes < 4 || o.IndexBytes > 32) {
		return nil, fmt.Errorf("envelope: IndexBytes %d outside 4..32", o.IndexBytes)
	}
	o = o.withDefaults()
	st := o.Store
	if st == nil {
		st = NewMemoryStore()
		o.Store = st
	}
	return &Sealer{
		kp: kp, opts: o, store: st, now: time.Now, limitBytes: o.Cache.MaxBytes != ^uint64(0),
		deks: map[dekRef]*dekEntry{}, cur: map[scopeRef]*dekEntry{},
		inline: map[string]*dekEntry{}, inlineCur: map[string]*dekEntry{},
		branches: map[branchRef]*branchEntry{}, branchCur: map[string]*branchEntry{},
		roots: map[string]*rootEntry{}, fields: map[fieldRef]*fieldKeys{},
		seed: maphash.MakeSeed(),
	}, nil
}

// Store returns the Sealer's KeyStore.
func (s *Sealer) Store() KeyStore { return s.store }

// ---- key derivation and associated data ----

const (
	infoEnc    = "pii/envelope/v1/enc"
	infoCommit = "pii/envelope/v1/commit"
	keySize    = 32
)

// deriveDEK turns a DEK into its AES-256-GCM key and 16-byte commitment.
func deriveDEK(dek []byte) (cipher.AEAD, [format.CommitmentSize]byte, error) {
	var c [format.CommitmentSize]byte
	enc, err := hkdf.Key(sha256.New, dek, nil, infoEnc, keySize)
	if err != nil {
		return nil, c, err
	}
	defer clear(enc)
	cm, err := hkdf.Key(sha256.New, dek, nil, infoCommit, format.CommitmentSize)
	if err != nil {
		return nil, c, err
	}
	copy(c[:], cm)
	a, err := newGCM(enc)
	return a, c, err
}

// newGCM is the lowest-level AEAD every envelope path uses (field values,
// DEK wraps); the Wycheproof test runs through it.
func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func appendLP(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// appendFieldAD appends the associated data of a field ciphertext:
// version | DEK id (3, zero unless v1) | len-prefixed tenant, type, field,
// and record (omitted for v3, whose equality must hold across records).
func appendFieldAD(dst []byte, v format.Version, id uint32, b *Binding) []byte {
	dst = append(dst, byte(v))
	dst = format.PutDEKID(dst, id)
	dst = appendLP(dst, b.Tenant)
	dst = appendLP(dst, b.Type)
	dst = appendLP(dst, b.Field)
	if v != format.V3Det {
		dst = appendLP(dst, b.Record)
	}
	return dst
}

func fieldADLen(b *Binding) int {
	return 4 + 16 + len(b.Tenant) + len(b.Type) + len(b.Field) + len(b.Record)
}

// keyAD is the associated data of a key wrap.
func keyAD(label, tenant, scope string, id, parent uint32) []byte {
	ad := make([]byte, 0, len(label)+len(tenant)+len(scope)+24)
	ad = appendLP(ad, label)
	ad = appendLP(ad, tenant)
	ad = appendLP(ad, scope)
	ad = binary.BigEndian.AppendUint32(ad, id)
	return binary.BigEndian.AppendUint32(ad, parent)
}

func branchAD(tenant string, version uint32) []byte {
	return keyAD("pii/branch/v1", tenant, "", version, 0)
}

func dekAD(tenant, scope string, id, branch uint32) []byte {
	return keyAD("pii/dek/v1", tenant, scope, id, branch)
}

func searchAD(tenant string) []byte { return keyAD("pii/search/v1", tenant, "", 1, 0) }

func inlineAD(tenant string) []byte { return keyAD("pii/inline/v1", tenant, "", 0, 0) }

func scopeName(subject string) string {
	if subject == "" {
		return "t"
	}
	return "s:" + subject
}

func (s *Sealer) fillNonce(b []byte) {
	if s.nonceHook != nil {
		s.nonceHook(b)
		return
	}
	rand.Read(b)
}

// ---- scratch buffers ----

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		b := make([]byte, n)
		*bp = b
	}
	*bp = (*bp)[:n]
	return bp
}

func putBuf(bp *[]byte) {
	clear(*bp)
	putBufPublic(bp)
}

// putBufPublic returns a buffer that never held plaintext or keys.
func putBufPublic(bp *[]byte) {
	if cap(*bp) > 64<<10 {
		return
	}
	bufPool.Put(bp)
}

// ---- key provider calls ----

func (s *Sealer) wrap(ctx context.Context, key, ad []byte) ([]byte, keyprovider.KeyID, error) {
	s.st.wraps.Add(1)
	w, id, err := s.kp.Wrap(ctx, key, ad)
	if err != nil {
		return nil, id, fmt.Errorf("envelope: wrap: %w", keyprovider.Classify("wrap", keyprovider.ErrUnavailable, err))
	}
	return w, id, nil
}

func (s *Sealer) unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	s.st.unwraps.Add(1)
	k, err := s.kp.Unwrap(ctx, wrapped, ad)
	if err != nil {
		return nil, kmsError("unwrap", err)
	}
	if len(k) != keySize {
		clear(k)
		return nil, ErrDecrypt
	}
	return k, nil
}

func isUnavailable(err error) bool { return errors.Is(err, keyprovider.ErrUnavailable) }

func (s *Sealer) withinGrace(loaded, now int64) bool {
	return s.opts.OutageGrace > 0 && now-loaded < int64(s.opts.Cache.MaxAge+s.opts.OutageGrace)
}

func (s *Sealer) fresh(loaded, now int64) bool { return now-loaded < int64(s.opts.Cache.MaxAge) }

// ---- branch keys ----

func (s *Sealer) newBranchEntry(tenant string, version uint32, raw []byte, now int64) (*branchEntry, error) {
	a, err := newGCM(raw)
	if err != nil {
		clear(raw)
		return nil, err
	}
	return &branchEntry{tenant: tenant, version: version, aead: a, key: newSecret(raw), loaded: now}, nil
}

func (s *Sealer) installBranch(be *branchEntry, current bool) {
	s.mu.Lock()
	ref := branchRef{be.tenant, be.version}
	if old := s.branches[ref]; old != nil && old != be {
		old.key.wipe()
	}
	s.branches[ref] = be
	if current {
		s.branchCur[be.tenant] = be
	}
	s.mu.Unlock()
}

// branchKey returns branch key version of tenant for unwrapping DEKs.
// stale allows an expired entry during a key provider outage (decrypts).
func (s *Sealer) branchKey(ctx context.Context, tenant string, version uint32, stale bool) (*branchEntry, error) {
	now := s.clock()
	ref := branchRef{tenant, version}
	s.mu.RLock()
	be := s.branches[ref]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	s.kmsMu.Lock()
	defer s.kmsMu.Unlock()
	s.mu.RLock()
	be = s.branches[ref]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	want := KeyRef{Kind: KindBranch, Tenant: tenant, ID: version}
	rec, err := s.store.Get(ctx, want)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrDecrypt
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	nb, err := s.loadBranchLocked(ctx, want, rec, now)
	if err != nil {
		if stale && be != nil && isUnavailable(err) && s.withinGrace(be.loaded, now) {
			s.st.stale.Add(1)
			return be, nil
		}
		return nil, err
	}
	s.installBranch(nb, false)
	return nb, nil
}

// loadBranchLocked unwraps rec, which the key store returned for want. The
// associated data is built from want, never from the row.
func (s *Sealer) loadBranchLocked(ctx context.Context, want KeyRef, rec Record, now int64) (*branchEntry, error) {
	if err := checkRecord(rec, want); err != nil {
		return nil, err
	}
	raw, err := s.unwrap(ctx, rec.Wrapped, branchAD(want.Tenant, want.ID))
	if err != nil {
		return nil, err
	}
	return s.newBranchEntry(want.Tenant, want.ID, raw, now)
}

// currentBranch returns the tenant's newest branch key, making version 1
// on first use.
func (s *Sealer) currentBranch(ctx context.Context, tenant string) (*branchEntry, error) {
	now := s.clock()
	s.mu.RLock()
	be := s.branchCur[tenant]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	s.kmsMu.Lock()
	defer s.kmsMu.Unlock()
	s.mu.RLock()
	be = s.branchCur[tenant]
	s.mu.RUnlock()
	if be != nil && s.fresh(be.loaded, now) {
		return be, nil
	}
	rec, err := s.store.Latest(ctx, KindBranch, tenant, "")
	if errors.Is(err, ErrNotFound) {
		return s.createBranchLocked(ctx, tenant, 1, now)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	var seen uint32 // branch versions never go back
	if be != nil {
		seen = be.version
	}
	if err := checkLatest(rec, KindBranch, tenant, "", max(seen, 1)); err != nil {
		return nil, err
	}
	if p := s.opts.BranchKeyPeriod; p > 0 && s.now().Sub(rec.Created) >= p {
		return s.createBranchLocked(ctx, tenant, rec.ID+1, now)
	}
	if old := s.branchByRef(branchRef{tenant, rec.ID}); old != nil && s.fresh(old.loaded, now) {
		s.installBranch(old, true)
		return old, nil
	}
	nb, err := s.loadBranchLocked(ctx, KeyRef{Kind: KindBranch, Tenant: tenant, ID: rec.ID}, rec, now)
	if err != nil {
		return nil, err
	}
	s.installBranch(nb, true)
	return nb, nil
}

func (s *Sealer) branchByRef(r branchRef) *branchEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.branches[r]
}

func (s *Sealer) createBranchLocked(ctx context.Context, tenant string, version uint32, now int64) (*branchEntry, error) {
	raw := make([]byte, keySize)
	rand.Read(raw)
	w, kek, err := s.wrap(ctx, raw, branchAD(tenant, version))
	if err != nil {
		clear(raw)
		return nil, err
	}
	want := KeyRef{Kind: KindBranch, Tenant: tenant, ID: version}
	stored, inserted, err := s.store.Insert(ctx, Record{KeyRef: want, Wrapped: w, KEK: kek.String(), Created: s.now()})
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkRecord(stored, want); err != nil {
		clear(raw)
		return nil, err
	}
	var be *branchEntry
	if inserted {
		be, err = s.newBranchEntry(tenant, version, raw, now)
	} else {
		clear(raw)
		be, err = s.loadBranchLocked(ctx, want, stored, now)
	}
	if err != nil {
		return nil, err
	}
	s.installBranch(be, true)
	return be, nil
}

// RotateBranchKey makes a new branch key version for tenant (one wrap
// call) and uses it for new DEKs from now on in this process (other
// processes pick it up within Cache.MaxAge). Existing DEKs stay wrapped
// under the old version until RewrapDEKs; field ciphertexts never change.
func (s *Sealer) RotateBranchKey(ctx context.Context, tenant string) (version uint32, err error) {
	s.kmsMu.Lock()
	defer s.kmsMu.Unlock()
	next := uint32(1)
	rec, err := s.store.Latest(ctx, KindBranch, tenant, "")
	switch {
	case err == nil:
		if err := checkLatest(rec, KindBranch, tenant, "", 1); err != nil {
			return 0, err
		}
		next = rec.ID + 1
	case !errors.Is(err, ErrNotFound):
		return 0, fmt.Errorf("envelope: key store: %w", err)
	}
	be, err := s.createBranchLocked(ctx, tenant, next, s.clock())
	if err != nil {
		return 0, err
	}
	return be.version, nil
}

// ---- rows from the key store ----

// checkRecord reports errWrongRecord unless rec is the record want names:
// a key store (or whoever can write its table) must not be able to serve
// one subject's or tenant's key for another's.
func checkRecord(rec Record, want KeyRef) error {
	if rec.KeyRef != want {
		return errWrongRecord
	}
	return nil
}

// checkLatest checks a row Latest returned for (kind, tenant, scope): it
// must be of that kind, tenant and scope, with an id of at least minID.
func checkLatest(rec Record, kind Kind, tenant, scope string, minID uint32) error {
	if rec.Kind != kind || rec.Tenant != tenant || rec.Scope != scope || rec.ID < minID {
		return errWrongRecord
	}
	return nil
}

// watermark returns the scope's current tombstone watermark: DEK ids at or
// below it are shredded. found is false when the scope was never
// forgotten.
func (s *Sealer) watermark(ctx context.Context, tenant, scope string) (wm uint32, found bool, err error) {
	rec, err := s.store.Latest(ctx, KindTombstone, tenant, scope)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkLatest(rec, KindTombstone, tenant, scope, 0); err != nil {
		return 0, false, err
	}
	return rec.ID, true, nil
}

// ---- DEKs (keyring mode) ----

func (s *Sealer) newDEKEntry(ref dekRef, raw []byte, loaded int64, created time.Time) (*dekEntry, error) {
	a, c, err := deriveDEK(raw)
	if err != nil {
		clear(raw)
		return nil, err
	}
	until := loaded + int64(created.Add(s.opts.BucketPeriod).Sub(s.now()))
	return &dekEntry{ref: ref, aead: a, commit: c, key: newSecret(raw), loaded: loaded, until: until}, nil
}

// reserve counts one message of n bytes against e, reporting whether e may
// encrypt it.
func (s *Sealer) reserve(e *dekEntry, n int, now int64) bool {
	if e.spent.Load() || !s.fresh(e.loaded, now) {
		return false
	}
	if e.wrapped == "" && e.ref.subject == "" && now >= e.until {
		return false
	}
	if e.msgs.Add(1) > s.opts.Cache.MaxMessages || (s.limitBytes && e.bytes.Add(uint64(n)) > s.opts.Cache.MaxBytes) {
		e.spent.Store(true)
		return false
	}
	return true
}

// encKey returns the DEK to encrypt n bytes under b's scope.
func (s *Sealer) encKey(ctx context.Context, b *Binding, n int) (*dekEntry, error) {
	now := s.clock()
	if e := s.lastEnc.Load(); e != nil && e.ref.tenant == b.Tenant && e.ref.subject == b.Subject && s.reserve(e, n, now) {
		return e, nil
	}
	sr := scopeRef{b.Tenant, b.Subject}
	s.mu.RLock()
	e := s.cur[sr]
	if e != nil && s.reserve(e, n, now) {
		// Set under the read lock: a ForgetSubject (write lock) either
		// runs before, and e is not in the map, or after, and resets it.
		s.lastEnc.Store(e)
		s.mu.RUnlock()
		return e, nil
	}
	s.mu.RUnlock()
	return s.encKeySlow(ctx, sr, n)
}

// maxKeyAttempts bounds the lookups of one key that a concurrent
// ForgetSubject (in this process or another) can force to start again.
const maxKeyAttempts = 8

var errKeyChurn = errors.New("envelope: key scope kept changing during the lookup; try again")

func (s *Sealer) encKeySlow(ctx context.Context, sr scopeRef, n int) (*dekEntry, error) {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	for range maxKeyAttempts {
		ep := s.forgetEpoch(sr)
		now := s.clock()
		s.mu.RLock()
		e := s.cur[sr]
		s.mu.RUnlock()
		if e != nil && s.reserve(e, n, now) {
			return e, nil
		}
		s.st.misses.Add(1)
		ne, created, err := s.nextDEK(ctx, sr, e, now)
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.hook("enc:install")
		if !s.installDEK(ne, true, ep) {
			continue // a ForgetSubject of the scope ran meanwhile: look again
		}
		if s.reserve(ne, n, now) {
			return ne, nil
		}
		if created {
			return nil, ErrLimit
		}
		// The stored DEK is at its limit here: the next round makes one.
	}
	return nil, errKeyChurn
}

// errRetry asks encKeySlow to start its lookup again.
var errRetry = errors.New("envelope: retry")

// nextDEK loads the scope's newest DEK when it may still encrypt, else
// makes the next one (created). e is the cached current DEK, if any.
//
// Key generations: a subject's scope that was forgotten has a tombstone
// watermark; DEKs at or below it are shredded and never used again, and
// the next DEK takes an id above it. The newest DEK is read before the
// watermark, so a Forget landing between the two reads makes the DEK
// look shredded rather than usable.
func (s *Sealer) nextDEK(ctx context.Context, sr scopeRef, e *dekEntry, now int64) (*dekEntry, bool, error) {
	scope := scopeName(sr.subject)
	rec, err := s.store.Latest(ctx, KindDEK, sr.tenant, scope)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, false, fmt.Errorf("envelope: key store: %w", err)
	}
	if found {
		if err := checkLatest(rec, KindDEK, sr.tenant, scope, 1); err != nil {
			return nil, false, err
		}
	}
	var wm uint32
	if sr.subject != "" {
		if wm, _, err = s.watermark(ctx, sr.tenant, scope); err != nil {
			return nil, false, err
		}
		if wm >= ClosedWatermark {
			return nil, false, ErrShredded
		}
	}
	next := wm + 1
	if found && rec.ID > wm {
		// A live DEK: its id never goes below one this process used.
		if e != nil && rec.ID < e.ref.id {
			return nil, false, errWrongRecord
		}
		next = rec.ID + 1
		usable := sr.subject != "" || s.now().Sub(rec.Created) < s.opts.BucketPeriod
		if e != nil && e.ref.id == rec.ID && e.spent.Load() {
			usable = false
		}
		if usable {
			ne, err := s.loadDEK(ctx, KeyRef{Kind: KindDEK, Tenant: sr.tenant, Scope: scope, ID: rec.ID}, rec, sr.subject, false)
			if err != nil {
				return nil, false, err
			}
			if e != nil && e.ref.id == rec.ID {
				ne.msgs.Store(e.msgs.Load())
				ne.bytes.Store(e.bytes.Load())
			}
			return ne, false, nil
		}
	} else if found {
		// A DEK at or below the watermark (inserted by a writer that raced
		// a Forget and then refused it): dead, skip past it.
		next = max(next, rec.ID+1)
	}
	if next > format.MaxDEKID {
		return nil, false, ErrLimit
	}
	ne, err := s.createDEK(ctx, sr, scope, next, now)
	return ne, true, err
}

func (s *Sealer) createDEK(ctx context.Context, sr scopeRef, scope string, id uint32, now int64) (*dekEntry, error) {
	br, err := s.currentBranch(ctx, sr.tenant)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, keySize)
	rand.Read(raw)
	w := make([]byte, format.NonceSize, format.NonceSize+keySize+format.TagSize)
	rand.Read(w)
	want := KeyRef{Kind: KindDEK, Tenant: sr.tenant, Scope: scope, ID: id}
	w = br.aead.Seal(w, w[:format.NonceSize], raw, dekAD(want.Tenant, want.Scope, want.ID, br.version))
	stored, inserted, err := s.store.Insert(ctx, Record{KeyRef: want, Wrapped: w, Parent: br.version, Created: s.now()})
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkRecord(stored, want); err != nil {
		clear(raw)
		return nil, err
	}
	var ne *dekEntry
	if inserted {
		ne, err = s.newDEKEntry(dekRef{sr.tenant, sr.subject, id}, raw, now, stored.Created)
	} else {
		clear(raw)
		ne, err = s.loadDEK(ctx, want, stored, sr.subject, false)
	}
	if err != nil || sr.subject == "" {
		return ne, err
	}
	// A Forget (in any process) that ran after our reads may already have
	// shredded this id, or have deleted the row before our insert: a DEK
	// at or below the watermark is dead. Leave it (it was never used) and
	// look again.
	wm, _, err := s.watermark(ctx, sr.tenant, scope)
	if err != nil {
		ne.key.wipe()
		return nil, err
	}
	if id <= wm {
		ne.key.wipe()
		if wm >= ClosedWatermark {
			return nil, ErrShredded
		}
		return nil, errRetry
	}
	return ne, nil
}

// loadDEK unwraps rec, which the key store returned for want, with its
// branch key. The associated data is built from want, never from the row.
func (s *Sealer) loadDEK(ctx context.Context, want KeyRef, rec Record, subject string, stale bool) (*dekEntry, error) {
	if err := checkRecord(rec, want); err != nil {
		return nil, err
	}
	br, err := s.branchKey(ctx, want.Tenant, rec.Parent, stale)
	if err != nil {
		return nil, err
	}
	raw, err := openDEK(br, want, rec.Wrapped)
	if err != nil {
		return nil, err
	}
	loaded := s.clock()
	if !s.fresh(br.loaded, loaded) {
		// Unwrapped with a branch key served stale during an outage: the DEK
		// is no fresher than that key, so encryption will not use it.
		loaded = br.loaded
	}
	return s.newDEKEntry(dekRef{want.Tenant, subject, want.ID}, raw, loaded, rec.Created)
}

// openDEK unwraps the DEK named ref from wrapped with branch key br.
func openDEK(br *branchEntry, ref KeyRef, wrapped []byte) ([]byte, error) {
	if len(wrapped) != format.NonceSize+keySize+format.TagSize {
		return nil, ErrDecrypt
	}
	raw, err := br.aead.Open(nil, wrapped[:format.NonceSize], wrapped[format.NonceSize:],
		dekAD(ref.Tenant, ref.Scope, ref.ID, br.version))
	if err != nil {
		return nil, ErrDecrypt
	}
	return raw, nil
}

// installDEK caches e unless a ForgetSubject of its scope ran since the
// lookup that produced it started (epoch ep); it reports whether it did.
func (s *Sealer) installDEK(e *dekEntry, current bool, ep uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forgetEpoch(scopeRef{e.ref.tenant, e.ref.subject}) != ep {
		e.spent.Store(true)
		e.key.wipe()
		return false
	}
	if len(s.deks) >= s.opts.Cache.MaxEntries {
		s.evictLocked(s.deks)
	}
	if old := s.deks[e.ref]; old != nil && old != e {
		s.forgetFront()
		old.key.wipe()
	}
	s.deks[e.ref] = e
	if current {
		s.cur[scopeRef{e.ref.tenant, e.ref.subject}] = e
	}
	return true
}

// forgetEpoch returns the count of ForgetSubject calls whose scope shares
// sr's stripe. A lookup reads it before it reads the key store and
// installs its result only if it has not changed: so no key loaded before
// a ForgetSubject is cached after it. Striping keeps a sweep forgetting
// many subjects from restarting every other scope's lookups.
func (s *Sealer) forgetEpoch(sr scopeRef) uint64 {
	return s.forgets[s.stripe(sr)].Load()
}

func (s *Sealer) stripe(sr scopeRef) int {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(sr.tenant)
	h.WriteByte(0)
	h.WriteString(sr.subject)
	return int(h.Sum64() % uint64(len(s.forgets)))
}

func (s *Sealer) hook(point string) {
	if s.testHook != nil {
		s.testHook(point)
	}
}

// evictLocked frees room in m: expired entries first, then arbitrary ones
// (map order), down to 90% of MaxEntries. Evicted keys are cleared.
func (s *Sealer) evictLocked(m map[dekRef]*dekEntry) {
	now := s.clock()
	target := s.opts.Cache.MaxEntries * 9 / 10
	for pass := 0; pass < 2 && len(m) > target; pass++ {
		for k, e := range m {
			if len(m) <= target {
				break
			}
			if pass == 0 && s.withinGrace(e.loaded, now) {
				continue
			}
			s.forgetFront()
			delete(m, k)
			sr := scopeRef{k.tenant, k.subject}
			if s.cur[sr] == e {
				delete(s.cur, sr)
			}
			e.key.wipe()
			s.st.evictions.Add(1)
		}
	}
}

// decKey returns the DEK id of b's scope for decryption.
func (s *Sealer) decKey(ctx context.Context, b *Binding, id uint32) (*dekEntry, error) {
	now := s.clock()
	if e := s.lastDec.Load(); e != nil && e.ref.id == id && e.ref.tenant == b.Tenant && e.ref.subject == b.Subject && s.fresh(e.loaded, now) {
		return e, nil
	}
	ref := dekRef{b.Tenant, b.Subject, id}
	s.mu.RLock()
	e := s.deks[ref]
	if e != nil && s.fresh(e.loaded, now) {
		s.lastDec.Store(e) // under the read lock, as in encKey
		s.mu.RUnlock()
		return e, nil
	}
	s.mu.RUnlock()
	return s.decKeySlow(ctx, ref, e, now)
}

func (s *Sealer) decKeySlow(ctx context.Context, ref dekRef, e *dekEntry, now int64) (*dekEntry, error) {
	sr := scopeRef{ref.tenant, ref.subject}
	scope := scopeName(ref.subject)
	want := KeyRef{Kind: KindDEK, Tenant: ref.tenant, Scope: scope, ID: ref.id}
	for range maxKeyAttempts {
		ep := s.forgetEpoch(sr)
		if e != nil && !s.cached(ref, e) {
			e = nil // purged meanwhile: never serve it stale
		}
		s.st.misses.Add(1)
		rec, err := s.store.Get(ctx, want)
		if errors.Is(err, ErrNotFound) {
			s.purgeDEK(ref)
			if ref.subject != "" {
				wm, found, werr := s.watermark(ctx, ref.tenant, scope)
				if werr != nil {
					return nil, werr
				}
				if found && ref.id <= wm {
					return nil, ErrShredded
				}
			}
			return nil, ErrDecrypt
		}
		if err != nil {
			return nil, fmt.Errorf("envelope: key store: %w", err)
		}
		ne, err := s.loadDEK(ctx, want, rec, ref.subject, true)
		if err != nil {
			if e != nil && isUnavailable(err) && s.withinGrace(e.loaded, now) && s.forgetEpoch(sr) == ep {
				s.st.stale.Add(1)
				return e, nil
			}
			return nil, err
		}
		if e != nil && e.ref.id == ne.ref.id {
			ne.msgs.Store(e.msgs.Load())
			ne.bytes.Store(e.bytes.Load())
		}
		s.mu.RLock()
		cur := e != nil && s.cur[sr] == e
		s.mu.RUnlock()
		s.hook("dec:install")
		if s.installDEK(ne, cur, ep) {
			return ne, nil
		}
	}
	return nil, errKeyChurn
}

// cached reports whether e is still ref's cache entry.
func (s *Sealer) cached(ref dekRef, e *dekEntry) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.deks[ref] == e
}

// forgetFront empties the front caches; call it with mu held whenever an
// entry leaves the maps.
func (s *Sealer) forgetFront() {
	s.lastEnc.Store(nil)
	s.lastDec.Store(nil)
}

func (s *Sealer) purgeDEK(ref dekRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.deks[ref]; e != nil {
		s.forgetFront()
		delete(s.deks, ref)
		sr := scopeRef{ref.tenant, ref.subject}
		if s.cur[sr] == e {
			delete(s.cur, sr)
		}
		e.key.wipe()
	}
}

// purgeScope drops every cached DEK of (tenant, subject) after a
// ForgetSubject: it bumps the scope's forget epoch (so lookups in flight
// do not install what they loaded), marks the entries spent (so a caller
// still holding one cannot take it for a new seal), empties the front
// caches and clears the keys.
func (s *Sealer) purgeScope(tenant, subject string) {
	sr := scopeRef{tenant, subject}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgets[s.stripe(sr)].Add(1)
	s.forgetFront()
	for ref, e := range s.deks {
		if ref.tenant == tenant && ref.subject == subject {
			delete(s.deks, ref)
			e.spent.Store(true)
			e.key.wipe()
		}
	}
	delete(s.cur, sr)
}

// ---- byte-level API ----

// EncryptString encrypts plaintext bound to b and returns the text form
// ("pii1." in keyring mode, "pii2." inline).
func (s *Sealer) EncryptString(ctx context.Context, plaintext string, b Binding) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return s.sealText(ctx, bytesOf(plaintext), &b)
}

// EncryptBytes encrypts plaintext bound to b and returns the binary form
// (at most 48 bytes of overhead in keyring mode).
func (s *Sealer) EncryptBytes(ctx context.Context, plaintext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bin, bp, err := s.sealBinary(ctx, plaintext, &b)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), bin...)
	putBuf(bp)
	return out, nil
}

// DecryptString decrypts a text-form ciphertext bound to b. A value that
// is not in text form fails with an error matching both ErrDecrypt and
// ErrNotSealed.
func (s *Sealer) DecryptString(ctx context.Context, ciphertext string, b Binding) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	text := bytesOf(ciphertext)
	if _, ok := format.TextVersion(text); !ok {
		return "", decryptError(ErrNotSealed)
	}
	// The pooled buffer receives only public bytes (the binary form and
	// the associated data); the plaintext goes straight into the result.
	dl := format.DecodedLen(len(text))
	bp := getBuf(dl + 8 + fieldADLen(&b))
	buf := *bp
	bin, err := format.DecodeText(buf[:0:dl+8], text)
	if err != nil {
		putBufPublic(bp)
		return "", decryptError(err)
	}
	n := len(bin) - minOverhead(bin)
	if n <= 0 {
		// Too short to hold a value (or empty): the checks below decide.
		pt, err := s.openBinaryTo(ctx, bin, buf[dl+8:dl+8], &b, nil)
		putBuf(bp)
		return string(pt), err
	}
	out := make([]byte, n)
	pt, err := s.openBinaryTo(ctx, bin, buf[dl+8:dl+8], &b, out)
	putBufPublic(bp)
	if err != nil {
		return "", err
	}
	return unsafe.String(&out[0], len(pt)), nil
}

// minOverhead is the ciphertext expansion of bin's version (an upper bound
// of the plaintext length is len(bin) minus it), or len(bin) when unknown.
func minOverhead(bin []byte) int {
	switch format.Version(bin[0]) {
	case format.V1Keyring:
		return format.V1Overhead
	case format.V2Inline:
		if len(bin) >= 3 {
			return format.V2Header(int(bin[1])<<8|int(bin[2])) + format.TagSize
		}
	case format.V3Det:
		return format.V3Overhead
	}
	return len(bin)
}

// DecryptBytes decrypts a binary-form ciphertext bound to b.
func (s *Sealer) DecryptBytes(ctx context.Context, ciphertext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := len(ciphertext)
	bp := getBuf(n + fieldADLen(&b))
	buf := *bp
	copy(buf, ciphertext)
	pt, err := s.openBinary(ctx, buf[:n], buf[n:n], &b)
	if err != nil {
		putBuf(bp)
		return nil, err
	}
	out := append([]byte(nil), pt...)
	putBuf(bp)
	return out, nil
}

// sealBinary encrypts into a pooled buffer; the caller puts it back.
func (s *Sealer) sealBinary(ctx context.Context, pt []byte, b *Binding) ([]byte, *[]byte, error) {
	n := len(pt)
	adCap := fieldADLen(b)
	if s.opts.Mode == Inline {
		e, err := s.inlineEncKey(ctx, b.Tenant, n)
		if err != nil {
			return nil, nil, err
		}
		h := format.V2Header(len(e.wrapped))
		binLen := h + n + format.TagSize
		bp := getBuf(binLen + adCap)
		buf := *bp
		buf[0] = byte(format.V2Inline)
		buf[1], buf[2] = byte(len(e.wrapped)>>8), byte(len(e.wrapped))
		o := 3 + copy(buf[3:], e.wrapped)
		nonce := buf[o : o+format.NonceSize]
		s.fillNonce(nonce)
		copy(buf[o+format.NonceSize:h], e.commit[:])
		copy(buf[h:], pt)
		ad := appendFieldAD(buf[binLen:binLen], format.V2Inline, 0, b)
		e.aead.Seal(buf[h:h], nonce, buf[h:h+n], ad)
		return buf[:binLen], bp, nil
	}
	e, err := s.encKey(ctx, b, n)
	if err != nil {
		return nil, nil, err
	}
	const h = format.V1Header
	binLen := h + n + format.TagSize
	bp := getBuf(binLen + adCap)
	buf := *bp
	buf[0] = byte(format.V1Keyring)
	id := e.ref.id
	buf[1], buf[2], buf[3] = byte(id>>16), byte(id>>8), byte(id)
	nonce := buf[4 : 4+format.NonceSize]
	s.fillNonce(nonce)
	copy(buf[4+format.NonceSize:h], e.commit[:])
	copy(buf[h:], pt)
	ad := appendFieldAD(buf[binLen:binLen], format.V1Keyring, id, b)
	e.aead.Seal(buf[h:h], nonce, buf[h:h+n], ad)
	return buf[:binLen], bp, nil
}

func (s *Sealer) sealText(ctx context.Context, pt []byte, b *Binding) (string, error) {
	bin, bp, err := s.sealBinary(ctx, pt, b)
	if err != nil {
		return "", err
	}
	out := encodeText(bin)
	putBuf(bp)
	return out, nil
}

// encodeText writes the text form with one allocation.
func encodeText(bin []byte) string {
	out := make([]byte, format.EncodedLen(len(bin)))
	format.PutText(out, bin)
	return unsafe.String(&out[0], len(out))
}

// openText decodes and opens s into a pooled buffer; the caller puts it back.
func (s *Sealer) openText(ctx context.Context, text []byte, b *Binding) ([]byte, *[]byte, error) {
	if _, ok := format.TextVersion(text); !ok {
		return nil, nil, decryptError(ErrNotSealed)
	}
	dl := format.DecodedLen(len(text))
	adLen := fieldADLen(b)
	bp := getBuf(dl + 8 + adLen)
	buf := *bp
	bin, err := format.DecodeText(buf[:0:dl+8], text)
	if err != nil {
		putBuf(bp)
		return nil, nil, decryptError(err)
	}
	rest := buf[dl+8:]
	pt, err := s.openBinary(ctx, bin, rest[:0], b)
	if err != nil {
		putBuf(bp)
		return nil, nil, err
	}
	return pt, bp, nil
}

// openBinary opens bin in place; adBuf is scratch for the associated data.
func (s *Sealer) openBinary(ctx context.Context, bin, adBuf []byte, b *Binding) ([]byte, error) {
	return s.openBinaryTo(ctx, bin, adBuf, b, nil)
}

// openBinaryTo opens bin into dst, which must have room for the plaintext
// (len(bin) - overhead bytes), or in place when dst is nil. Only dst (or
// bin, in place) receives plaintext; on failure it is cleared.
func (s *Sealer) openBinaryTo(ctx context.Context, bin, adBuf []byte, b *Binding, dst []byte) ([]byte, error) {
	c, err := format.Parse(bin)
	if err != nil {
		return nil, decryptError(err)
	}
	var e *dekEntry
	switch c.Version {
	case format.V1Keyring:
		e, err = s.decKey(ctx, b, c.DEKID)
	case format.V2Inline:
		e, err = s.inlineDecKey(ctx, b.Tenant, c.Wrapped)
	case format.V3Det:
		pt, err := s.openDet(ctx, &c, adBuf, b)
		if err != nil || dst == nil {
			return pt, err
		}
		out := dst[:copy(dst[:len(pt)], pt)]
		clear(pt)
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if !commitEqual(e.commit[:], c.Commitment) {
		return nil, ErrDecrypt
	}
	ad := appendFieldAD(adBuf, c.Version, c.DEKID, b)
	if dst == nil {
		dst = c.Sealed
	}
	pt, err := e.aead.Open(dst[:0], c.Nonce, c.Sealed, ad)
	if err != nil {
		clear(dst[:len(c.Sealed)-format.TagSize])
		return nil, ErrDecrypt
	}
	return pt, nil
}
