package envelope

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/tink-crypto/tink-go/v2/daead/subtle"
)

// rootEntry is a tenant's unwrapped search root key.
type rootEntry struct {
	noPrint
	tenant  string
	version uint32
	key     secret
	loaded  int64
	row     []byte // the stored wrapped key it came from
}

// fieldKeys are the keys derived from a search root for one (tenant, type,
// field): the AES-SIV key of encrypt=det and the blind index key.
type fieldKeys struct {
	noPrint
	siv    *subtle.AESSIV
	commit [format.CommitmentSize]byte
	idx    secret
	loaded int64
}

const sivKeySize = 64 // AES-SIV with AES-256 (two 256-bit halves)

func fieldInfo(label, typ, field string) string {
	return string(appendLP(appendLP([]byte(label), typ), field))
}

// newSIV is the lowest-level deterministic AEAD envelope uses; the
// Wycheproof test runs through it.
func newSIV(key []byte) (*subtle.AESSIV, error) { return subtle.NewAESSIV(key) }

// deriveField derives the keys of (type, field) from a search root. desc
// describes the blind index (indexDesc): "" for a plain index, whose key
// keeps the v1 derivation; any other index (normalised, prefix, compound)
// takes a v2 key bound to desc, so an index computed one way never equals
// one computed another way. The SIV key of encrypt=det does not depend on
// desc: a deterministic value opens to what was sealed, so an equal
// ciphertext is always an equal value, whichever normaliser wrote it.
func deriveField(root []byte, typ, field, desc string, loaded int64) (*fieldKeys, error) {
	sk, err := hkdf.Key(sha256.New, root, nil, fieldInfo("pii/det/v1", typ, field), sivKeySize)
	if err != nil {
		return nil, err
	}
	// sk is NOT cleared: tink's AESSIV keeps slices of the key it is given
	// and schedules its CTR key from them on every call, so clearing sk
	// would silently switch encryption to an all-zero key (TestSpecV3 and
	// TestSIVKeyNotCleared catch that). It is left to the garbage collector.
	cm, err := hkdf.Key(sha256.New, sk, nil, "pii/det/v1/commit", format.CommitmentSize)
	if err != nil {
		return nil, err
	}
	siv, err := newSIV(sk)
	if err != nil {
		return nil, err
	}
	info := fieldInfo("pii/index/v1", typ, field)
	if desc != "" {
		info = string(appendLP([]byte(fieldInfo("pii/index/v2", typ, field)), desc))
	}
	ik, err := hkdf.Key(sha256.New, root, nil, info, keySize)
	if err != nil {
		return nil, err
	}
	fk := &fieldKeys{siv: siv, idx: newSecret(ik), loaded: loaded}
	copy(fk.commit[:], cm)
	return fk, nil
}

