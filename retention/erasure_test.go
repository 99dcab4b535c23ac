package retention_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/storetest"
)

// TestHoldPlacedDuringSweepIsHonoured: a hold placed while a sweep runs
// (here from its Progress callback, after the first batch) is honoured from
// the next batch on.
func TestHoldPlacedDuringSweepIsHonoured(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, day(2026, 2, 1), nil)
	for i := 0; i < 6; i++ {
		require.NoError(t, e.store.Put(member(fmt.Sprintf("m%d", i), created, lastSeen), created))
	}
	batches := 0
	st, err := e.m.Sweep(ctx, &retention.SweepOptions{BatchSize: 2, Progress: func(retention.Progress) {
		batches++
		if batches == 1 {
			_, err := e.m.Hold(ctx, retention.Subject("acme", "m4"), "late hold", time.Time{})
			require.NoError(t, err)
			_, err = e.m.Hold(ctx, retention.RecordTarget("acme", "Member", "m5"), "late record hold", time.Time{})
			require.NoError(t, err)
		}
	}})
	require.NoError(t, err)
	require.Equal(t, 3, batches)
	require.EqualValues(t, 10, st.Held)
	for i, swept := range []bool{true, true, true, true, false, false} {
		id := fmt.Sprintf("m%d", i)
		require.Equal(t, !swept, e.store.Get("acme", id).(*Member).Email != "", id)
	}
	require.NotContains(t, e.shred.Calls(), "acme/m4")
	require.NotContains(t, e.shred.Calls(), "acme/m5")
}

// Order has many records per subject, so that an erasure request spans
// batches.
type Order struct {
	ID      int    `pii:"id"`
	Tenant  string `pii:"tenant"`
	Subject string `pii:"subject"`
	Address string `pii:"address,encrypt"`
}

// holdingStore places a hold when its claim number n is taken.
type holdingStore struct {
	*retention.MemoryStore
	n     int32
	calls atomic.Int32
	place func()
}

func (h *holdingStore) Claim(ctx context.Context, q retention.Query) (retention.Claim, error) {
	if h.calls.Add(1) == h.n {
		h.place()
	}
	return h.MemoryStore.Claim(ctx, q)
}

// TestHoldPlacedDuringForgetIsHonoured: Forget reads the holds for every
// batch, so a hold placed while it runs keeps the records of later batches
// (and the key, which stays pending).
func TestHoldPlacedDuringForgetIsHonoured(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2026, 1, 1)), LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger})
	require.NoError(t, err)
	ms, err := retention.NewMemoryStore(&Order{}, ledger)
	require.NoError(t, err)
	const n = 700 // Forget claims 500 records at a time
	// The hold is placed while the first batch is claimed, after Forget
	// read the holds for it; it covers a record of the second batch.
	store := &holdingStore{MemoryStore: ms, n: 1, place: func() {
		_, err := m.Hold(ctx, retention.RecordTarget("acme", "Order", "99"), "late hold", time.Time{})
		require.NoError(t, err)
	}}
	require.NoError(t, m.Register(store))
	for i := 0; i < n; i++ {
		require.NoError(t, ms.Put(&Order{ID: i, Tenant: "acme", Subject: "s-1", Address: fmt.Sprintf("sealed-%d", i)}, created))
	}
	rep, err := m.Forget(ctx, "acme", "s-1")
	require.NoError(t, err)
	require.Equal(t, n-1, rep.Applied)
	require.Equal(t, 1, rep.Kept)
	require.True(t, rep.ShredPending)
	require.Empty(t, sh.Calls(), "the held order's address is sealed under the key")
	require.Equal(t, "sealed-99", ms.Get("acme", "99").(*Order).Address, "the last record in key order")
	require.Empty(t, ms.Get("acme", "699").(*Order).Address)
}

