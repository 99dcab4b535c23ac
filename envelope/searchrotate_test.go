package envelope_test

import (
	"context"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/searchkeys"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

// rotationSealers returns n Sealers (processes) sharing one key store and
// one fake clock, with a one-minute Cache.MaxAge.
func rotationSealers(t *testing.T, n int) ([]*envelope.Sealer, envelope.KeyStore, *piitest.Clock) {
	kp := newKP()
	store := envelope.NewMemoryStore()
	clk := piitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var out []*envelope.Sealer
	for range n {
		s, err := envelope.New(kp, &envelope.Options{Store: store, Clock: clk, Cache: envelope.CacheLimits{MaxAge: time.Minute}})
		require.NoError(t, err)
		out = append(out, s)
	}
	return out, store, clk
}

// settle is how long a rotation step waits: MaxAge plus the skew margin.
const settle = time.Minute + 30*time.Second

func TestSearchKeyRotationSteps(t *testing.T) {
	ctx := context.Background()
	ss, _, clk := rotationSealers(t, 1)
	s := ss[0]
	_, err := searchkeys.Of(s).Add(ctx, "acme")
	require.ErrorContains(t, err, "no search key yet")

	old := patron("p-1", "alice@example.com")
	require.NoError(t, s.Seal(ctx, old))
	st, err := searchkeys.Of(s).State(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, searchkeys.State{Write: 1, Lookup: []uint32{1}}, st)

	v, err := searchkeys.Of(s).Add(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, uint32(2), v)
	_, err = searchkeys.Of(s).Add(ctx, "acme")
	require.ErrorContains(t, err, "promote it")
	st, err = searchkeys.Of(s).State(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, uint32(1), st.Write)
	require.Equal(t, []uint32{2, 1}, st.Lookup)
	require.Equal(t, uint32(2), st.Pending)
	require.Equal(t, clk.Now().Add(settle), st.Ready)

	// Added: lookups compute both; writes stay on version 1.
	ix, err := s.BlindIndexes(ctx, "acme", Patron{}, "Email", "ALICE@example.com")
	require.NoError(t, err)
	require.Len(t, ix, 2)
	require.Equal(t, old.EmailIdx, ix[1])
	mid := patron("p-2", "bob@example.com")
	require.NoError(t, s.Seal(ctx, mid))
	bob, err := s.BlindIndexes(ctx, "acme", Patron{}, "Email", "bob@example.com")
	require.NoError(t, err)
	require.Equal(t, mid.EmailIdx, bob[1], "nothing is written under an added version")

	require.ErrorIs(t, searchkeys.Of(s).Promote(ctx, "acme", 2), searchkeys.ErrTooSoon)
	require.ErrorContains(t, searchkeys.Of(s).Promote(ctx, "acme", 3), "not the added version")
	clk.Add(settle)
	require.NoError(t, searchkeys.Of(s).Promote(ctx, "acme", 2))
	require.NoError(t, searchkeys.Of(s).Promote(ctx, "acme", 2), "promoting twice is a no-op")

	// Promoted: writes use version 2; version 1 rows are still found.
	late := patron("p-3", "carol@example.com")
	require.NoError(t, s.Seal(ctx, late))
	carol, err := s.BlindIndexes(ctx, "acme", Patron{}, "Email", "carol@example.com")
	require.NoError(t, err)
	require.Equal(t, late.EmailIdx, carol[0])
	ix, err = s.BlindIndexes(ctx, "acme", Patron{}, "Email", "alice@example.com")
	require.NoError(t, err)
	require.Contains(t, ix, old.EmailIdx)
	dets, err := s.DeterministicLookups(ctx, "acme", Patron{}, "Login", "ALICE@EXAMPLE.COM")
	require.NoError(t, err)
	require.Equal(t, old.Login, dets[1])
	one, err := s.LookupDeterministic(ctx, "acme", Patron{}, "Login", "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, dets[0], one, "LookupDeterministic is what writes use")

	// Re-index: sealing again moves indexes and deterministic values to
	// version 2 (without opening first).
	moved := *old
	require.NoError(t, s.Seal(ctx, &moved))
	require.Equal(t, ix[0], moved.EmailIdx)
	require.Equal(t, dets[0], moved.Login)
	require.NotEqual(t, old.Login, moved.Login)
	require.Equal(t, old.Email, moved.Email, "random ciphertexts are left as they are")

	require.ErrorIs(t, searchkeys.Of(s).Retire(ctx, "acme"), searchkeys.ErrTooSoon)
	clk.Add(settle)
	require.NoError(t, searchkeys.Of(s).Retire(ctx, "acme"))
	require.NoError(t, searchkeys.Of(s).Retire(ctx, "acme"), "retiring twice is a no-op")
	st, err = searchkeys.Of(s).State(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, searchkeys.State{Write: 2, Lookup: []uint32{2}}, st)
	ix, err = s.BlindIndexes(ctx, "acme", Patron{}, "Email", "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, []string{moved.EmailIdx}, ix)

	// A retired version's values no longer open; moved ones do.
	stale := *old
	require.ErrorIs(t, s.Open(ctx, &stale), envelope.ErrDecrypt)
	require.NoError(t, s.Open(ctx, &moved))
	require.Equal(t, "alice@example.com", moved.Login)

	// The next rotation starts from version 2.
	v, err = searchkeys.Of(s).Add(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, uint32(3), v)
}

// TestSearchKeyRotationProcesses: another process sees each step within
// Cache.MaxAge, and no step may be taken before it can have.
func TestSearchKeyRotationProcesses(t *testing.T) {
	ctx := context.Background()
	ss, _, clk := rotationSealers(t, 2)
	a, b := ss[0], ss[1]
	p := patron("p-1", "alice@example.com")
	require.NoError(t, a.Seal(ctx, p))
	ix, err := b.BlindIndexes(ctx, "acme", Patron{}, "Email", "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, []string{p.EmailIdx}, ix) // b has read the versions

	_, err = searchkeys.Of(a).Add(ctx, "acme")
	require.NoError(t, err)
	ix, err = b.BlindIndexes(ctx, "acme", Patron{}, "Email", "alice@example.com")
	require.NoError(t, err)
	require.Len(t, ix, 1, "b still uses what it read")
	clk.Add(time.Minute)
	ix, err = b.BlindIndexes(ctx, "acme", Patron{}, "Email", "alice@example.com")
	require.NoError(t, err)
	require.Len(t, ix, 2, "b sees the added version within MaxAge")

	clk.Add(settle - time.Minute)
	require.NoError(t, searchkeys.Of(a).Promote(ctx, "acme", 2))
	q := patron("p-2", "bob@example.com")
	require.NoError(t, b.Seal(ctx, q))
	bix, err := a.BlindIndexes(ctx, "acme", Patron{}, "Email", "bob@example.com")
	require.NoError(t, err)
	require.Equal(t, bix[1], q.EmailIdx, "b writes under version 1 until it refreshes")
	clk.Add(time.Minute)
	q2 := patron("p-3", "carol@example.com")
	require.NoError(t, b.Seal(ctx, q2))
	cix, err := a.BlindIndexes(ctx, "acme", Patron{}, "Email", "carol@example.com")
	require.NoError(t, err)
	require.Equal(t, cix[0], q2.EmailIdx, "then under version 2")
}

// lyingStore returns a promotion or retirement the rotation never made.
func TestSearchKeyStateChecked(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		recs []envelope.KeyRef
	}{
		{"promoted beyond the newest", []envelope.KeyRef{{Kind: envelope.KindSearchState, Tenant: "acme", Scope: "promoted", ID: 5}}},
		{"writes retired", []envelope.KeyRef{{Kind: envelope.KindSearchState, Tenant: "acme", Scope: "retired", ID: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, store, _ := rotationSealers(t, 1)
			require.NoError(t, ss[0].Seal(ctx, patron("p-1", "a@example.com")))
			for _, r := range tc.recs {
				_, _, err := store.Insert(ctx, envelope.Record{KeyRef: r, Wrapped: []byte{}})
				require.NoError(t, err)
			}
			fresh, err := envelope.New(newKP(), &envelope.Options{Store: store})
			require.NoError(t, err)
			_, err = fresh.BlindIndexes(ctx, "acme", Patron{}, "Email", "a@example.com")
			require.ErrorIs(t, err, envelope.ErrDecrypt)
			_, err = searchkeys.Of(fresh).State(ctx, "acme")
			require.ErrorIs(t, err, envelope.ErrDecrypt)
		})
	}
}

func TestSearchKeyRotationRewrapAndTenants(t *testing.T) {
	ctx := context.Background()
	ss, _, _ := rotationSealers(t, 1)
	s := ss[0]
	for _, tenant := range []string{"acme", "beta", "corp"} {
		p := patron("p-1", "a@example.com")
		p.Tenant = tenant
		require.NoError(t, s.Seal(ctx, p))
	}
	_, err := searchkeys.Of(s).Add(ctx, "beta")
	require.NoError(t, err)
	tenants, err := searchkeys.Of(s).Tenants(ctx, "", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"acme", "beta"}, tenants)
	tenants, err = searchkeys.Of(s).Tenants(ctx, "beta", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"corp"}, tenants)

	// Version 2 is wrapped with its own id in the associated data: a
	// rewrap unwraps it.
	p, err := s.RewrapBranchKeys(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)
	require.Equal(t, 3+4, p.Scanned) // three branch keys, four search roots
}