// fieldKeys returns the keys of (tenant, type, field) derived from the
// tenant's search root key version ver; desc is the index description
// (indexDesc).
func (s *Sealer) fieldKeys(ctx context.Context, tenant string, ver uint32, typ, field, desc string, stale bool) (*fieldKeys, error) {
	now := s.clock()
	ref := fieldRef{tenant, typ, field, desc, ver}
	s.mu.RLock()
	fk := s.fields[ref]
	s.mu.RUnlock()
	if fk != nil && s.fresh(fk.loaded, now) {
		return fk, nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	if tx {
		s.mu.RLock()
		cf := kc.fields[ref]
		s.mu.RUnlock()
		if cf != nil && s.fresh(cf.loaded, now) {
			return cf, nil
		}
	}
	root, err := s.rootKey(ctx, tenant, ver, stale)
	if err != nil {
		if fk != nil && stale && isUnavailable(err) && s.withinGrace(fk.loaded, now) {
			s.st.stale.Add(1)
			return fk, nil
		}
		return nil, err
	}
	nf, err := deriveField(root.key.bytes(), typ, field, desc, root.loaded)
	if err != nil {
		return nil, err
	}
	// Field and root keys are not cleared when replaced or evicted: unlike
	// DEKs and branch keys, whose bytes are only read before the entry is
	// published, these are read on every call (HMAC, derivation, and tink's
	// AES-SIV, which keeps slices of its key), and a concurrent reader of a
	// cleared key would compute under an all-zero key. They are left to
	// the garbage collector.
	s.mu.Lock()
	trimMap(kc.fields, s.opts.Cache.MaxEntries, func(*fieldKeys) {})
	kc.fields[ref] = nf
	s.mu.Unlock()
	return nf, nil
}

// rootKey returns version ver of the tenant's search root key; version 1
// is made on first use, later ones only by a rotation's add step (searchrotate.go). It is never
// rotated with branch keys, so blind indexes and deterministic
// ciphertexts stay comparable across those rotations (see
// searchrotate.go for its own).
func (s *Sealer) rootKey(ctx context.Context, tenant string, ver uint32, stale bool) (*rootEntry, error) {
	if s.store == nil {
		return nil, unsupported("encrypt=det and index", "need Options.Store (inline mode without a KeyStore)")
	}
	now := s.clock()
	rr := rootRef{tenant, ver}
	s.mu.RLock()
	re := s.roots[rr]
	s.mu.RUnlock()
	if re != nil && s.fresh(re.loaded, now) {
		return re, nil
	}
	ctx, kc, tx := s.keysFor(ctx)
	if !tx {
		s.kmsMu.Lock()
		defer s.kmsMu.Unlock()
	}
	s.mu.RLock()
	if tx {
		if ce := kc.roots[rr]; ce != nil && s.fresh(ce.loaded, now) {
			s.mu.RUnlock()
			return ce, nil
		}
	}
	re = s.roots[rr]
	s.mu.RUnlock()
	if re != nil && s.fresh(re.loaded, now) {
		return re, nil
	}
	ref := KeyRef{Kind: KindSearch, Tenant: tenant, ID: ver}
	rec, err := s.store.Get(ctx, ref)
	if err == nil {
		err = checkRecord(rec, ref)
	}
	var ne *rootEntry
	switch {
	case errors.Is(err, ErrNotFound) && ver != 1:
		// Versions after the first are made by a rotation only: the
		// version list named one the store does not have.
		return nil, errWrongRecord
	case errors.Is(err, ErrNotFound):
		raw, w, stored, ierr := s.insertWrapped(ctx, ref, searchAD(tenant, ver))
		switch {
		case ierr != nil:
			return nil, ierr
		case raw != nil:
			ne, err = &rootEntry{tenant: tenant, version: ver, key: newSecret(raw), loaded: now, row: bytes.Clone(w)}, nil
		default:
			ne, err = s.loadRoot(ctx, rr, stored, now)
		}
	case errors.Is(err, errWrongRecord):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("envelope: key store: %w", err)
	default:
		ne, err = s.loadRoot(ctx, rr, rec, now)
	}
	if err != nil {
		if stale && re != nil && isUnavailable(err) && s.withinGrace(re.loaded, now) {
			s.st.stale.Add(1)
			return re, nil
		}
		return nil, err
	}
	s.mu.Lock()
	kc.roots[rr] = ne
	if tx {
		trimMap(s.memo.roots, s.opts.Cache.MaxEntries, func(*rootEntry) {})
		s.memo.roots[rr] = ne
	}
	s.mu.Unlock()
	return ne, nil
}

// loadRoot unwraps the search root key rec of rr, or takes the memo's key
// of that very row.
func (s *Sealer) loadRoot(ctx context.Context, rr rootRef, rec Record, now int64) (*rootEntry, error) {
	if m, ok := memoHit(s, s.memo.roots, rr, rec, now); ok {
		return m, nil
	}
	raw, err := s.unwrap(ctx, rec.Wrapped, searchAD(rr.tenant, rr.version))
	if err != nil {
		return nil, err
	}
	return &rootEntry{tenant: rr.tenant, version: rr.version, key: newSecret(raw), loaded: now, row: bytes.Clone(rec.Wrapped)}, nil
}

// EncryptDeterministicBytes encrypts plaintext with AES-SIV under the key
// of (b.Tenant, b.Type, b.Field), in binary form: what Seal stores for a
// []byte encrypt=det field, equal plaintexts giving equal ciphertexts, so
// the column supports equality lookups (string fields: DeterministicLookups).
// It computes under the search key version writes use only: during a
// search key rotation, rows written before it are under the previous one.
// b.Record and b.Subject are not used: see the package doc on what this
// leaks.
func (s *Sealer) EncryptDeterministicBytes(ctx context.Context, plaintext []byte, b Binding) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.sealDet(ctx, plaintext, &b)
}

func (s *Sealer) sealDet(ctx context.Context, pt []byte, b *Binding) ([]byte, error) {
	sv, err := s.searchVersions(ctx, b.Tenant)
	if err != nil {
		return nil, s.tel.failed(b, opEncrypt, fmtDet, err)
	}
	out, err := s.sealDetAt(ctx, sv.write, pt, b)
	if err != nil {
		return nil, s.tel.failed(b, opEncrypt, fmtDet, err)
	}
	s.tel.ok(b, opEncrypt, fmtDet)
	return out, nil
}

// sealDetAt encrypts pt deterministically under search key version ver.
func (s *Sealer) sealDetAt(ctx context.Context, ver uint32, pt []byte, b *Binding) ([]byte, error) {
	fk, err := s.fieldKeys(ctx, b.Tenant, ver, b.Type, b.Field, "", false)
	if err != nil {
		return nil, err
	}
	ad := appendFieldAD(make([]byte, 0, fieldADLen(b)), format.V3Det, 0, b)
	sealed, err := fk.siv.EncryptDeterministically(pt, ad)
	if err != nil {
		return nil, fmt.Errorf("envelope: deterministic encryption: %w", err)
	}
	out := make([]byte, 0, format.V3Header+len(sealed))
	out = append(out, byte(format.V3Det))
	out = append(out, fk.commit[:]...)
	out = append(out, sealed...)
	return out, nil
}