// TestOverrideCannotLowerMin: an override may raise min=, never lower it,
// in evaluations, sweeps and erasure requests.
func TestOverrideCannotLowerMin(t *testing.T) {
	ctx := context.Background()
	pol := &retention.Policies{}
	// Invoice is tagged retain=2y,min=1y (from creation, 2024-01-01).
	require.NoError(t, pol.Set(retention.Scope{Tenant: "acme"}, "Member", "Invoice", retention.Policy{Retain: mustDur("60d"), Min: mustDur("30d")}))
	require.NoError(t, pol.Set(retention.Scope{Purpose: "billing"}, "", "", retention.Policy{Min: mustDur("10d")}))
	now := day(2024, 6, 1)
	e := newEnv(t, now, pol)
	rec := member("a", created, lastSeen)
	items, err := e.m.Due(now, rec)
	require.NoError(t, err)
	var inv *retention.Item
	for i := range items {
		if items[i].Path == "Invoice" {
			inv = &items[i]
		}
	}
	require.NotNil(t, inv, "the shorter retain= applies")
	require.Equal(t, retention.Deferred, inv.State, "but the tag's min=1y still keeps it")
	require.Equal(t, day(2025, 1, 1), inv.At)
	require.Contains(t, inv.Reason, "min=P1Y")
	require.Equal(t, mustDur("1y"), inv.Policy.Min)

	require.NoError(t, e.store.Put(rec, created))
	st, err := e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Deferred)
	require.Equal(t, "Invoice a", e.store.Get("acme", "a").(*Member).Invoice)

	rep, err := e.m.Forget(ctx, "acme", "a")
	require.NoError(t, err)
	require.Equal(t, "Invoice a", e.store.Get("acme", "a").(*Member).Invoice, "an erasure request honours the tag's min= too")
	for _, x := range rep.Entries {
		if x.Field == "Invoice" {
			require.Equal(t, retention.OutcomeDeferred, x.Outcome)
			require.Contains(t, x.Reason, "min=P1Y keeps it until 2025-01-01")
		}
	}

	// Raising works: a 3y override defers past the tag's 1y.
	pol2 := &retention.Policies{}
	require.NoError(t, pol2.Set(retention.Scope{}, "Member", "Invoice", retention.Policy{Min: mustDur("3y")}))
	require.NoError(t, pol2.Set(retention.Scope{Tenant: "acme"}, "Member", "Invoice", retention.Policy{Min: mustDur("2y")}))
	e2 := newEnv(t, day(2026, 2, 1), pol2)
	items, err = e2.m.Due(day(2026, 2, 1), member("a", created, lastSeen))
	require.NoError(t, err)
	for _, it := range items {
		if it.Path == "Invoice" {
			require.Equal(t, retention.Deferred, it.State, "the more specific 2y override does not lower the 3y one")
			require.Equal(t, day(2027, 1, 1), it.At)
		}
	}
}

