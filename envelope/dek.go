package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// DEKs (keyring mode): finding, making and unwrapping a scope's data keys.

func (s *Sealer) newDEKEntry(ref dekRef, raw []byte, loaded int64, created time.Time) (*dekEntry, error) {
	a, c, err := deriveDEK(raw)
	if err != nil {
		clear(raw)
		return nil, err
	}
	until := loaded + int64(created.Add(s.opts.BucketPeriod).Sub(s.now()))
	e := &dekEntry{ref: ref, aead: a, commit: c, key: newSecret(raw), loaded: loaded, until: until, bucket: bucketOf(scopeRef{ref.tenant, ref.subject})}
	e.checked.Store(loaded)
	return e, nil
}

// usable reports whether e may still encrypt, its limits aside: not
// spent, not expired, not past Cache.ShredCheck (subject scope), within
// its time bucket (tenant scope).
func (s *Sealer) usable(e *dekEntry, now int64) bool {
	if e == nil || e.spent.Load() || !s.fresh(e.loaded, now) || !s.shredFresh(e, now) {
		return false
	}
	return e.wrapped != "" || e.ref.subject != "" || now < e.until
}

// reserve counts one message of n bytes against e, reporting whether e may
// encrypt it: within the messages this process reserved under it (see
// lease.go) and its byte limit. Only messages granted are counted, so the
// count is exactly the messages used.
func (s *Sealer) reserve(e *dekEntry, n int, now int64) bool {
	if !s.usable(e, now) {
		return false
	}
	for {
		m := e.msgs.Load()
		if m >= e.granted.Load() {
			if m >= s.opts.Cache.MaxMessages {
				e.spent.Store(true)
			}
			return false
		}
		if e.msgs.CompareAndSwap(m, m+1) {
			break
		}
	}
	if s.limitBytes && e.bytes.Add(uint64(n)) > s.opts.Cache.MaxBytes {
		e.spent.Store(true)
		return false
	}
	return true
}

// tooLarge reports a plaintext of n bytes that no DEK may encrypt: more
// than Cache.MaxBytes.
func (s *Sealer) tooLarge(n int) bool {
	return s.limitBytes && uint64(n) > s.opts.Cache.MaxBytes
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
	}
	next, err := s.planDEK(sr, rec, found, wm, e)
	if err != nil {
		return nil, false, err
	}
	if next == 0 {
		if e != nil && s.stillLive(e, rec.KeyRef, rec, now) {
			return e, false, nil // past Cache.ShredCheck: its row is still the newest
		}
		ne, err := s.loadDEK(ctx, rec.KeyRef, rec, sr.subject, false)
		if err != nil {
			return nil, false, err
		}
		if e != nil && e.ref.id == rec.ID {
			carryCounts(ne, e)
		}
		return ne, false, nil
	}
	ne, err := s.createDEK(ctx, sr, scope, next, now)
	return ne, true, err
}

// planDEK decides, from the scope's newest DEK rec (if found, already
// checked against the request) and its watermark wm, whether to encrypt
// under rec (next 0) or to make DEK next. e is the cached current DEK, if
// any: the newest id never goes below it.
func (s *Sealer) planDEK(sr scopeRef, rec Record, found bool, wm uint32, e *dekEntry) (next uint32, err error) {
	if wm >= closedWatermark {
		return 0, ErrShredded
	}
	next = wm + 1
	if found && rec.ID > wm {
		// A live DEK: its id never goes below one this process used.
		if e != nil && rec.ID < e.ref.id {
			return 0, errWrongRecord
		}
		usable := sr.subject != "" || s.now().Sub(rec.Created) < s.opts.BucketPeriod
		if e != nil && e.ref.id == rec.ID && e.spent.Load() {
			usable = false
		}
		if usable {
			return 0, nil
		}
		next = rec.ID + 1
	} else if found {
		// A DEK at or below the watermark (inserted by a writer that raced
		// a Forget and then refused it): dead, skip past it.
		next = max(next, rec.ID+1)
	}
	if next > format.MaxDEKID {
		return 0, ErrLimit
	}
	return next, nil
}

// wrapDEK makes a new DEK for want under branch key br: the record to
// insert and the raw key (the caller clears it unless an entry keeps it).
func (s *Sealer) wrapDEK(br *branchEntry, want KeyRef) (Record, []byte) {
	raw := make([]byte, keySize)
	rand.Read(raw)
	w := make([]byte, format.NonceSize, format.NonceSize+keySize+format.TagSize)
	rand.Read(w)
	w = br.aead.Seal(w, w[:format.NonceSize], raw, dekAD(want.Tenant, want.Scope, want.ID, br.version))
	// The first block of messages is reserved by the insert itself.
	return Record{KeyRef: want, Wrapped: w, Parent: br.version, Created: s.now(), Used: s.opts.Cache.MessageBlock}, raw
}

