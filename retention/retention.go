package retention

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"sync"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/clock"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Errors returned by read-time enforcement.
var (
	// ErrExpired is returned for a value past its retention that has not
	// been erased yet: it must not be shown.
	ErrExpired = errors.New("retention: value is past its retention period")
	// ErrBlocked is returned for a value that is kept (then=block, in its
	// grace period, or held back by min=) and readable only by the auditor
	// role. errors.Is(ErrBlocked, ErrExpired) is true.
	ErrBlocked = fmt.Errorf("retention: value is blocked, readable by the auditor role only: %w", ErrExpired)
)

// Shredder destroys a data subject's keys, making every value encrypted
// under them unreadable everywhere, backups included; values sealed for the
// subject afterwards use a new key generation, so a returning customer is
// served. *envelope.Sealer satisfies it, and has the CloseSubject method
// Options.CloseOnForget needs too.
type Shredder interface {
	ForgetSubject(ctx context.Context, tenant, subject string) error
}

// subjectCloser is the optional ability of a [Shredder] that
// Options.CloseOnForget uses: CloseSubject shreds like ForgetSubject and
// also refuses every later value of the subject.
type subjectCloser interface {
	CloseSubject(ctx context.Context, tenant, subject string) error
}

// TokenDeleter deletes a subject's stored tokens (token=stored), returning how many it
// removed. *tokenize.Tokenizer satisfies it.
type TokenDeleter interface {
	DeleteSubject(ctx context.Context, tenant, subject string) (int64, error)
}

// Options configure a [Manager]. LedgerKey is required.
type Options struct {
	// Clock tells the time; nil means the system clock. Tests pass
	// piitest.NewClock to move time by hand.
	Clock pii.Clock
	// Policies holds overrides of the tag policies; nil means none.
	Policies *Policies
	// LedgerKey keys the HMAC that turns (tenant, subject) and (tenant,
	// type, record id) into the hashes kept in the ledger and in holds, and
	// (through HKDF) the AES-256-GCM key that seals pending shreds. At least
	// 16 bytes. Keep it for as long as the ledger: Replay needs it to find
	// restored records.
	LedgerKey []byte
	// PseudonymKey keys anonymize. At least 16 bytes; required when a
	// policy anonymizes.
	PseudonymKey []byte
	// Shredder performs shred (crypto-shredding of the subject's key).
	// Required when a policy shreds.
	Shredder Shredder
	// CloseOnForget makes [Manager.Forget] close the subject (Shredder's
	// CloseSubject: no value of theirs may be sealed again) instead of
	// only shredding their keys. The default (false) treats an erasure
	// request like a retention shred: old values become unreadable and a
	// returning customer's new values are sealed under a new key
	// generation. New fails when it is set and the Shredder has no method
	// CloseSubject(ctx context.Context, tenant, subject string) error.
	CloseOnForget bool
	// Tokens, when set, deletes a subject's stored tokens when their key
	// is shredded.
	Tokens TokenDeleter
	// Ledger receives the entries that belong to no record (a subject's
	// key shredded by Forget). Stores append their own entries in the same
	// transaction as their changes, so point both at the same ledger: the
	// sqlstore.NewLedger of the options given to sqlstore.New, or the
	// ledger given to [NewMemoryStore]. When it is nil, Forget and sweeps
	// that may shred a key fail before changing anything rather than drop
	// the entries.
	Ledger Ledger
	// Holds stores legal holds and the key shreds that wait for kept
	// values to lapse: when a Shredder or Tokens is set, it must also be a
	// [PendingShreds] (those of sqlstore.NewHolds and [NewMemoryHolds]
	// are). Required: pass sqlstore.NewHolds(db, nil) to keep them in your
	// database, or [NewMemoryHolds] for holds that die with the process.
	Holds Holds
	// Redaction replaces redacted values; default "[REDACTED]".
	Redaction string
	// AuditorRole is the role that may read blocked values; default "auditor".
	AuditorRole string
	// Jurisdiction returns a record's jurisdiction for overrides scoped by it.
	Jurisdiction func(ptr any) string
	// MeterProvider and TracerProvider receive the Manager's OpenTelemetry
	// metric (pii.retention.actions: sweep actions by action, outcome and
	// type) and spans (pii.retention.sweep, .release, .forget). Nil means
	// the global providers.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// Created returns a record's creation time, the default retention clock,
	// when a policy is evaluated without a store (Due, Next, ReadCheck). The
	// default reads a top-level time.Time field named CreatedAt.
	Created func(ptr any) time.Time
}