// TestPendingShredIsSealed: a pending shred keeps (tenant, subject) only
// sealed under a key derived from the ledger key, bound to its id and
// kind; a row moved to another id or kind does not open.
func TestPendingShredIsSealed(t *testing.T) {
	ctx := context.Background()
	holds := retention.NewMemoryHolds()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	m, err := retention.New(&retention.Options{Clock: piitest.NewClock(day(2026, 1, 1)), LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger, Holds: holds})
	require.NoError(t, err)
	ms, err := retention.NewMemoryStore(&Order{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(ms))
	require.NoError(t, ms.Put(&Order{ID: 1, Tenant: "tenant-zeta", Subject: "subject-omega", Address: "sealed"}, created))
	_, err = m.Hold(ctx, retention.Subject("tenant-zeta", "subject-omega"), "case", time.Time{})
	require.NoError(t, err)
	rep, err := m.Forget(ctx, "tenant-zeta", "subject-omega")
	require.NoError(t, err)
	require.True(t, rep.ShredPending)

	// A second subject's pending shred: a fresh nonce.
	require.NoError(t, ms.Put(&Order{ID: 2, Tenant: "tenant-zeta", Subject: "subject-psi", Address: "sealed"}, created))
	_, err = m.Hold(ctx, retention.Subject("tenant-zeta", "subject-psi"), "case", time.Time{})
	require.NoError(t, err)
	_, err = m.Forget(ctx, "tenant-zeta", "subject-psi")
	require.NoError(t, err)
	ps, err := holds.(retention.PendingShreds).Pending(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.NotEqual(t, ps[0].Sealed[:12], ps[1].Sealed[:12], "nonces differ")
	p := ps[0]
	if p.ID != m.Hash(retention.Subject("tenant-zeta", "subject-omega")) {
		p = ps[1]
	}
	require.Equal(t, m.Hash(retention.Subject("tenant-zeta", "subject-omega")), p.ID)
	require.Equal(t, retention.PendingErasureForTest, p.Kind)
	require.False(t, bytes.Contains(p.Sealed, []byte("subject-omega")))
	require.False(t, bytes.Contains(p.Sealed, []byte("tenant-zeta")))

	for _, tc := range []struct {
		name   string
		tamper func(retention.PendingShred) retention.PendingShred
	}{
		{"another id", func(x retention.PendingShred) retention.PendingShred {
			x.ID = m.Hash(retention.Subject("tenant-zeta", "other"))
			return x
		}},
		{"another kind", func(x retention.PendingShred) retention.PendingShred {
			x.Kind = retention.PendingCloseForTest
			return x
		}},
		{"a flipped bit", func(x retention.PendingShred) retention.PendingShred {
			x.Sealed = bytes.Clone(x.Sealed)
			x.Sealed[len(x.Sealed)-20] ^= 1
			x.Kind = retention.PendingCloseForTest
			return x
		}},
		{"truncated", func(x retention.PendingShred) retention.PendingShred {
			x.Sealed, x.Kind = x.Sealed[:10], retention.PendingCloseForTest
			return x
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.tamper(p)
			require.NoError(t, holds.(retention.PendingShreds).PutPending(ctx, bad))
			_, err := m.Sweep(ctx, nil)
			require.ErrorContains(t, err, "pending shred does not open")
			require.NotContains(t, err.Error(), "subject-omega")
			require.NoError(t, holds.(retention.PendingShreds).DeletePending(ctx, bad.ID, retention.PendingCloseForTest))
			require.NoError(t, holds.(retention.PendingShreds).PutPending(ctx, p))
		})
	}
	// Another Manager with another ledger key cannot open it either.
	other, err := retention.New(&retention.Options{LedgerKey: []byte("another ledger key, 32 bytes...."), Shredder: sh, Holds: holds, Ledger: retention.NewMemoryLedger()})
	require.NoError(t, err)
	_, err = other.Sweep(ctx, nil)
	require.ErrorContains(t, err, "pending shred does not open")

	// The untouched row completes once the hold is released.
	_, err = m.Release(ctx, retention.Subject("tenant-zeta", "subject-omega"))
	require.NoError(t, err)
	require.Equal(t, []string{"tenant-zeta/subject-omega"}, sh.Calls())
	ps, err = holds.(retention.PendingShreds).Pending(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, ps, 1, "the row is deleted once the shred is done")
	require.Equal(t, m.Hash(retention.Subject("tenant-zeta", "subject-psi")), ps[0].ID)
}

// TestNewRefusesUnsupportedOptions: CloseOnForget needs a CloseSubject method,
// and a Shredder needs somewhere to keep pending shreds.
func TestNewRefusesUnsupportedOptions(t *testing.T) {
	_, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: ledgerKey, Shredder: &shredder{}, CloseOnForget: true})
	require.ErrorContains(t, err, "CloseOnForget needs a Shredder with a CloseSubject method")
	_, err = retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: ledgerKey, CloseOnForget: true})
	require.Error(t, err)
	_, err = retention.New(&retention.Options{LedgerKey: ledgerKey, Shredder: &shredder{}, Holds: holdsOnly{}})
	require.ErrorContains(t, err, "keeps no pending shreds")
	_, err = retention.New(&retention.Options{LedgerKey: ledgerKey, Tokens: tokenDeleter{}, Holds: holdsOnly{}})
	require.ErrorContains(t, err, "keeps no pending shreds")
	_, err = retention.New(&retention.Options{LedgerKey: ledgerKey, Holds: holdsOnly{}})
	require.NoError(t, err, "without a Shredder or Tokens nothing waits for a shred")
}

