package keystoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
)

// Run runs the conformance suite against the stores newStore returns, one
// subtest per check (see the package documentation for the list).
// newStore must return an empty store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) envelope.KeyStore) {
	t.Helper()
	if newStore == nil {
		t.Fatal("keystoretest: newStore is nil")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			st := newStore(t)
			if st == nil {
				t.Fatal("keystoretest: newStore returned nil")
			}
			if err := c.run(t.Context(), st); err != nil {
				t.Error(err)
			}
		})
	}
}

// A check returns nil when the store conforms, or an error saying what
// went wrong. Checks are plain functions so the suite's own tests can run
// them against deliberately broken stores.
type check struct {
	name string
	run  func(ctx context.Context, st envelope.KeyStore) error
}

var checks = []check{
	{"GetMissing", checkGetMissing},
	{"InsertGet", checkInsertGet},
	{"InsertConcurrent", checkInsertConcurrent},
	{"Latest", checkLatest},
	{"Replace", checkReplace},
	{"Forget", checkForget},
	{"ForgetGenerations", checkForgetGenerations},
	{"ForgetRace", checkForgetRace},
	{"TenantIsolation", checkTenantIsolation},
	{"ListPages", checkListPages},
	{"NoAliasing", checkNoAliasing},
	{"CancelledContext", checkCancelled},
	{"Sealer", checkSealer},
	{"GetMany", checkGetMany},
	{"LatestMany", checkLatestMany},
	{"InsertMany", checkInsertMany},
	{"InsertManyConcurrent", checkInsertManyConcurrent},
	{"SealerBatch", checkSealerBatch},
	{"Reserve", checkReserve},
	{"ReserveConcurrent", checkReserveConcurrent},
	{"SealerFleetLimit", checkSealerFleetLimit},
}

// runCheck runs the named check against st.
func runCheck(ctx context.Context, name string, st envelope.KeyStore) error {
	for _, c := range checks {
		if c.name == name {
			return c.run(ctx, st)
		}
	}
	return fmt.Errorf("keystoretest: no check named %q", name)
}

// created is the creation time of the suite's records: it has
// microseconds, which a store must keep, and nanoseconds, which it may
// drop.
var created = time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)

func ref(kind envelope.Kind, tenant, scope string, id uint32) envelope.KeyRef {
	return envelope.KeyRef{Kind: kind, Tenant: tenant, Scope: scope, ID: id}
}

func rec(kind envelope.Kind, tenant, scope string, id uint32, wrapped string) envelope.Record {
	return envelope.Record{KeyRef: ref(kind, tenant, scope, id), Wrapped: []byte(wrapped), Parent: 7, KEK: "kek#1", Created: created}
}

func dek(tenant, scope string, id uint32, wrapped string) envelope.Record {
	return rec(envelope.KindDEK, tenant, scope, id, wrapped)
}

// sameRecord reports how got differs from want, or nil.
func sameRecord(what string, want, got envelope.Record) error {
	switch {
	case got.KeyRef != want.KeyRef:
		return fmt.Errorf("keystoretest: %s: got record %+v, want %+v", what, got.KeyRef, want.KeyRef)
	case !bytes.Equal(got.Wrapped, want.Wrapped):
		return fmt.Errorf("keystoretest: %s %+v: Wrapped %q, want %q", what, want.KeyRef, got.Wrapped, want.Wrapped)
	case got.Parent != want.Parent:
		return fmt.Errorf("keystoretest: %s %+v: Parent %d, want %d", what, want.KeyRef, got.Parent, want.Parent)
	case got.KEK != want.KEK:
		return fmt.Errorf("keystoretest: %s %+v: KEK %q, want %q", what, want.KeyRef, got.KEK, want.KEK)
	}
	if d := got.Created.Sub(want.Created); d <= -time.Microsecond || d >= time.Microsecond {
		return fmt.Errorf("keystoretest: %s %+v: Created %v, want %v to the microsecond", what, want.KeyRef, got.Created, want.Created)
	}
	return nil
}

// insert inserts r, which must not exist yet.
func insert(ctx context.Context, st envelope.KeyStore, r envelope.Record) error {
	got, inserted, err := st.Insert(ctx, r)
	if err != nil {
		return fmt.Errorf("keystoretest: Insert %+v: %w", r.KeyRef, err)
	}
	if !inserted {
		return fmt.Errorf("keystoretest: Insert %+v into an empty slot reported not inserted", r.KeyRef)
	}
	return sameRecord("Insert returned", r, got)
}

// insertAll inserts every record, stopping at the first error.
func insertAll(ctx context.Context, st envelope.KeyStore, rs ...envelope.Record) error {
	for _, r := range rs {
		if err := insert(ctx, st, r); err != nil {
			return err
		}
	}
	return nil
}

// present checks that ref is stored with the given wrapped bytes.
func present(ctx context.Context, st envelope.KeyStore, r envelope.KeyRef, wrapped string) error {
	got, err := st.Get(ctx, r)
	if err != nil {
		return fmt.Errorf("keystoretest: Get %+v: %w", r, err)
	}
	if got.KeyRef != r || string(got.Wrapped) != wrapped {
		return fmt.Errorf("keystoretest: Get %+v returned %+v with Wrapped %q, want Wrapped %q", r, got.KeyRef, got.Wrapped, wrapped)
	}
	return nil
}

// absent checks that Get of ref fails with envelope.ErrNotFound.
func absent(ctx context.Context, st envelope.KeyStore, r envelope.KeyRef, why string) error {
	got, err := st.Get(ctx, r)
	if !errors.Is(err, envelope.ErrNotFound) {
		return fmt.Errorf("keystoretest: Get %+v (%s): got %+v, %v; want envelope.ErrNotFound", r, why, got.KeyRef, err)
	}
	return nil
}

// watermark returns the ID of the scope's highest tombstone, checking
// that it is a tombstone of that scope with no wrapped bytes.
func watermark(ctx context.Context, st envelope.KeyStore, tenant, scope string) (uint32, error) {
	r, err := st.Latest(ctx, envelope.KindTombstone, tenant, scope)
	if err != nil {
		return 0, fmt.Errorf("keystoretest: Latest tombstone of (%q, %q): %w", tenant, scope, err)
	}
	if r.Kind != envelope.KindTombstone || r.Tenant != tenant || r.Scope != scope {
		return 0, fmt.Errorf("keystoretest: Latest tombstone of (%q, %q) returned %+v", tenant, scope, r.KeyRef)
	}
	if len(r.Wrapped) != 0 {
		return 0, fmt.Errorf("keystoretest: tombstone %+v carries wrapped bytes", r.KeyRef)
	}
	return r.ID, nil
}

// wantWatermark checks the scope's watermark.
func wantWatermark(ctx context.Context, st envelope.KeyStore, tenant, scope string, want uint32, why string) error {
	wm, err := watermark(ctx, st, tenant, scope)
	if err != nil {
		return err
	}
	if wm != want {
		return fmt.Errorf("keystoretest: watermark of (%q, %q) is %d, want %d (%s)", tenant, scope, wm, want, why)
	}
	return nil
}

// forget calls Forget and checks the count it returns.
func forget(ctx context.Context, st envelope.KeyStore, tenant, scope string, want int) error {
	n, err := st.Forget(ctx, tenant, scope)
	if err != nil {
		return fmt.Errorf("keystoretest: Forget (%q, %q): %w", tenant, scope, err)
	}
	if n != want {
		return fmt.Errorf("keystoretest: Forget (%q, %q) reported %d DEKs deleted, want %d (the DEKs of that tenant and scope, no other kind)", tenant, scope, n, want)
	}
	return nil
}
