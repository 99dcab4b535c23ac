package compat

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/internal/storetest"
)

var _ interface { // what retention.Options.CloseOnForget needs of the Shredder
	CloseSubject(ctx context.Context, tenant, subject string) error
} = (*envelope.Sealer)(nil)

// Test key: never hard-code keys in production.
var ledgerKey = []byte("compat ledger key, 32 bytes.....")

func newSealer(t *testing.T) *envelope.Sealer {
	t.Helper()
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
	require.NoError(t, err)
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	return s
}

var day0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestShredNeverDestroysWhatMustBeKept is issue 11 item 2 end to end with a
// real Sealer, on every store: a then=shred note due at day 31, a tax id
// under min=7y on the same record and an invoice of the same subject (another
// type) under a legal hold, all sealed under the subject's key. The day-31
// sweep erases the note but keeps the key, so the tax id and the invoice
// still open; once the hold is released and min= lapses a sweep shreds the
// key, old values fail with ErrShredded, and a returning customer is
// served. The subject id in another tenant is another person throughout.
func TestShredNeverDestroysWhatMustBeKept(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			env := storetest.Open(t, kind, storetest.CustomerTable, storetest.InvoiceTable)
			sealer := newSealer(t)
			clock := piitest.NewClock(day0)
			m, err := retention.New(&retention.Options{Clock: clock, LedgerKey: ledgerKey, Shredder: sealer,
				Ledger: env.Ledger, Holds: env.Holds})
			require.NoError(t, err)
			require.NoError(t, m.Register(env.Stores...))

			cust := &storetest.Customer{Tenant: "acme", ID: "c-1", Note: "prefers morning calls", TaxID: "DE-123456789", CreatedAt: day0}
			inv := &storetest.Invoice{Tenant: "acme", ID: "inv-1", Customer: "c-1", Amount: "EUR 120.00", CreatedAt: day0}
			// The same subject id in another tenant: another person.
			twin := &storetest.Customer{Tenant: "globex", ID: "c-1", Note: "twin note", TaxID: "FR-987", CreatedAt: day0.AddDate(0, 0, 25)}
			for _, v := range []any{cust, inv, twin} {
				require.NoError(t, sealer.Seal(ctx, v))
			}
			sealedCust, sealedInv, sealedTwin := *cust, *inv, *twin // as a backup would hold them
			env.Put(t, 0, cust, cust.CreatedAt)
			env.Put(t, 0, twin, twin.CreatedAt)
			env.Put(t, 1, inv, inv.CreatedAt)
			_, err = m.Hold(ctx, retention.RecordTarget("acme", "Invoice", "inv-1"), "dispute D-7", time.Time{})
			require.NoError(t, err)
			opens := func(v any) error {
				switch x := v.(type) {
				case storetest.Customer:
					return sealer.Open(ctx, &x)
				case storetest.Invoice:
					return sealer.Open(ctx, &x)
				}
				panic("unknown type")
			}

			// Day 31: the note is due; the key must stay.
			clock.Set(day0.AddDate(0, 0, 31))
			st, err := m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.EqualValues(t, 1, st.ShredsPending)
			require.Zero(t, st.KeysShredded)
			got := env.Get(t, 0, "acme", "c-1").(*storetest.Customer)
			require.Empty(t, got.Note, "the note is erased at field level")
			require.Equal(t, sealedCust.TaxID, got.TaxID)
			require.NoError(t, opens(*got), "the tax id (min=7y) still opens")
			require.NoError(t, opens(*env.Get(t, 1, "acme", "inv-1").(*storetest.Invoice)), "the held invoice still opens")
			require.NoError(t, opens(sealedTwin))
			var pending []retention.Entry
			require.NoError(t, env.Ledger.Scan(ctx, func(e retention.Entry) error {
				if e.Outcome == retention.OutcomePending {
					pending = append(pending, e)
				}
				return nil
			}))
			require.Len(t, pending, 1)
			require.Equal(t, m.Hash(retention.Subject("acme", "c-1")), pending[0].Subject)
			require.Equal(t, "", pending[0].Field)

			// The hold is released: the invoice is erased, the tax id still keeps the key.
			clock.Set(day0.AddDate(0, 0, 40))
			_, err = m.Release(ctx, retention.RecordTarget("acme", "Invoice", "inv-1"))
			require.NoError(t, err)
			require.Empty(t, env.Get(t, 1, "acme", "inv-1").(*storetest.Invoice).Amount)
			require.NoError(t, opens(sealedInv), "still readable: the tax id keeps the key")
			require.NoError(t, opens(sealedCust), "the key is not shredded yet")

			// min=7y lapses: a sweep shreds the key.
			clock.Set(day0.AddDate(7, 0, 1))
			st, err = m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.EqualValues(t, 1, st.KeysShredded)
			require.Empty(t, env.Get(t, 0, "acme", "c-1").(*storetest.Customer).TaxID)
			require.ErrorIs(t, opens(sealedCust), envelope.ErrShredded)
			require.ErrorIs(t, opens(sealedInv), envelope.ErrShredded)
			require.NoError(t, opens(sealedTwin), "globex's c-1 is another person: their tax id keeps their key")
			twinNow := env.Get(t, 0, "globex", "c-1").(*storetest.Customer)
			require.Equal(t, sealedTwin.TaxID, twinNow.TaxID)
			require.Empty(t, twinNow.Note, "their own note fell due and was erased")
			require.NoError(t, opens(*twinNow))

			// A returning customer: new values seal under a new key generation.
			back := &storetest.Customer{Tenant: "acme", ID: "c-1", Note: "back again", TaxID: "DE-123456789", CreatedAt: clock.Now()}
			require.NoError(t, sealer.Seal(ctx, back))
			cp := *back
			require.NoError(t, sealer.Open(ctx, &cp))
			require.Equal(t, "back again", cp.Note)
			require.ErrorIs(t, opens(sealedCust), envelope.ErrShredded, "old values stay shredded")
		})
	}
}

// TestForgetClosesOnlyWhenAsked: by default an erasure request shreds like a
// retention shred (a returning customer's new values seal); with
// CloseOnForget the subject is closed and new values are refused.
func TestForgetClosesOnlyWhenAsked(t *testing.T) {
	for _, close := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "CloseOnForget"}[close], func(t *testing.T) {
			ctx := context.Background()
			env := storetest.Open(t, storetest.Memory, storetest.CustomerTable)
			sealer := newSealer(t)
			m, err := retention.New(&retention.Options{Clock: piitest.NewClock(day0), LedgerKey: ledgerKey, Shredder: sealer,
				Ledger: env.Ledger, Holds: env.Holds, CloseOnForget: close})
			require.NoError(t, err)
			require.NoError(t, m.Register(env.Stores...))
			c := &storetest.Customer{Tenant: "acme", ID: "c-1", Note: "n", CreatedAt: day0.AddDate(-8, 0, 0)}
			require.NoError(t, sealer.Seal(ctx, c))
			old := *c
			env.Put(t, 0, c, c.CreatedAt)
			rep, err := m.Forget(ctx, "acme", "c-1")
			require.NoError(t, err)
			require.True(t, rep.KeyShredded)
			require.ErrorIs(t, sealer.Open(ctx, &old), envelope.ErrShredded)
			back := &storetest.Customer{Tenant: "acme", ID: "c-1", Note: "back"}
			err = sealer.Seal(ctx, back)
			if close {
				require.ErrorIs(t, err, envelope.ErrShredded, "a closed subject takes no new values")
			} else {
				require.NoError(t, err, "a returning customer is served")
			}
		})
	}
}
