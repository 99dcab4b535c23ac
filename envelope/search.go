package envelope

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/fieldguard/pii/envelope/internal/format"
	"github.com/tink-crypto/tink-go/v2/daead/subtle"
)

// rootEntry is a tenant's unwrapped search root key.
type rootEntry struct {
	noPrint
	tenant string
	key    secret
	loaded int64
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

func deriveField(root []byte, typ, field string, loaded int64) (*fieldKeys, error) {
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
	ik, err := hkdf.Key(sha256.New, root, nil, fieldInfo("pii/index/v1", typ, field), keySize)
	if err != nil {
		return nil, err
	}
	fk := &fieldKeys{siv: siv, idx: newSecret(ik), loaded: loaded}
	copy(fk.commit[:], cm)
	return fk, nil
}

func (s *Sealer) fieldKeys(ctx context.Context, tenant, typ, field string, stale bool) (*fieldKeys, error) {
	now := s.clock()
	ref := fieldRef{tenant, typ, field}
	s.mu.RLock()
	fk := s.fields[ref]
	s.mu.RUnlock()
	if fk != nil && s.fresh(fk.loaded, now) {
		return fk, nil
	}
	root, err := s.rootKey(ctx, tenant, stale)
	if err != nil {
		if fk != nil && stale && isUnavailable(err) && s.withinGrace(fk.loaded, now) {
			s.st.stale.Add(1)
			return fk, nil
		}
		return nil, err
	}
	nf, err := deriveField(root.key.bytes(), typ, field, root.loaded)
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
	if len(s.fields) >= s.opts.Cache.MaxEntries {
		for k := range s.fields {
			delete(s.fields, k)
			if len(s.fields) < s.opts.Cache.MaxEntries*9/10 {
				break
			}
		}
	}
	s.fields[ref] = nf
	s.mu.Unlock()
	return nf, nil
}

// rootKey returns the tenant's search root key, made on first use. It is
// never rotated with branch keys, so blind indexes and deterministic
// ciphertexts stay comparable across rotations.
func (s *Sealer) rootKey(ctx context.Context, tenant string, stale bool) (*rootEntry, error) {
	now := s.clock()
	s.mu.RLock()
	re := s.roots[tenant]
	s.mu.RUnlock()
	if re != nil && s.fresh(re.loaded, now) {
		return re, nil
	}
	s.kmsMu.Lock()
	defer s.kmsMu.Unlock()
	s.mu.RLock()
	re = s.roots[tenant]
	s.mu.RUnlock()
	if re != nil && s.fresh(re.loaded, now) {
		return re, nil
	}
	ref := KeyRef{Kind: KindSearch, Tenant: tenant, ID: 1}
	rec, err := s.store.Get(ctx, ref)
	var raw []byte
	switch {
	case errors.Is(err, ErrNotFound):
		err = nil
		raw = make([]byte, keySize)
		rand.Read(raw)
		w, kek, werr := s.wrap(ctx, raw, searchAD(tenant))
		if werr != nil {
			clear(raw)
			return nil, werr
		}
		stored, inserted, ierr := s.store.Insert(ctx, Record{KeyRef: ref, Wrapped: w, KEK: kek.String(), Created: s.now()})
		if ierr != nil {
			clear(raw)
			return nil, fmt.Errorf("envelope: key store: %w", ierr)
		}
		if !inserted {
			clear(raw)
			raw, err = s.unwrap(ctx, stored.Wrapped, searchAD(tenant))
		}
	case err != nil:
		return nil, fmt.Errorf("envelope: key store: %w", err)
	default:
		raw, err = s.unwrap(ctx, rec.Wrapped, searchAD(tenant))
	}
	if err != nil {
		if stale && re != nil && isUnavailable(err) && s.withinGrace(re.loaded, now) {
			s.st.stale.Add(1)
			return re, nil
		}
		return nil, err
	}
	ne := &rootEntry{tenant: tenant, key: newSecret(raw), loaded: now}
	s.mu.Lock()
	s.roots[tenant] = ne
	s.mu.Unlock()
	return ne, nil
}

// EncryptDeterministic encrypts plaintext with AES-SIV under the key of
// (b.Tenant, b.Type, b.Field): equal plaintexts give equal ciphertexts
// ("pii3." text form), so the column supports equality lookups. b.Record
// and b.Subject are not used: see the package doc on what this leaks.
func (s *Sealer) EncryptDeterministic(ctx context.Context, plaintext string, b Binding) (string, error) {
	bin, err := s.sealDet(ctx, []byte(plaintext), &b)
	if err != nil {
		return "", err
	}
	out := encodeText(bin)
	clear(bin)
	return out, nil
}

// EncryptDeterministicBytes is EncryptDeterministic for the binary form.
func (s *Sealer) EncryptDeterministicBytes(ctx context.Context, plaintext []byte, b Binding) ([]byte, error) {
	return s.sealDet(ctx, plaintext, &b)
}

func (s *Sealer) sealDet(ctx context.Context, pt []byte, b *Binding) ([]byte, error) {
	fk, err := s.fieldKeys(ctx, b.Tenant, b.Type, b.Field, false)
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
	fk, err := s.fieldKeys(ctx, b.Tenant, b.Type, b.Field, true)
	if err != nil {
		return nil, err
	}
	if !commitEqual(fk.commit[:], c.Commitment) {
		return nil, ErrDecrypt
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

// BlindIndex returns the keyed blind index of value for (tenant, typeName,
// field): HMAC-SHA256 under a key derived from the tenant's search root,
// truncated to Options.IndexBytes, base64url without padding. Equal values
// give equal indexes within a tenant's field and nowhere else. field is
// the schema path ("Contacts[].Email"), as Seal uses.
func (s *Sealer) BlindIndex(ctx context.Context, tenant, typeName, field, value string) (string, error) {
	sum, err := s.blindIndex(ctx, tenant, typeName, field, []byte(value))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func (s *Sealer) blindIndex(ctx context.Context, tenant, typeName, field string, value []byte) ([]byte, error) {
	fk, err := s.fieldKeys(ctx, tenant, typeName, field, true)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, fk.idx.bytes())
	m.Write(value)
	return m.Sum(nil)[:s.opts.IndexBytes], nil
}

// ForgetSubject crypto-shreds a data subject within a tenant: it deletes
// the subject's DEKs from the KeyStore, leaves a tombstone so later opens
// fail with ErrShredded (and new seals for the subject are refused), and
// purges this process's caches. Another process holding the subject's DEK
// in its cache can still decrypt until that entry's Cache.MaxAge runs out
// (5 minutes by default); no value is readable after that, backups of the
// data included, unless a backup of the KeyStore restores the DEK.
//
// Values sealed with encrypt=det and blind indexes use tenant keys, not
// subject keys, and are not shredded: delete them with the record.
func (s *Sealer) ForgetSubject(ctx context.Context, tenant, subject string) error {
	if s.opts.Mode == Inline {
		return fmt.Errorf("%w: ForgetSubject needs keyring mode", ErrUnsupported)
	}
	if subject == "" {
		return errors.New("envelope: ForgetSubject: empty subject")
	}
	_, err := s.store.Forget(ctx, tenant, scopeName(subject))
	s.mu.Lock()
	s.forgetFront()
	for ref, e := range s.deks {
		if ref.tenant == tenant && ref.subject == subject {
			delete(s.deks, ref)
			e.key.wipe()
		}
	}
	delete(s.cur, scopeRef{tenant, subject})
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("envelope: ForgetSubject: key store: %w", err)
	}
	return nil
}