// Manager evaluates retention policies and applies them: Due and Next for
// one record, read-time checks, legal holds, erasure requests ([Manager.Forget]),
// sweeps ([Manager.Sweep]) and ledger replay. It is safe for concurrent use.
type Manager struct {
	clock        pii.Clock
	policies     *Policies
	keys         *keys // behind a pointer so %v of a Manager prints no key bytes
	actor        *actor
	shredder     Shredder
	closer       subjectCloser // when CloseOnForget
	tokens       TokenDeleter
	holds        Holds
	pending      PendingShreds
	ledger       Ledger
	auditor      string
	jurisdiction func(any) string
	created      func(any) time.Time
	tel          *managerTelemetry

	texts sync.Map // Policy -> policyText

	mu     sync.RWMutex
	stores []Store
	types  map[reflect.Type]*typeInfo
}

type keys struct {
	ledger []byte
	pool   sync.Pool   // of hash.Hash: HMAC-SHA256 under ledger
	seal   cipher.AEAD // AES-256-GCM for pending shreds, key from HKDF(ledger)
}

type typeInfo struct {
	s         *pii.Schema
	created   []int // index of CreatedAt, or nil
	keyFields bool  // some field is sealed under the subject's key or a stored token
}

// New returns a Manager.
func New(opts *Options) (*Manager, error) {
	if opts == nil || len(opts.LedgerKey) < 16 {
		return nil, errors.New("retention: Options.LedgerKey of at least 16 bytes is required")
	}
	if opts.PseudonymKey != nil && len(opts.PseudonymKey) < 16 {
		return nil, errors.New("retention: Options.PseudonymKey must be at least 16 bytes")
	}
	if opts.Holds == nil {
		return nil, errors.New("retention: Options.Holds is nil: pass sqlstore.NewHolds(db, nil) to keep legal holds and pending shreds in your database, or retention.NewMemoryHolds() for holds that die with the process")
	}
	m := &Manager{
		clock:        clock.Or(opts.Clock),
		policies:     opts.Policies,
		keys:         &keys{ledger: append([]byte(nil), opts.LedgerKey...)},
		actor:        &actor{pseudonymKey: append([]byte(nil), opts.PseudonymKey...), redaction: opts.Redaction},
		shredder:     opts.Shredder,
		tokens:       opts.Tokens,
		holds:        opts.Holds,
		ledger:       opts.Ledger,
		auditor:      opts.AuditorRole,
		jurisdiction: opts.Jurisdiction,
		created:      opts.Created,
		types:        map[reflect.Type]*typeInfo{},
		tel:          newTelemetry(opts),
	}
	if m.actor.redaction == "" {
		m.actor.redaction = "[REDACTED]"
	}
	if m.auditor == "" {
		m.auditor = "auditor"
	}
	m.pending, _ = m.holds.(PendingShreds)
	if m.pending == nil && (m.shredder != nil || m.tokens != nil) {
		return nil, errors.New("retention: Options.Holds keeps no pending shreds (it is no retention.PendingShreds), which a Shredder or Tokens needs: pass sqlstore.NewHolds(db, nil) or retention.NewMemoryHolds(), which keep them")
	}
	if opts.CloseOnForget {
		c, ok := m.shredder.(subjectCloser)
		if !ok {
			return nil, errors.New("retention: Options.CloseOnForget needs a Shredder with a CloseSubject method")
		}
		m.closer = c
	}
	aead, err := pendingAEAD(m.keys.ledger)
	if err != nil {
		return nil, err
	}
	m.keys.seal = aead
	return m, nil
}

// Register adds stores: each one holds the records of one tagged type.
// Sweeps and Forget visit every registered store. Register checks every
// policy of the type (tags and overrides) and returns an error naming the
// field when one cannot be applied.
func (m *Manager) Register(stores ...Store) error {
	for _, st := range stores {
		ti, err := m.typeOf(st.Schema().Type)
		if err != nil {
			return err
		}
		if err := m.check(ti.s); err != nil {
			return err
		}
		m.mu.Lock()
		m.stores = append(m.stores, st)
		m.mu.Unlock()
	}
	return nil
}