// storedDEK turns what the key store answered to the insert of rec (raw
// its key) into an entry: rec's own key when it was inserted, else the
// stored row's, unwrapped. raw is cleared unless the entry keeps it.
func (s *Sealer) storedDEK(ctx context.Context, sr scopeRef, rec Record, raw []byte, stored Record, inserted bool, now int64) (*dekEntry, error) {
	if err := checkRecord(stored, rec.KeyRef); err != nil {
		clear(raw)
		return nil, err
	}
	if !inserted {
		clear(raw)
		return s.loadDEK(ctx, rec.KeyRef, stored, sr.subject, false)
	}
	if !bytes.Equal(stored.Wrapped, rec.Wrapped) {
		// "Inserted", but not what we inserted: nothing is sealed under a
		// key the store does not hold.
		clear(raw)
		return nil, errWrongRecord
	}
	s.tel.dekCreated(ctx, sr.subject, false)
	ne, err := s.newDEKEntry(dekRef{sr.tenant, sr.subject, rec.ID}, raw, now, stored.Created)
	if err != nil {
		return nil, err
	}
	ne.row = rec.Wrapped
	ne.granted.Store(rec.Used)
	return ne, nil
}

// shreddedSince checks a DEK just made or found by an insert against the
// scope's watermark read after the insert: a Forget (in any process) that
// ran after our reads may already have shredded its id, or have deleted
// the row before our insert. Such a DEK is dead: it is wiped (it was never
// used) and the lookup starts again (errRetry), or fails with ErrShredded
// when the scope is closed.
func shreddedSince(ne *dekEntry, wm uint32) error {
	if ne.ref.id > wm {
		return nil
	}
	ne.key.wipe()
	if wm >= closedWatermark {
		return ErrShredded
	}
	return errRetry
}

func (s *Sealer) createDEK(ctx context.Context, sr scopeRef, scope string, id uint32, now int64) (*dekEntry, error) {
	br, err := s.currentBranch(ctx, sr.tenant)
	if err != nil {
		return nil, err
	}
	rec, raw := s.wrapDEK(br, KeyRef{Kind: KindDEK, Tenant: sr.tenant, Scope: scope, ID: id})
	stored, inserted, err := s.store.Insert(ctx, rec)
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	ne, err := s.storedDEK(ctx, sr, rec, raw, stored, inserted, now)
	if err != nil || sr.subject == "" {
		return ne, err
	}
	wm, _, err := s.watermark(ctx, sr.tenant, scope)
	if err != nil {
		ne.key.wipe()
		return nil, err
	}
	if err := shreddedSince(ne, wm); err != nil {
		return nil, err
	}
	return ne, nil
}

// loadDEK unwraps rec, which the key store returned for want, with its
// branch key. The associated data is built from want, never from the row.
func (s *Sealer) loadDEK(ctx context.Context, want KeyRef, rec Record, subject string, stale bool) (*dekEntry, error) {
	if err := checkRecord(rec, want); err != nil {
		return nil, err
	}
	ref := dekRef{want.Tenant, subject, want.ID}
	now := s.clock()
	if m, ok := memoHit(s, s.memo.deks.m, ref, rec, now); ok {
		m.checked.Store(now) // its row, read again: not shredded
		return m, nil
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
	ne, err := s.newDEKEntry(ref, raw, loaded, rec.Created)
	if err != nil {
		return nil, err
	}
	ne.row = bytes.Clone(rec.Wrapped)
	return ne, nil
}

// stillLive reports whether e, a cached DEK, is the one in rec, which the
// key store just returned for want, and still fit to use; if so, the
// row's existence confirms that e was not shredded, and e is marked
// checked at now (the lookup's start, before the read) rather than
// unwrapped again.
func (s *Sealer) stillLive(e *dekEntry, want KeyRef, rec Record, now int64) bool {
	if e.ref.id != want.ID || e.spent.Load() || !s.fresh(e.loaded, now) || checkRecord(rec, want) != nil || !bytes.Equal(e.row, rec.Wrapped) {
		return false
	}
	e.checked.Store(max(e.checked.Load(), now))
	return true
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
