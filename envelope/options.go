package envelope

import (
	"context"
	"time"

	"github.com/fieldguard/pii"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Sealer. Zero fields take the defaults; Store is
// required unless Inline is set.
type Options struct {
	// Inline selects inline mode: every ciphertext carries its DEK wrapped
	// by the key provider ("pii2."), for users without a key store. DEKs
	// are still reused under the cache limits, so a KMS call is not paid
	// per field; deterministic encryption and blind indexes still need a
	// persistent Store. False (the default) is keyring mode: wrapped keys
	// live in Store, and ciphertexts name their DEK with a 3-byte id
	// ("pii1.", 48 bytes of overhead).
	Inline bool

	// Store keeps wrapped keys: sqlkeystore.New(db, nil) for keys in your
	// database, NewMemoryStore() for keys that die with the process (tests,
	// examples). Required in keyring mode; inline mode needs it only for
	// deterministic encryption and blind indexes.
	Store KeyStore

	// Clock tells the time: key records' creation times, time buckets,
	// BranchKeyPeriod and cache ages. Nil means the system clock (cache
	// ages then use a coarse monotonic clock, accurate to about 50 ms).
	Clock pii.Clock

	// Cache limits the use and lifetime of unwrapped keys.
	Cache CacheLimits

	// BucketPeriod is how long one tenant-scope DEK (for data without a
	// subject) is used for new encryptions before the next is made. Zero
	// means 30 days.
	BucketPeriod time.Duration

	// BranchKeyPeriod, if positive, starts a new branch key version for a
	// tenant (one wrap call) once its newest is this old, checked when the
	// cached branch key is refreshed (every Cache.MaxAge). Zero means
	// branch keys change only through RotateBranchKey. Old versions keep
	// unwrapping their DEKs; RewrapDEKs moves those to the newest.
	BranchKeyPeriod time.Duration

	// OutageGrace is how long unwrapped keys past Cache.MaxAge keep serving
	// decryptions while the key provider reports keyprovider.ErrUnavailable.
	// Encryption never uses them. Zero means 5 minutes; negative disables.
	OutageGrace time.Duration

	// AllowPlaintext lets Open pass plaintext values through unchanged
	// (leaving them as they are), for migrating existing data. Off by default.
	AllowPlaintext bool

	// ReadCheck, if set, runs before Open decrypts each field; when it
	// returns an error the field is zeroed and Open returns the error, naming
	// the field. Retention plugs its read-time expiry check in here.
	ReadCheck func(ctx context.Context, s *pii.Schema, f *pii.Field, ptr any) error

	// IndexBytes is the blind index length in bytes, 4 to 32. Zero means 16.
	// Shorter indexes add false positives (and hide more); see the package
	// doc on leakage.
	IndexBytes int

	// MeterProvider and TracerProvider receive the Sealer's OpenTelemetry
	// metrics and spans (see the package doc, # Telemetry), and those of
	// the keyprovider.Client New puts around a bare KeyProvider. Nil means
	// the global providers (otel.GetMeterProvider, otel.GetTracerProvider),
	// which forward to whatever the application sets, before or after New.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

// CacheLimits bound unwrapped keys. Zero fields take the defaults.
type CacheLimits struct {
	// MaxAge is how long an unwrapped key is used before it is fetched
	// from the KeyStore and unwrapped again (default 5 minutes). An entry
	// past MaxAge is expired: encryption never uses it, and decryption
	// uses it only during a key provider outage, for at most
	// Options.OutageGrace more (then it fails closed); expired entries are
	// the first evicted when MaxEntries is reached. MaxAge (plus
	// OutageGrace while the key provider is down) bounds how long it takes
	// to see a rotation made by another process (ShredCheck bounds how
	// long it may use a key another process shredded).
	MaxAge time.Duration
	// MaxMessages is the number of encryptions per DEK before a new one is
	// made (default and hard cap 2^32, the random-nonce AES-GCM bound).
	// In keyring mode the count is fleet-wide: every process sharing the
	// KeyStore reserves blocks of MessageBlock messages of a DEK there
	// (KeyStore.Reserve, an atomic update), so together they never pass
	// it; a DEK whose budget is spent is succeeded by a new one of the
	// same scope (a subject's too). Inline DEKs live in one process and
	// are counted there.
	MaxMessages uint64
	// MessageBlock is how many messages of a DEK a process reserves at a
	// time (default MaxMessages/64, at most 65,536 and at least 1). A
	// block reserved by a process that stops is never used: larger blocks
	// mean fewer KeyStore writes and more messages left unused.
	MessageBlock uint64
	// MaxBytes is the plaintext bytes encrypted per DEK before a new one is
	// made (default unlimited within MaxMessages).
	MaxBytes uint64
	// MaxEntries bounds the unwrapped keys held (default 100,000); past it,
	// the oldest loaded (the expired first) are evicted and cleared, one
	// for each key loaded.
	MaxEntries int
	// ShredCheck bounds how long this process keeps using a data
	// subject's DEK after another process sharing the KeyStore forgot the
	// subject (ForgetSubject, CloseSubject): a subject's DEK is used
	// without reading the KeyStore for at most ShredCheck since the store
	// last showed it alive, unless a feed (sqlkeystore/pglisten) confirmed
	// within ShredCheck that no forget is pending; then one read (no key
	// provider call) confirms it again or finds it shredded. Default 1
	// second. The cost is one KeyStore read per subject in use per
	// ShredCheck (none while a feed keeps up). Tenant-scope DEKs are never
	// forgotten and are not checked.
	ShredCheck time.Duration
}

const (
	hardMaxMessages     = 1 << 32
	defaultMaxAge       = 5 * time.Minute
	defaultMaxEntries   = 100_000
	defaultShredCheck   = time.Second
	defaultMessageBlock = 1 << 16
	defaultBucketPeriod = 30 * 24 * time.Hour
	defaultOutageGrace  = 5 * time.Minute
	defaultIndexBytes   = 16
)

func (o Options) withDefaults() Options {
	if o.Cache.MaxAge <= 0 {
		o.Cache.MaxAge = defaultMaxAge
	}
	if o.Cache.MaxMessages == 0 || o.Cache.MaxMessages > hardMaxMessages {
		o.Cache.MaxMessages = hardMaxMessages
	}
	if o.Cache.MaxBytes == 0 {
		o.Cache.MaxBytes = ^uint64(0)
	}
	if o.Cache.MessageBlock == 0 {
		o.Cache.MessageBlock = min(max(o.Cache.MaxMessages/64, 1), defaultMessageBlock)
	}
	o.Cache.MessageBlock = min(o.Cache.MessageBlock, o.Cache.MaxMessages)
	if o.Cache.MaxEntries <= 0 {
		o.Cache.MaxEntries = defaultMaxEntries
	}
	if o.Cache.ShredCheck <= 0 {
		o.Cache.ShredCheck = defaultShredCheck
	}
	if o.BucketPeriod <= 0 {
		o.BucketPeriod = defaultBucketPeriod
	}
	switch {
	case o.OutageGrace == 0:
		o.OutageGrace = defaultOutageGrace
	case o.OutageGrace < 0:
		o.OutageGrace = 0
	}
	if o.IndexBytes == 0 {
		o.IndexBytes = defaultIndexBytes
	}
	return o
}

// Binding is what a field ciphertext is bound to through associated data.
// A value copied to another tenant, type, field or record does not open.
type Binding struct {
	Tenant string
	// Type is the stable type name (pii.Schema.Name).
	Type string
	// Field is the field's schema path ("Address.Street",
	// "Contacts[].Phone"), as pii.Field.Path gives it and Seal binds: not
	// the concrete path with indexes or map keys ("Contacts[2].Phone"),
	// which only errors show.
	Field string
	// Record is the record id (the `pii:"id"` field, else the subject).
	Record string
	// Subject selects the DEK scope: the data subject's own keys (so
	// ForgetSubject crypto-shreds the value), or, when empty, the tenant's
	// time-bucketed keys. It is bound through the key, not the associated
	// data. Inline mode has no per-subject keys and ignores it. The
	// byte-level API trusts it as given; Seal refuses a record whose
	// subject field is empty (ErrEmptySubject).
	Subject string
}
