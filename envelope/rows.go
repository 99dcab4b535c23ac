package envelope

import (
	"context"
	"errors"
	"fmt"
)

// Checks of the rows a KeyStore returns.

// checkRecord reports errWrongRecord unless rec is the record want names:
// a key store (or whoever can write its table) must not be able to serve
// one subject's or tenant's key for another's.
func checkRecord(rec Record, want KeyRef) error {
	if rec.KeyRef != want {
		return errWrongRecord
	}
	return nil
}

// checkLatest checks a row Latest returned for (kind, tenant, scope): it
// must be of that kind, tenant and scope, with an id of at least minID.
func checkLatest(rec Record, kind Kind, tenant, scope string, minID uint32) error {
	if rec.Kind != kind || rec.Tenant != tenant || rec.Scope != scope || rec.ID < minID {
		return errWrongRecord
	}
	return nil
}

// watermark returns the scope's current tombstone watermark: DEK ids at or
// below it are shredded. found is false when the scope was never
// forgotten.
func (s *Sealer) watermark(ctx context.Context, tenant, scope string) (wm uint32, found bool, err error) {
	rec, err := s.store.Latest(ctx, KindTombstone, tenant, scope)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("envelope: key store: %w", err)
	}
	if err := checkLatest(rec, KindTombstone, tenant, scope, 0); err != nil {
		return 0, false, err
	}
	return rec.ID, true, nil
}