type holdsOnly struct{}

type tokenDeleter struct{}

func (tokenDeleter) DeleteSubject(context.Context, string, string) (int64, error) { return 0, nil }

func (holdsOnly) Put(context.Context, retention.Hold) error                   { return nil }
func (holdsOnly) Delete(context.Context, string) error                        { return nil }
func (holdsOnly) Active(context.Context, time.Time) ([]retention.Hold, error) { return nil, nil }

// failingShredder fails its first n calls.
type failingShredder struct {
	shredder
	fail int
}

func (f *failingShredder) ForgetSubject(ctx context.Context, tenant, subject string) error {
	if f.fail > 0 {
		f.fail--
		return fmt.Errorf("kms unavailable")
	}
	return f.shredder.ForgetSubject(ctx, tenant, subject)
}

// TestShredSurvivesFailureAfterCommit: a key shred is recorded as pending
// before the erasure that asks for it commits, so when shredding fails
// after the commit (or the process dies there) the next sweep, or the
// next sweep after an erasure request, still shreds the key.
func TestShredSurvivesFailureAfterCommit(t *testing.T) {
	ctx := context.Background()
	for _, viaForget := range []bool{false, true} {
		t.Run(map[bool]string{false: "sweep", true: "forget"}[viaForget], func(t *testing.T) {
			ledger := retention.NewMemoryLedger()
			sh := &failingShredder{fail: 1}
			m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2026, 2, 1)), LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
				Shredder: sh, Ledger: ledger})
			require.NoError(t, err)
			store, err := retention.NewMemoryStore(&Member{}, ledger)
			require.NoError(t, err)
			require.NoError(t, m.Register(store))
			require.NoError(t, store.Put(member("a", created, lastSeen), created))
			if viaForget {
				_, err = m.Forget(ctx, "acme", "a")
			} else {
				_, err = m.Sweep(ctx, nil)
			}
			require.ErrorContains(t, err, "kms unavailable")
			require.Empty(t, store.Get("acme", "a").(*Member).Secret, "the field erasure committed")
			require.Empty(t, sh.Calls())
			st, err := m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.EqualValues(t, 1, st.KeysShredded)
			require.Equal(t, []string{"acme/a"}, sh.Calls())
		})
	}
}

// Ticket has a stored token: deleting the subject's tokens would destroy it.
type Ticket struct {
	ID      string `pii:"id"`
	Subject string `pii:"subject"`
	Phone   string `pii:"phone,token=stored"`
	Email   string `pii:"email,encrypt,retain=30d,then=shred"`
}

// TestStoredTokensKeepTheKey: a kept stored token counts like a sealed
// value: the subject's tokens are not deleted while it must be kept.
func TestStoredTokensKeepTheKey(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2026, 2, 1)), LedgerKey: ledgerKey, Shredder: sh, Tokens: sh, Ledger: ledger})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Ticket{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	require.NoError(t, store.Put(&Ticket{ID: "t-1", Subject: "s", Phone: "+44 20 7946 0000", Email: "sealed"}, day(2025, 1, 1)))
	st, err := m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.ShredsPending, "the phone token has no retention: it is kept")
	require.Empty(t, sh.Calls())
	got := store.Get("", "t-1").(*Ticket)
	require.Empty(t, got.Email)
	require.NotEmpty(t, got.Phone)
}

// TestPendingShredStoreKinds: kinds only rise, and a deletion at a lower
// kind leaves a higher one in place (an erasure request survives the
// completion of a sweep's shred).
func TestPendingShredStoreKinds(t *testing.T) {
	storetest.Run(t, storetest.Harness{NewHolds: func(*testing.T) retention.Holds { return retention.NewMemoryHolds() }})
}

