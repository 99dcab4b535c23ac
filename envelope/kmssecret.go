package envelope

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/fieldguard/pii"
)

// KindSecret is a 32-byte secret of a component built on the Sealer (a
// tokenizer's root key, a retention ledger key) wrapped by the key
// provider like a branch key, so RewrapBranchKeys covers it and a KMS
// rotation needs no code of its own for it. ID is 1, Scope is the
// secret's name; Tenant is the tenant it belongs to ("" for secrets of the
// whole application).
const KindSecret Kind = "secret"

// secretAD binds a secret's wrap to its tenant and name: a row copied to
// another name or tenant does not unwrap.
func secretAD(tenant, name string) []byte { return keyAD("pii/secret/v1", tenant, name, 1, 0) }

// Secret returns the 32-byte secret named name of tenant, kept in the
// KeyStore wrapped by the key provider (KindSecret). The first call
// anywhere makes it (crypto/rand), wraps it and inserts it if absent; when
// two processes race, the one whose insert loses unwraps and returns the
// winner's, so every process gets the same secret. Later calls unwrap the
// stored row (one key provider call; Secret caches nothing, so callers
// keep what they need). The row is checked against the request and the
// unwrap's associated data binds tenant and name.
//
// Secret reads and writes outside any transaction in ctx (pii.WithExecutor):
// a secret the caller keeps must not vanish with a rollback. The caller
// owns the returned bytes and should clear them when done (Go cannot
// promise erasure). Secrets are never rotated with branch keys; a KMS
// rotation rewraps them (RewrapBranchKeys) without changing them.
func (s *Sealer) Secret(ctx context.Context, tenant, name string) ([]byte, error) {
	if err := s.needStore("Secret"); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, errors.New("envelope: Secret: empty name")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx = pii.WithExecutor(ctx, nil)
	ref := KeyRef{Kind: KindSecret, Tenant: tenant, Scope: name, ID: 1}
	ad := secretAD(tenant, name)
	rec, err := s.store.Get(ctx, ref)
	if err == nil {
		err = checkRecord(rec, ref)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		raw, _, stored, ierr := s.insertWrapped(ctx, ref, ad)
		if ierr != nil || raw != nil {
			return raw, ierr
		}
		rec = stored
	case errors.Is(err, errWrongRecord):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("envelope: key store: %w", err)
	}
	return s.unwrap(ctx, rec.Wrapped, ad)
}

// insertWrapped makes a random key, wraps it with the key provider under
// ad and inserts it at ref unless a row is there. When its insert wins it
// returns the key (the caller owns it and clears it) and its wrap; when
// another writer's row was there first it returns that row (checked
// against ref) and a nil key, so every writer ends up with one key.
func (s *Sealer) insertWrapped(ctx context.Context, ref KeyRef, ad []byte) (raw, wrapped []byte, stored Record, err error) {
	raw = make([]byte, keySize)
	rand.Read(raw)
	w, kek, err := s.wrap(ctx, raw, ad)
	if err != nil {
		clear(raw)
		return nil, nil, Record{}, err
	}
	stored, inserted, err := s.store.Insert(ctx, Record{KeyRef: ref, Wrapped: w, KEK: kek.String(), Created: s.now()})
	if err != nil {
		clear(raw)
		return nil, nil, Record{}, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkRecord(stored, ref); err != nil {
		clear(raw)
		return nil, nil, Record{}, err
	}
	if !inserted {
		clear(raw)
		return nil, nil, stored, nil
	}
	return raw, w, stored, nil
}