func (m *Manager) check(s *pii.Schema) error {
	for _, f := range s.Fields {
		pols := []Policy{tagPolicy(f)}
		if m.policies != nil {
			m.policies.mu.RLock()
			for _, r := range m.policies.rules {
				if (r.typ == "" || r.typ == s.Name) && (r.field == "" || r.field == f.Path) {
					pols = append(pols, tagPolicy(f).merge(r.p))
				}
			}
			m.policies.mu.RUnlock()
		}
		for _, p := range pols {
			if p.Retain.IsZero() {
				continue
			}
			a := p.Then
			if a.Kind == "" {
				a.Kind = pii.ActionNull
			}
			fail := func(err error) error { return fmt.Errorf("retention: %s.%s: %w", s.Name, f.Path, err) }
			if err := checkAction(a); err != nil {
				return fail(err)
			}
			if err := checkActionType(a, f.Type); err != nil {
				return fail(err)
			}
			if f.Opts.Encrypt != pii.EncryptNone && (a.Kind == pii.ActionAnonymize || a.Kind == pii.ActionGeneralize) {
				return fail(fmt.Errorf("retention: %s needs the plaintext, but the field is encrypted; use shred, null, redact, block or delete", a))
			}
			if a.Kind == pii.ActionAnonymize && len(m.actor.pseudonymKey) == 0 {
				return fail(errors.New("retention: anonymize needs Options.PseudonymKey"))
			}
			if a.Kind == pii.ActionShred && m.shredder == nil {
				return fail(errors.New("retention: shred needs Options.Shredder"))
			}
			if a.Kind == pii.ActionShred && s.Subject == nil {
				return fail(errors.New("retention: shred needs a subject field"))
			}
			if p.From != "" {
				sf, ok := s.Type.FieldByName(p.From)
				if !ok || (sf.Type != timeType && !(sf.Type.Kind() == reflect.Pointer && sf.Type.Elem() == timeType)) {
					return fail(fmt.Errorf("retention: from=%s is not a time.Time field", p.From))
				}
			}
		}
	}
	return nil
}

func (m *Manager) typeOf(t reflect.Type) (*typeInfo, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	m.mu.RLock()
	ti := m.types[t]
	m.mu.RUnlock()
	if ti != nil {
		return ti, nil
	}
	s, err := pii.SchemaOf(t)
	if err != nil {
		return nil, err
	}
	ti = &typeInfo{s: s}
	for _, f := range s.Fields {
		ti.keyFields = ti.keyFields || keyBearing(f)
	}
	if sf, ok := t.FieldByName("CreatedAt"); ok && sf.Type == timeType {
		ti.created = sf.Index
	}
	m.mu.Lock()
	m.types[t] = ti
	m.mu.Unlock()
	return ti, nil
}

// hash returns the keyed hash that stands for an id in the ledger and in
// holds: HMAC-SHA256 under the ledger key over the kind and the parts, each
// prefixed by its length, so that no two different lists of parts (tenant
// "a", subject "bc" and tenant "ab", subject "c") hash alike. The HMAC
// states are pooled: a sweep hashes two ids per record.
func (m *Manager) hash(kind string, parts ...string) string {
	h, _ := m.keys.pool.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, m.keys.ledger)
	}
	h.Reset()
	var n [8]byte
	part := func(p string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	part(kind)
	for _, p := range parts {
		part(p)
	}
	var sum [sha256.Size]byte
	out := hex.EncodeToString(h.Sum(sum[:0])[:16])
	m.keys.pool.Put(h)
	return out
}

// Hash returns the keyed hash that stands for t in the ledger and in
// holds: for [Subject](tenant, id), the data subject's (Entry.Subject,
// PendingShred.ID, the ID of a subject hold); for [RecordTarget](tenant,
// typ, id), the record's (Entry.Record, the ID of a record hold). So an
// operator holding the id can answer "was this person's data erased?"
// without the ledger holding the id. Types without a pii:"tenant" field
// belong to the tenant "".
func (m *Manager) Hash(t Target) string {
	if t.forRecord {
		return m.recordHash(t.tenant, t.typ, t.id)
	}
	return m.subjectHash(t.tenant, t.subject)
}

func (m *Manager) subjectHash(tenant, subject string) string {
	return m.hash("subject", tenant, subject)
}

func (m *Manager) recordHash(tenant, typ, id string) string {
	return m.hash("record", tenant, typ, id)
}

type roleKey struct{}

// WithRole returns a context carrying the reader's role, for read checks.
func WithRole(ctx context.Context, role string) context.Context {
	return context.WithValue(ctx, roleKey{}, role)
}

// roleFrom returns the role set by WithRole, or "".
func roleFrom(ctx context.Context) string {
	r, _ := ctx.Value(roleKey{}).(string)
	return r
}