// TestClaimWritesOnlyClaimedRecords: a claim's commit refuses a change to a
// record it did not select (another tenant's record with the same id).
func TestClaimWritesOnlyClaimedRecords(t *testing.T) {
	ctx := context.Background()
	store, err := retention.NewMemoryStore(&Member{}, nil)
	require.NoError(t, err)
	a, b := member("x", created, lastSeen), member("x", created, lastSeen)
	b.Tenant = "globex"
	require.NoError(t, store.Put(a, created))
	require.NoError(t, store.Put(b, created))
	cl, err := store.Claim(ctx, retention.Query{Tenant: "acme", Record: "x"})
	require.NoError(t, err)
	require.Len(t, cl.Records(), 1)
	err = cl.Commit(ctx, []retention.Change{{Tenant: "globex", Key: "x", Delete: true}}, nil)
	require.ErrorContains(t, err, "did not select")
	require.Equal(t, 2, storeLen(t, store))
}

// TestKeyEntriesGoToTheLedger: key shred entries go to Options.Ledger,
// after the entries the store appended to the same ledger.
func TestKeyEntriesGoToTheLedger(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2026, 2, 1)), LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Ticket{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	require.NoError(t, store.Put(&Ticket{ID: "t-1", Subject: "s", Email: "sealed"}, day(2025, 1, 1)))
	_, err = m.Sweep(ctx, nil)
	require.NoError(t, err)
	es := entries(t, ledger)
	require.Len(t, es, 2)
	require.Equal(t, "", es[1].Field)
	require.Equal(t, retention.OutcomeApplied, es[1].Outcome)
	require.Equal(t, []string{"/s"}, sh.Calls())
}

// Account2 has a sealed field that min= (raised by an override) keeps
// after its retention: due but deferred.
type Account2 struct {
	ID    string `pii:"subject"`
	Note  string `pii:"name,encrypt,retain=30d,then=shred"`
	TaxID string `pii:"national_id,encrypt,retain=30d,then=null"`
}

// TestSweepShredWaitsForDeferredValue: a value kept by min= (deferred)
// keeps the key, like one within its period.
func TestSweepShredWaitsForDeferredValue(t *testing.T) {
	ctx := context.Background()
	pol := &retention.Policies{}
	require.NoError(t, pol.Set(retention.Scope{}, "Account2", "TaxID", retention.Policy{Min: mustDur("1y")}))
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	clock := piitest.NewClock(day(2026, 2, 15))
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: clock, LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger, Policies: pol})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Account2{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	require.NoError(t, store.Put(&Account2{ID: "a", Note: "sealed-note", TaxID: "sealed-tax"}, day(2026, 1, 1)))
	st, err := m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Deferred)
	require.EqualValues(t, 1, st.ShredsPending)
	require.Empty(t, sh.Calls())
	es := entries(t, ledger)
	require.Contains(t, es[len(es)-1].Reason, "Account2.TaxID: min=P1Y")

	clock.Set(day(2027, 1, 2))
	st, err = m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.KeysShredded)
	require.Equal(t, []string{"/a"}, sh.Calls())
}

// TestLedgerHashFrozen freezes the ledger hash format: Replay and audits
// must find entries written by earlier versions. The vectors were computed
// apart from this code (Python's hmac): the first 16 bytes, in hex, of
// HMAC-SHA256(key, for each of kind and the parts: 8-byte big-endian
// length, then the bytes).
func TestLedgerHashFrozen(t *testing.T) {
	// Test key: never hard-code keys in production.
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: []byte("frozen ledger key, never use it!")})
	require.NoError(t, err)
	require.Equal(t, "c126e5f9261385187f91402607830d09", m.Hash(retention.Subject("acme", "c-42")))
	require.Equal(t, "c0c0c456a430ecc26f92754312faf55e", m.Hash(retention.RecordTarget("acme", "Customer", "c-42")))
}

