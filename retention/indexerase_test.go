package retention_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/retention"
)

type indexed struct {
	ID       string `pii:"subject"`
	Email    string `pii:"email,encrypt,index=EmailIdx,mask=email"`
	EmailIdx string `pii:"-"`
	Note     string `pii:"free_text,encrypt,index=NoteIdx,retain=30d,then=redact"`
	NoteIdx  string `pii:"-"`
}

// An erased value takes its blind index with it, whatever the action: an
// index left behind would still answer lookups for the erased value.
func TestErasureClearsBlindIndexes(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: ledgerKey, Ledger: ledger})
	require.NoError(t, err)
	st, err := retention.NewMemoryStore(&indexed{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(st))
	require.NoError(t, st.Put(&indexed{ID: "u1", Email: "pii1.x", EmailIdx: "i1", Note: "pii1.y", NoteIdx: "i2"}, created))
	require.NoError(t, st.Put(&indexed{ID: "u2", Email: "pii1.z", EmailIdx: "i3"}, created))

	rep, err := m.Forget(ctx, "", "u1")
	require.NoError(t, err)
	require.Equal(t, 2, rep.Applied)
	got := st.Get("", "u1").(*indexed)
	require.Equal(t, indexed{ID: "u1", Note: "[REDACTED]"}, *got, "null and redact clear the index too")
	require.Equal(t, "i3", st.Get("", "u2").(*indexed).EmailIdx, "another subject's index stays")
}

type minEmpty struct {
	ID      string `pii:"subject"`
	Note    string `pii:"free_text,retain=10y,min=6y,then=null"`
	Comment string `pii:"free_text"`
}

// A field that holds nothing is neither erased nor kept: an erasure
// request reports only fields that hold a value.
func TestForgetSkipsEmptyFields(t *testing.T) {
	ctx := context.Background()
	ledger := retention.NewMemoryLedger()
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: ledgerKey, Ledger: ledger})
	require.NoError(t, err)
	st, err := retention.NewMemoryStore(&minEmpty{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(st))
	require.NoError(t, st.Put(&minEmpty{ID: "u1", Comment: "hi"}, created))
	rep, err := m.Forget(ctx, "", "u1")
	require.NoError(t, err)
	require.Equal(t, 1, rep.Applied)
	require.Equal(t, 0, rep.Kept, "an empty min= field keeps nothing")
	require.Len(t, rep.Entries, 1)
	require.Equal(t, "Comment", rep.Entries[0].Field)
}