func (s *Sealer) openDet(ctx context.Context, c *format.Ciphertext, adBuf []byte, b *Binding) ([]byte, error) {
	fk, err := s.detKeyOf(ctx, b, c.Commitment)
	if err != nil {
		return nil, err
	}
	ad := appendFieldAD(adBuf, format.V3Det, 0, b)
	pt, err := fk.siv.DecryptDeterministically(c.Sealed, ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	out := c.Sealed[:copy(c.Sealed, pt)]
	clear(pt)
	return out, nil
}

// detField finds the encrypt=det string field a lookup names.
func detField(op string, typ any, field string) (*pii.Schema, *pii.Field, error) {
	sc, f, err := lookupField(op, typ, field)
	if err != nil {
		return nil, nil, err
	}
	if f.Opts.Encrypt != pii.EncryptDet {
		return nil, nil, fmt.Errorf("envelope: %s: %s.%s is not encrypt=det", op, sc.Name, f.Path)
	}
	t := f.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.String {
		return nil, nil, fmt.Errorf("envelope: %s: %s.%s is not a string field", op, sc.Name, f.Path)
	}
	return sc, f, nil
}

func lookupField(op string, typ any, field string) (*pii.Schema, *pii.Field, error) {
	sc, err := pii.SchemaOf(typ)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: %s: %w", op, err)
	}
	f := sc.Field(field)
	if f == nil {
		return nil, nil, fmt.Errorf("envelope: %s: %s has no tagged field %q (use the schema path, e.g. \"Contacts[].Email\")", op, sc.Name, field)
	}
	return sc, f, nil
}

// blindIndex returns the blind index of value under the search key
// version writes use.
func (s *Sealer) blindIndex(ctx context.Context, tenant, typeName, field, desc string, value []byte) ([]byte, error) {
	sv, err := s.searchVersions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return s.blindIndexAt(ctx, tenant, sv.write, typeName, field, desc, value)
}

func (s *Sealer) blindIndexAt(ctx context.Context, tenant string, ver uint32, typeName, field, desc string, value []byte) ([]byte, error) {
	fk, err := s.fieldKeys(ctx, tenant, ver, typeName, field, desc, true)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, fk.idx.bytes())
	m.Write(value)
	return m.Sum(nil)[:s.opts.IndexBytes], nil
}

// ForgetSubject crypto-shreds a data subject within a tenant: it deletes
// every DEK the subject has had from the KeyStore and records a tombstone
// whose watermark is the highest of their ids, then purges this process's
// caches. Values sealed before fail with ErrShredded for good, in every
// process sharing the KeyStore; new values of the subject seal under a
// new key generation (a DEK with an id above the watermark), so a
// returning customer is served. CloseSubject also refuses new values.
//
// When it returns, this process neither opens a value under the shredded
// keys nor seals a new one under them. Another process that holds one of
// them in its cache refuses them within Cache.ShredCheck (1 second by
// default), or as soon as a feed it follows delivers the forget (see
// sqlkeystore/pglisten); values it seals before that are shredded too. No value
// sealed under the shredded keys is readable after that, backups of the
// data included, unless a backup of the KeyStore restores the DEKs.
//
// Values sealed with encrypt=det and blind indexes use tenant keys, not
// subject keys, and are not shredded: delete them with the record.
func (s *Sealer) ForgetSubject(ctx context.Context, tenant, subject string) error {
	return s.forget(ctx, "ForgetSubject", tenant, subject, false)
}

// CloseSubject is ForgetSubject that also refuses new values: from then
// on, sealing a value of the subject fails with ErrShredded, persistently
// and in every process sharing the KeyStore (within Cache.ShredCheck, as for
// ForgetSubject). It records the tombstone at the largest DEK id
// (2^24-1), so no id is left for a new key generation; the KeyStore
// schema is unchanged. There is no way to reopen a closed subject.
func (s *Sealer) CloseSubject(ctx context.Context, tenant, subject string) error {
	return s.forget(ctx, "CloseSubject", tenant, subject, true)
}

func (s *Sealer) forget(ctx context.Context, op, tenant, subject string, closed bool) (err error) {
	ctx, span := s.tel.span(ctx, "forget_subject")
	defer func() { endSpan(span, err) }()
	if s.opts.Inline {
		return unsupported(op, "needs keyring mode")
	}
	if subject == "" {
		return fmt.Errorf("envelope: %s: empty subject", op)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	scope := scopeName(subject)
	if closed {
		// The closing tombstone goes first: a writer racing us sees it in
		// its check after inserting a DEK and refuses.
		_, _, err = s.store.Insert(ctx, Record{
			KeyRef:  KeyRef{Kind: KindTombstone, Tenant: tenant, Scope: scope, ID: closedWatermark},
			Wrapped: []byte{}, Created: s.now(),
		})
	}
	if err == nil {
		_, err = s.store.Forget(ctx, tenant, scope)
	}
	s.hook("forget:purge")
	s.purgeScope(tenant, subject)
	if err != nil {
		return fmt.Errorf("envelope: %s: key store: %w", op, err)
	}
	return nil
}
