package envelope

import (
	"context"
	"errors"
	"fmt"
)

// Fleet-wide message limits. A DEK may encrypt at most Cache.MaxMessages
// values (2^32 at most: AES-GCM with random 96-bit nonces), counted
// across every process sharing the KeyStore: each process encrypts under
// a DEK only messages it reserved there, in blocks of Cache.MessageBlock,
// with KeyStore.Reserve, an atomic update that never lets the DEK's
// Record.Used pass the limit. A DEK is made with its first block reserved
// (Record.Used at Insert). dekEntry.granted is what this process
// reserved, dekEntry.msgs what it used; reserve (dek.go) encrypts only
// within granted. When Reserve says the budget is spent (ErrLimit) the
// entry is spent and the scope moves to a new DEK, subject scopes
// included; a block left when a process stops is never used.

// needsBlock reports whether e could encrypt but for its reserved
// messages, all used.
func (s *Sealer) needsBlock(e *dekEntry, now int64) bool {
	return e.wrapped == "" && s.usable(e, now) && e.msgs.Load() >= e.granted.Load()
}

// extend reserves a block of messages of e in the KeyStore. When the
// DEK's budget is spent, or its row is gone (forgotten, or not visible
// outside the caller's uncommitted transaction), or the store cannot
// reserve outside the caller's transaction, e is marked spent and the
// lookup moves on to the scope's next DEK.
func (s *Sealer) extend(ctx context.Context, e *dekEntry) error {
	ref := KeyRef{Kind: KindDEK, Tenant: e.ref.tenant, Scope: scopeName(e.ref.subject), ID: e.ref.id}
	b, limit := s.opts.Cache.MessageBlock, s.opts.Cache.MaxMessages
	used, err := s.store.Reserve(ctx, ref, b, limit)
	switch {
	case err == nil:
	case errors.Is(err, ErrLimit), errors.Is(err, ErrNotFound), errors.Is(err, ErrInTransaction):
		e.spent.Store(true)
		return nil
	default:
		return fmt.Errorf("envelope: key store: %w", err)
	}
	if used < b || used > limit {
		// Not what was asked: encrypt nothing more under it.
		e.spent.Store(true)
		return errWrongRecord
	}
	e.granted.Add(b)
	s.tel.reserved(ctx)
	return nil
}
