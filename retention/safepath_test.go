package retention_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
)

// TestNewRequiresHolds: nil Holds is an error that says what to pass, not a
// quiet in-memory set that forgets legal holds on restart.
func TestNewRequiresHolds(t *testing.T) {
	_, err := retention.New(&retention.Options{LedgerKey: ledgerKey})
	require.ErrorContains(t, err, "Options.Holds is nil")
	require.ErrorContains(t, err, "sqlstore.NewHolds")
	require.ErrorContains(t, err, "retention.NewMemoryHolds()")
}

// TestShredWithoutLedgerFailsFirst: a Manager that may shred a key but has
// no ledger for the shred's entry (no Options.Ledger, whatever ledger the
// stores append to) fails before it changes anything.
func TestShredWithoutLedgerFailsFirst(t *testing.T) {
	type Acct struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt,retain=1y,then=shred"`
	}
	ctx := context.Background()
	for _, op := range []string{"forget", "sweep", "forget, store ledger", "sweep, store ledger"} {
		t.Run(op, func(t *testing.T) {
			sh := &shredder{}
			clock := piitest.NewClock(day(2026, 1, 1))
			m, err := retention.New(&retention.Options{Clock: clock, LedgerKey: ledgerKey, Shredder: sh, Holds: retention.NewMemoryHolds()})
			require.NoError(t, err)
			var storeLedger retention.Ledger
			if strings.HasSuffix(op, "store ledger") {
				storeLedger = retention.NewMemoryLedger()
			}
			st, err := retention.NewMemoryStore(&Acct{}, storeLedger)
			require.NoError(t, err)
			require.NoError(t, st.Put(&Acct{ID: "s1", Email: "ciphertext"}, day(2024, 1, 1)))
			require.NoError(t, m.Register(st))
			if strings.HasPrefix(op, "forget") {
				_, err = m.Forget(ctx, "", "s1")
			} else {
				_, err = m.Sweep(ctx, nil)
			}
			require.ErrorContains(t, err, "no ledger for key-shred entries")
			require.ErrorContains(t, err, "Options.Ledger")
			require.Empty(t, sh.Calls())
			require.Equal(t, "ciphertext", st.Get("", "s1").(*Acct).Email)
		})
	}
}
