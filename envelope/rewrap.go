package envelope

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// RewrapOptions control a rewrap job.
type RewrapOptions struct {
	// Tenant limits the job to one tenant; "" means all.
	Tenant string
	// BatchSize is the number of records read per KeyStore.List (default 100).
	BatchSize int
	// Cursor resumes a job after the position a previous run reported
	// (Progress.Cursor); "" starts at the beginning.
	Cursor string
	// Progress, if set, is called after every batch; a non-nil error stops
	// the job and is returned. Persist Progress.Cursor to resume after a
	// crash: records before it are done.
	Progress func(Progress) error
}

// Progress reports a rewrap job's counts so far.
type Progress struct {
	Scanned   int // records read
	Rewrapped int // records replaced
	Skipped   int // records already under the current key
	// WrapCalls and UnwrapCalls are key provider calls made by the job
	// (counted on the Sealer, so concurrent use of it adds to them).
	WrapCalls, UnwrapCalls uint64
	// Cursor is the position after the last record processed; "" when the
	// job is complete.
	Cursor string
}

func (o *RewrapOptions) batch() int {
	if o.BatchSize <= 0 {
		return 100
	}
	return o.BatchSize
}

// encodeCursor and parseCursor turn a KeyRef into an opaque resumable
// string: base64url of len-prefixed kind, tenant, scope and the id.
func encodeCursor(r KeyRef) string {
	b := appendLP(nil, string(r.Kind))
	b = appendLP(b, r.Tenant)
	b = appendLP(b, r.Scope)
	b = binary.BigEndian.AppendUint32(b, r.ID)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = errors.New("envelope: malformed rewrap cursor")

func parseCursor(c string) (KeyRef, error) {
	if c == "" {
		return KeyRef{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return KeyRef{}, errCursor
	}
	var parts [3]string
	for i := range parts {
		if len(b) < 4 {
			return KeyRef{}, errCursor
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(n) {
			return KeyRef{}, errCursor
		}
		parts[i], b = string(b[:n]), b[n:]
	}
	if len(b) != 4 {
		return KeyRef{}, errCursor
	}
	return KeyRef{Kind: Kind(parts[0]), Tenant: parts[1], Scope: parts[2], ID: binary.BigEndian.Uint32(b)}, nil
}

type rewrapFunc func(ctx context.Context, rec Record, p *Progress) (replaced bool, err error)

// runRewrap walks the kinds in order from opts.Cursor, calling fn per record.
func (s *Sealer) runRewrap(ctx context.Context, opts RewrapOptions, kinds []Kind, fn rewrapFunc) (Progress, error) {
	if err := s.needStore("rewrap"); err != nil {
		return Progress{}, err
	}
	ctx = withCall(ctx)
	after, err := parseCursor(opts.Cursor)
	if err != nil {
		return Progress{}, err
	}
	w0, u0 := s.st.wraps.Load(), s.st.unwraps.Load()
	var p Progress
	calls := func() {
		p.WrapCalls = s.st.wraps.Load() - w0
		p.UnwrapCalls = s.st.unwraps.Load() - u0
	}
	start := 0
	if after.Kind != "" {
		start = -1
		for i, k := range kinds {
			if k == after.Kind {
				start = i
			}
		}
		if start < 0 {
			return Progress{}, errCursor
		}
	}
	for ki := start; ki < len(kinds); ki++ {
		kind := kinds[ki]
		pos := KeyRef{Kind: kind}
		havePos := ki == start && after.Kind != ""
		if havePos {
			pos = after
		}
		for {
			recs, err := s.store.List(ctx, kind, pos, opts.batch())
			if err != nil {
				calls()
				return p, fmt.Errorf("envelope: rewrap: key store: %w", err)
			}
			if len(recs) == 0 {
				break
			}
			for _, rec := range recs {
				// Each row is of the kind asked for and strictly after the
				// last one: a store that repeats or reorders rows cannot
				// make the job loop or skip back.
				if rec.Kind != kind || (havePos && compareRef(rec.KeyRef, pos) <= 0) {
					calls()
					return p, fmt.Errorf("envelope: rewrap: %w", trimErr(errWrongRecord))
				}
				pos, havePos = rec.KeyRef, true
				if opts.Tenant != "" && rec.Tenant != opts.Tenant {
					continue
				}
				p.Scanned++
				replaced, err := fn(ctx, rec, &p)
				if err != nil {
					calls()
					return p, fmt.Errorf("envelope: rewrap %s %s/%s/%d: %w", rec.Kind, rec.Tenant, rec.Scope, rec.ID, trimErr(err))
				}
				if replaced {
					p.Rewrapped++
				} else {
					p.Skipped++
				}
			}
			p.Cursor = encodeCursor(pos)
			calls()
			if opts.Progress != nil {
				if err := opts.Progress(p); err != nil {
					return p, err
				}
			}
			if len(recs) < opts.batch() {
				break
			}
		}
	}
	p.Cursor = ""
	calls()
	return p, nil
}

// KMSWrappedKinds returns the record kinds the key provider wraps (their
// Record.KEK names the wrapping key version), in the order
// RewrapBranchKeys visits them: what a tool must check before it destroys
// a key version.
func KMSWrappedKinds() []Kind { return []Kind{KindBranch, KindSearch, KindSecret} }

// RewrapBranchKeys rewraps, after a KMS key rotation, every key the key
// provider wraps (branch keys, then search root keys, then secrets:
// KindSecret) under its current
// primary KEK: unwrap, wrap, unwrap the new wrap and compare, and only
// then replace the stored record (compare-and-swap). Records already under
// the primary are skipped. Field ciphertexts and DEKs are untouched. It is
// resumable (RewrapOptions.Cursor) and costs about three key provider
// calls per branch key.
func (s *Sealer) RewrapBranchKeys(ctx context.Context, opts RewrapOptions) (p Progress, err error) {
	ctx, span := s.tel.span(ctx, "rewrap_branch_keys")
	defer func() { endJob(span, p, err) }()
	primary := ""
	return s.runRewrap(ctx, opts, KMSWrappedKinds(), func(ctx context.Context, rec Record, _ *Progress) (bool, error) {
		if primary != "" && rec.KEK == primary {
			return false, nil
		}
		ad := branchAD(rec.Tenant, rec.ID)
		switch rec.Kind {
		case KindSearch:
			ad = searchAD(rec.Tenant, rec.ID)
		case KindSecret:
			ad = secretAD(rec.Tenant, rec.Scope)
		}
		raw, err := s.unwrap(ctx, rec.Wrapped, ad)
		if err != nil {
			return false, err
		}
		defer clear(raw)
		w, kek, err := s.wrap(ctx, raw, ad)
		if err != nil {
			return false, err
		}
		primary = kek.String()
		check, err := s.unwrap(ctx, w, ad)
		if err != nil {
			return false, fmt.Errorf("verifying new wrap: %w", err)
		}
		ok := subtle.ConstantTimeCompare(raw, check) == 1
		clear(check)
		if !ok {
			return false, errors.New("envelope: new wrap does not unwrap to the same key; record left unchanged")
		}
		nr := rec
		nr.Wrapped, nr.KEK = w, primary
		if err := s.store.Replace(ctx, rec, nr); err != nil {
			return false, err
		}
		return true, nil
	})
}

// RewrapDEKs rewraps, after RotateBranchKey, every DEK not under its
// tenant's newest branch key: unwrap with the old branch key, wrap with the
// new one, unwrap the new wrap and compare, then replace (compare-and-
// swap). Field ciphertexts are untouched; key provider calls are one
// unwrap per branch key version, not per DEK. Resumable like
// RewrapBranchKeys.
func (s *Sealer) RewrapDEKs(ctx context.Context, opts RewrapOptions) (p Progress, err error) {
	ctx, span := s.tel.span(ctx, "rewrap_deks")
	defer func() { endJob(span, p, err) }()
	latest := map[string]uint32{}
	return s.runRewrap(ctx, opts, []Kind{KindDEK}, func(ctx context.Context, rec Record, _ *Progress) (bool, error) {
		v, ok := latest[rec.Tenant]
		if !ok {
			br, err := s.store.Latest(ctx, KindBranch, rec.Tenant, "")
			if err != nil {
				return false, err
			}
			if err := checkLatest(br, KindBranch, rec.Tenant, "", 1); err != nil {
				return false, err
			}
			v = br.ID
			latest[rec.Tenant] = v
		}
		if rec.Parent >= v {
			return false, nil
		}
		oldB, err := s.branchKey(ctx, rec.Tenant, rec.Parent, false)
		if err != nil {
			return false, err
		}
		newB, err := s.branchKey(ctx, rec.Tenant, v, false)
		if err != nil {
			return false, err
		}
		raw, err := openDEK(oldB, rec.KeyRef, rec.Wrapped)
		if err != nil {
			return false, err
		}
		defer clear(raw)
		w := make([]byte, format.NonceSize, format.NonceSize+keySize+format.TagSize)
		rand.Read(w)
		w = newB.aead.Seal(w, w[:format.NonceSize], raw, dekAD(rec.Tenant, rec.Scope, rec.ID, v))
		nr := rec
		nr.Wrapped, nr.Parent = w, v
		check, err := openDEK(newB, nr.KeyRef, nr.Wrapped)
		if err != nil {
			return false, err
		}
		same := subtle.ConstantTimeCompare(raw, check) == 1
		clear(check)
		if !same {
			return false, errors.New("envelope: new wrap does not unwrap to the same key; record left unchanged")
		}
		if err := s.store.Replace(ctx, rec, nr); err != nil {
			return false, err
		}
		return true, nil
	})
}
