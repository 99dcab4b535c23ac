// Package searchkeys gives guard the steps of a search key rotation, which
// envelope implements on its Sealer: add a version, promote it, retire the
// old ones, read where a tenant stands, and list the tenants. The steps
// are not public API: taken by hand, a promotion before every process saw
// the new version, or a retirement before every row was re-indexed, makes
// lookups miss rows. guard's Guard.RotateSearchKeys is the one public way
// to rotate: it takes each step when it is safe, re-indexes and verifies.
//
// envelope registers the implementation (Of) from its init function.
package searchkeys

import (
	"context"
	"errors"
	"time"
)

// State says where a tenant's search key rotation stands.
type State struct {
	// Write is the version Seal computes blind indexes and deterministic
	// values under.
	Write uint32
	// Lookup lists the versions lookups compute, newest first: Write, a
	// version added and not yet promoted, and those promoted over and not
	// yet retired.
	Lookup []uint32
	// Pending is the version added and not yet promoted, 0 when none.
	Pending uint32
	// Ready is when the next step may be taken: Promote of Pending; or,
	// after a promotion, re-indexing and Retire (from then on no process
	// writes under an old version). Zero when there is no step to take.
	Ready time.Time
}

// Steps are the steps of a rotation of one Sealer's tenants' search root
// keys.
type Steps interface {
	// State reads the state of tenant's rotation from the key store.
	State(ctx context.Context, tenant string) (State, error)
	// Add starts a rotation of tenant's search root key: it makes the
	// next version (one wrap call) and returns it. From then on lookups
	// in every process compute blind indexes and deterministic values
	// under it as well (within Cache.MaxAge); nothing is written under it
	// until Promote. A rotation already under way is an error.
	Add(ctx context.Context, tenant string) (uint32, error)
	// Promote makes version, made by Add, the one Seal writes under, in
	// this process at once and in every other within Cache.MaxAge. It
	// fails with ErrTooSoon until every process computes lookups under
	// version (State's Ready).
	Promote(ctx context.Context, tenant string, version uint32) error
	// Retire ends a rotation: lookups stop computing the versions below
	// the one writes use, and values sealed under them no longer open.
	// Call it once every row was re-indexed, at or after State's Ready;
	// before, it fails with ErrTooSoon.
	Retire(ctx context.Context, tenant string) error
	// Tenants lists, in order, up to limit tenants after the tenant after
	// ("" starts at the beginning) that have a search root key.
	Tenants(ctx context.Context, after string, limit int) ([]string, error)
}

// ErrTooSoon reports a rotation step taken before every process can have
// seen the previous one; the error says how long to wait.
var ErrTooSoon = errors.New("envelope: search key rotation step too soon")

// Of returns the Steps of an *envelope.Sealer. envelope sets it when it is
// initialised; it panics on anything but an *envelope.Sealer.
var Of func(sealer any) Steps
