package envelope

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/fieldguard/pii/internal/clock"
	"github.com/fieldguard/pii/internal/redact"
	"github.com/fieldguard/pii/keyprovider"
)

// Sealer encrypts and decrypts fields. It is safe for concurrent use; make
// one per process (or per key provider) and share it, since its caches are
// what keep KMS calls proportional to branch keys rather than to records.
type Sealer struct {
	noPrint
	kp    *keyprovider.Client
	opts  Options
	store KeyStore  // nil only in inline mode without a store
	wall  pii.Clock // record timestamps and time buckets
	ages  pii.Clock // cache ages; nil means the coarse clock

	nonceHook func([]byte) // test hook: fixed nonces for frozen vectors
	testHook  func(string) // test hook: called at named points of the key lookups

	mu       sync.RWMutex
	keyCache // the shared caches, under mu
	// evictQ holds the shared DEK cache's entries in install order, under
	// mu, so eviction takes the oldest in constant time (see evictLocked).
	evictQ evictQueue
	// memo keeps keys loaded under a caller's transaction by the row they
	// came from, under mu (see tx.go); only deks, branches and roots.
	memo      keyCache
	inline    map[string]*dekEntry // by wrapped DEK bytes
	inlineCur map[string]*dekEntry // by tenant
	inlineQ   evictQueue           // inline's entries in install order, under mu

	// lastEnc and lastDec are one-entry front caches: the fields of one
	// record share a DEK, so Seal and Open mostly hit them without touching
	// the lock or hashing. Every removal from the maps resets them.
	lastEnc, lastDec atomic.Pointer[dekEntry]

	kmsMu    sync.Mutex // serialises key provider loads so misses do not multiply KMS calls
	createMu sync.Mutex // serialises DEK creation

	// forgets counts forgets per shred bucket of scopes (changed under
	// mu), this process's and those a feed reports; see forgetEpoch.
	forgets [shredBuckets]atomic.Uint64
	watch   shredWatch

	st         *counters
	tel        *sealerTelemetry
	limitBytes bool // Cache.MaxBytes is set: count bytes per DEK
}

// keyCache holds unwrapped keys by what names them.
type keyCache struct {
	deks      dekMap
	cur       map[scopeRef]*dekEntry // the DEK a scope encrypts under
	branches  map[branchRef]*branchEntry
	branchCur map[string]*branchEntry // by tenant
	roots     map[rootRef]*rootEntry  // search root keys by tenant and version
	fields    map[fieldRef]*fieldKeys
	searchVer map[string]*searchVersions // by tenant: which search key versions are live
}

func newKeyCache() keyCache {
	return keyCache{
		deks: newDEKMap(), cur: map[scopeRef]*dekEntry{},
		branches: map[branchRef]*branchEntry{}, branchCur: map[string]*branchEntry{},
		roots: map[rootRef]*rootEntry{}, fields: map[fieldRef]*fieldKeys{},
		searchVer: map[string]*searchVersions{},
	}
}

// counters are the Sealer's counts since New, which its telemetry
// reports (pii.envelope.key_cache.*; key provider calls are the Client's
// pii.kms.calls) and rewrap jobs read for their Progress.
type counters struct {
	wraps, unwraps, misses, stale, evictions atomic.Uint64
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

type fieldRef struct {
	tenant, typ, field, desc string
	ver                      uint32 // search root key version
}

type rootRef struct {
	tenant  string
	version uint32
}

// dekEntry is one unwrapped DEK with everything derived from it.
type dekEntry struct {
	noPrint
	ref     dekRef
	aead    cipher.AEAD
	commit  [format.CommitmentSize]byte
	key     secret
	loaded  int64         // clock() when unwrapped (cache age)
	until   int64         // clock() at which its time bucket ends (tenant scope)
	wrapped string        // inline mode: the wrapped DEK as carried
	row     []byte        // keyring mode: the stored wrapped DEK it came from
	ep      uint64        // under mu: the forget epoch of its scope when a transaction's call cache took it
	bucket  uint16        // shredfeed.Bucket of its scope
	checked atomic.Int64  // clock() when the KeyStore last showed it alive (see shredwatch.go)
	msgs    atomic.Uint64 // encryption attempts (each counted, whether it got a message or not)
	granted atomic.Uint64 // messages this process reserved under it (keyring); see lease.go
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
	row     []byte // the stored wrapped key it came from
}

// errNoStore is what New says when keyring mode has no KeyStore.
var errNoStore = errors.New("envelope: Options.Store is nil: pass sqlkeystore.New(db, nil) to keep keys in your database, or envelope.NewMemoryStore() for keys that die with the process")

// New returns a Sealer that wraps its keys with kp.
//
// A *keyprovider.Client is used as it is; any other KeyProvider is wrapped
// in keyprovider.NewClient(kp, nil), so every key provider call has the
// Client's deadlines, retries, retry budget and circuit breaker. To tune
// them, pass your own Client.
//
// opts.Store is required in keyring mode (the default): where wrapped keys
// live is a choice New does not make for you. Inline mode (opts.Inline)
// needs no Store
// unless deterministic encryption or blind indexes are used.
func New(kp keyprovider.KeyProvider, opts *Options) (*Sealer, error) {
	if kp == nil {
		return nil, errors.New("envelope: nil key provider")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	c, ok := kp.(*keyprovider.Client)
	if !ok {
		c = keyprovider.NewClient(kp, &keyprovider.ClientOptions{MeterProvider: o.MeterProvider, TracerProvider: o.TracerProvider})
	} else if c == nil {
		return nil, errors.New("envelope: nil key provider")
	}
	if o.IndexBytes != 0 && (o.IndexBytes < 4 || o.IndexBytes > 32) {
		return nil, fmt.Errorf("envelope: IndexBytes %d outside 4..32", o.IndexBytes)
	}
	if o.Store == nil && !o.Inline {
		return nil, errNoStore
	}
	o = o.withDefaults()
	s := &Sealer{
		noPrint: redact.Named("envelope.Sealer"),
		kp:      c, opts: o, store: o.Store, wall: clock.Or(o.Clock), ages: o.Clock,
		limitBytes: o.Cache.MaxBytes != ^uint64(0),
		keyCache:   newKeyCache(), memo: newKeyCache(),
		inline: map[string]*dekEntry{}, inlineCur: map[string]*dekEntry{},
		st: new(counters),
	}
	s.tel = newTelemetry(s, &o)
	return s, nil
}

// now is the wall-clock time, for record timestamps and time buckets.
func (s *Sealer) now() time.Time { return s.wall.Now() }