// TestReplayDoesNotShredPendingKeys: a field shredded at field level while
// the key stays pending is not a key shred: replaying it erases the field
// again but leaves the key, which still protects kept values.
func TestReplayDoesNotShredPendingKeys(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	pol := &retention.Policies{}
	require.NoError(t, pol.Set(retention.Scope{}, "Account2", "TaxID", retention.Policy{Min: mustDur("1y")}))
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2026, 2, 15)), LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger, Policies: pol})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Account2{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	// Note is due; min= keeps TaxID for a year.
	rec := &Account2{ID: "a", Note: "sealed-note", TaxID: "sealed-tax"}
	require.NoError(t, store.Put(rec, day(2026, 1, 10)))
	st, err := m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, st.KeysShredded)
	require.EqualValues(t, 1, st.ShredsPending)

	restored, err := retention.NewMemoryStore(&Account2{}, ledger)
	require.NoError(t, err)
	require.NoError(t, restored.Put(rec, day(2026, 1, 10)))
	st, err = m.Replay(ctx, ledger, restored)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Applied)
	require.Empty(t, restored.Get("", "a").(*Account2).Note)
	require.Empty(t, sh.Calls(), "the key is still pending: not shredded by the replay")
}

// TestHeldValueKeepsTheKey: a sealed value under a legal hold keeps the
// subject's key, even when its own retention has ended; releasing the hold
// completes the shred.
func TestHeldValueKeepsTheKey(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2026, 2, 1)), LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Ticket{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	for _, id := range []string{"t-1", "t-2"} {
		require.NoError(t, store.Put(&Ticket{ID: id, Subject: "s", Email: "sealed-" + id}, day(2025, 1, 1)))
	}
	_, err = m.Hold(ctx, retention.RecordTarget("", "Ticket", "t-2"), "audit", time.Time{})
	require.NoError(t, err)
	st, err := m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.ShredsPending)
	require.Empty(t, sh.Calls())
	require.Empty(t, store.Get("", "t-1").(*Ticket).Email)
	require.Equal(t, "sealed-t-2", store.Get("", "t-2").(*Ticket).Email)
	es := entries(t, ledger)
	require.Contains(t, es[len(es)-1].Reason, "Ticket.Email: legal hold")

	st, err = m.Release(ctx, retention.RecordTarget("", "Ticket", "t-2"))
	require.NoError(t, err)
	require.EqualValues(t, 1, st.KeysShredded)
	require.Equal(t, []string{"/s"}, sh.Calls())
	require.Empty(t, store.Get("", "t-2").(*Ticket).Email)
}

// TestRunShredsEachKeyOnce: a run that completes a pending shred and then
// erases the due field that asked for it shreds the key once and leaves
// no pending shred behind.
func TestRunShredsEachKeyOnce(t *testing.T) {
	ctx := context.Background()
	holds := retention.NewMemoryHolds()
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	clock := piitest.NewClock(day(2026, 2, 1))
	m, err := retention.New(&retention.Options{Clock: clock, LedgerKey: ledgerKey, Shredder: sh, Ledger: ledger, Holds: holds})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Ticket{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	require.NoError(t, store.Put(&Ticket{ID: "t-1", Subject: "s", Email: "sealed-1"}, day(2025, 12, 15)))
	require.NoError(t, store.Put(&Ticket{ID: "t-2", Subject: "s", Email: "sealed-2"}, day(2026, 1, 10)))
	_, err = m.Sweep(ctx, nil) // t-1 due, t-2 keeps the key
	require.NoError(t, err)
	require.Empty(t, sh.Calls())
	clock.Set(day(2026, 2, 20)) // t-2 due: the pending shred completes first, then t-2 is erased
	st, err := m.Sweep(ctx, &retention.SweepOptions{BatchSize: 1})
	require.NoError(t, err)
	require.EqualValues(t, 1, st.KeysShredded)
	require.Equal(t, []string{"/s"}, sh.Calls())
	ps, err := holds.(retention.PendingShreds).Pending(ctx, "", 10)
	require.NoError(t, err)
	require.Empty(t, ps)
	st, err = m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, st.KeysShredded)
	require.Len(t, sh.Calls(), 1)
}
