package envelope

import (
	"context"
	"crypto/rand"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// inlineEncKey returns the tenant's current inline DEK, wrapping a new one
// with the key provider when the current one reached a limit.
func (s *Sealer) inlineEncKey(ctx context.Context, tenant string, n int) (*dekEntry, error) {
	if s.tooLarge(n) {
		return nil, ErrLimit // before a DEK is spent on it, or made for it
	}
	now := s.clock()
	s.mu.RLock()
	e := s.inlineCur[tenant]
	s.mu.RUnlock()
	if e != nil && s.reserve(e, n, now) {
		return e, nil
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	for range maxKeyAttempts {
		s.mu.RLock()
		e = s.inlineCur[tenant]
		s.mu.RUnlock()
		if e != nil && s.reserve(e, n, now) {
			return e, nil
		}
		ne, err := s.newInlineDEK(ctx, tenant, now)
		if err != nil {
			return nil, err
		}
		s.hook("inline:reserve")
		if s.reserve(ne, n, now) {
			return ne, nil
		}
		// Concurrent seals, which reserve without createMu, took the new
		// key's messages first: make another.
	}
	return nil, errKeyChurn
}

// newInlineDEK makes, wraps and installs the tenant's next inline DEK.
func (s *Sealer) newInlineDEK(ctx context.Context, tenant string, now int64) (*dekEntry, error) {
	s.st.misses.Add(1)
	raw := make([]byte, keySize)
	rand.Read(raw)
	w, _, err := s.wrap(ctx, raw, inlineAD(tenant))
	if err != nil {
		clear(raw)
		return nil, err
	}
	if len(w) == 0 || len(w) > format.MaxWrapped {
		clear(raw)
		return nil, errTooLongWrap
	}
	ne, err := s.newDEKEntry(dekRef{tenant: tenant}, raw, now, s.now())
	if err != nil {
		return nil, err
	}
	ne.wrapped = string(w)
	ne.granted.Store(s.opts.Cache.MaxMessages) // one process's key: counted here alone
	s.tel.dekCreated(ctx, "", true)
	s.installInline(ne, true)
	return ne, nil
}

var errTooLongWrap = &wrapLenError{}

type wrapLenError struct{}

func (*wrapLenError) Error() string { return "envelope: wrapped key longer than 65535 bytes" }

// inlineDecKey finds the DEK carried in a v2 ciphertext: from the cache by
// its wrapped bytes (no allocation), else by one unwrap call.
func (s *Sealer) inlineDecKey(ctx context.Context, tenant string, wrapped []byte) (*dekEntry, error) {
	now := s.clock()
	s.mu.RLock()
	e := s.inline[string(wrapped)]
	s.mu.RUnlock()
	if e != nil && e.ref.tenant != tenant {
		e = nil // bound to another tenant: let the provider decide
	}
	if e != nil && s.fresh(e.loaded, now) {
		return e, nil
	}
	s.st.misses.Add(1)
	s.kmsMu.Lock()
	defer s.kmsMu.Unlock()
	s.mu.RLock()
	e2 := s.inline[string(wrapped)]
	s.mu.RUnlock()
	if e2 != nil && e2.ref.tenant == tenant && s.fresh(e2.loaded, now) {
		return e2, nil
	}
	raw, err := s.unwrap(ctx, wrapped, inlineAD(tenant))
	if err != nil {
		if e != nil && isUnavailable(err) && s.withinGrace(e.loaded, now) {
			s.st.stale.Add(1)
			return e, nil
		}
		return nil, err
	}
	ne, err := s.newDEKEntry(dekRef{tenant: tenant}, raw, now, s.now())
	if err != nil {
		return nil, err
	}
	ne.wrapped = string(wrapped)
	s.installInline(ne, false)
	return ne, nil
}

func (s *Sealer) installInline(e *dekEntry, current bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := func(x *dekEntry) bool { return s.inline[x.wrapped] == x }
	n := s.inlineQ.evict(func() int { return len(s.inline) }, s.opts.Cache.MaxEntries, live, func(old *dekEntry) {
		delete(s.inline, old.wrapped)
		if s.inlineCur[old.ref.tenant] == old {
			delete(s.inlineCur, old.ref.tenant)
		}
	})
	s.st.evictions.Add(n)
	if old := s.inline[e.wrapped]; old != nil && old != e {
		old.key.wipe()
	}
	s.inline[e.wrapped] = e
	s.inlineQ.push(e, live, len(s.inline))
	if current {
		s.inlineCur[e.ref.tenant] = e
	}
}
