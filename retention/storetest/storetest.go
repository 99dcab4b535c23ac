package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fieldguard/pii/retention"
)

// Record is the suite's fixture type. A SQL store maps it to a table with
// the row key (tenant, id), for example:
//
//	CREATE TABLE record (tenant TEXT NOT NULL, id TEXT NOT NULL, subject TEXT NOT NULL,
//		email TEXT, phone TEXT, seen TIMESTAMP, created_at TIMESTAMP NOT NULL,
//		PRIMARY KEY (tenant, id))
type Record struct {
	Tenant  string    `db:"tenant" pii:"tenant"`
	ID      string    `db:"id" pii:"id"`
	Subject string    `db:"subject" pii:"subject"`
	Email   string    `db:"email" pii:"email,retain=30d,then=null"`
	Phone   string    `db:"phone" pii:"phone,retain=90d,from=Seen,then=null"`
	Seen    time.Time `db:"seen"`
	// CreatedAt is the creation time the store keeps; PutFunc is given it
	// too.
	CreatedAt time.Time `db:"created_at"`
}

// PutFunc stores a copy of r, created at created (r.CreatedAt is set to
// it), replacing the record with the same tenant and id.
type PutFunc func(r *Record, created time.Time) error

// Harness builds the stores the suite checks: set the ones you implement.
type Harness struct {
	// NewStore returns an empty Store of [Record] and the function that
	// puts records into it. It is called once per check.
	NewStore func(t *testing.T) (retention.Store, PutFunc)
	// NewHolds returns an empty hold store. When the value also implements
	// retention.PendingShreds (retention.Manager then keeps the pending
	// shreds in it), the pending shred checks run on it too.
	NewHolds func(t *testing.T) retention.Holds
}

// Run runs the checks (see the package documentation) of every store the
// harness builds, one subtest each. It fails when the harness builds none.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewStore == nil && h.NewHolds == nil {
		t.Fatal("storetest: the Harness builds no store: set NewStore or NewHolds")
	}
	if h.NewStore != nil {
		runStores(t, h.NewStore)
	}
	if h.NewHolds != nil {
		runHolds(t, h.NewHolds)
		if _, ok := h.NewHolds(t).(retention.PendingShreds); ok {
			runPending(t, "PendingShreds", func(t *testing.T) retention.PendingShreds {
				return h.NewHolds(t).(retention.PendingShreds)
			})
		}
	}
}

func runStores(t *testing.T, newStore func(t *testing.T) (retention.Store, PutFunc)) {
	t.Helper()
	for _, c := range storeChecks {
		t.Run(c.name, func(t *testing.T) {
			st, put := newStore(t)
			if st == nil || put == nil {
				t.Fatal("storetest: NewStore returned a nil store or PutFunc")
			}
			if err := runStore(t.Context(), c.name, st, put); err != nil {
				t.Error(err)
			}
		})
	}
}

func runHolds(t *testing.T, newHolds func(t *testing.T) retention.Holds) {
	t.Helper()
	for _, c := range holdsChecks {
		t.Run(c.name, func(t *testing.T) {
			h := newHolds(t) // here, not in guard's goroutine, so it may skip or fail
			if h == nil {
				t.Fatal("storetest: NewHolds returned nil")
			}
			if err := guard(func() error { return c.run(t.Context(), h) }); err != nil {
				t.Error(err)
			}
		})
	}
}

func runPending(t *testing.T, name string, newPending func(t *testing.T) retention.PendingShreds) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		p := newPending(t) // here, not in guard's goroutine, so it may skip or fail
		if p == nil {
			t.Fatal("storetest: NewHolds returned nil")
		}
		if err := guard(func() error { return checkPending(t.Context(), p) }); err != nil {
			t.Error(err)
		}
	})
}

type storeCheck struct {
	name string
	run  func(e *env) error
}

var storeChecks = []storeCheck{
	{"ClocksSelectDue", checkClocks},
	{"Paging", checkPaging},
	{"TenantIsolation", checkTenants},
	{"CommitWritesChanges", checkCommit},
	{"CommitClaimedOnly", checkClaimedOnly},
	{"RollbackChangesNothing", checkRollback},
	{"ClaimLocks", checkLocks},
}

type holdsCheck struct {
	name string
	run  func(ctx context.Context, h retention.Holds) error
}

var holdsChecks = []holdsCheck{
	{"HoldsActive", checkHoldsActive},
	{"HoldsReplaceAndDelete", checkHoldsReplace},
}

// runStore runs the named check, for Run and the suite's own tests.
func runStore(ctx context.Context, name string, st retention.Store, put PutFunc) error {
	for _, c := range storeChecks {
		if c.name == name {
			return guard(func() error { return c.run(&env{ctx: ctx, st: st, put: put}) })
		}
	}
	return fmt.Errorf("storetest: no check named %q", name)
}

// guard turns a panic of the store into an error and a store that blocks
// into one too (after a generous while), so that one broken check does not
// hang the suite.
func guard(f func() error) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("storetest: the store panicked: %v", r)
			}
		}()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(watchdog):
		return errors.New("storetest: the check did not finish (a claim blocked: is a rolled-back or committed claim's lock released?)")
	}
}

// watchdog bounds a check; it is not a timing assertion, only a way to
// fail instead of hanging.
const watchdog = 30 * time.Second

// t0 is the suite's "now", on a whole second.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
