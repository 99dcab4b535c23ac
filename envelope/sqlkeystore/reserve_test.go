package sqlkeystore_test

import (
	"fmt"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/stretchr/testify/require"
)

// TestReserveOutsideTransaction: on PostgreSQL a reservation made under
// the caller's transaction commits at once, so a rollback does not hand
// its block out again; a DEK the transaction inserted is not visible to
// it (ErrNotFound). SQLite joins the transaction (documented).
func TestReserveOutsideTransaction(t *testing.T) {
	ctx := t.Context()
	ref := envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:alice", ID: 1}
	t.Run("postgres", func(t *testing.T) {
		db, st := newPostgres(t, "r16_reserve_keys")
		_, _, err := st.Insert(ctx, envelope.Record{KeyRef: ref, Wrapped: []byte("w"), Used: 10})
		require.NoError(t, err)
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		used, err := st.Reserve(pii.WithExecutor(ctx, tx), ref, 5, 100)
		require.NoError(t, err)
		require.Equal(t, uint64(15), used)
		fresh := ref
		fresh.ID = 2
		_, _, err = st.Insert(pii.WithExecutor(ctx, tx), envelope.Record{KeyRef: fresh, Wrapped: []byte("w2"), Used: 7})
		require.NoError(t, err)
		_, err = st.Reserve(pii.WithExecutor(ctx, tx), fresh, 1, 100)
		require.ErrorIs(t, err, envelope.ErrNotFound, "the transaction's own uncommitted DEK is not visible outside it")
		require.NoError(t, tx.Rollback())
		got, err := st.Get(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, uint64(15), got.Used, "the rollback returned nothing")
	})
	t.Run("sqlite", func(t *testing.T) {
		db, st := newSQLite(t)
		_, _, err := st.Insert(ctx, envelope.Record{KeyRef: ref, Wrapped: []byte("w"), Used: 10})
		require.NoError(t, err)
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		used, err := st.Reserve(pii.WithExecutor(ctx, tx), ref, 5, 100)
		require.NoError(t, err)
		require.Equal(t, uint64(15), used)
		require.NoError(t, tx.Rollback())
		got, err := st.Get(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, uint64(10), got.Used, "SQLite joins the transaction: the rollback returns the block")
	})
}

// TestSealerReservesInTransaction: on PostgreSQL, a Sealer sealing under
// the caller's transaction makes its DEK with a first block; when the
// block runs out inside the transaction (the row is not visible to the
// reservation, which runs outside it), it moves on to a new DEK, in the
// transaction; after the commit every value opens, and no DEK carries
// more values than it had reserved.
func TestSealerReservesInTransaction(t *testing.T) {
	ctx := t.Context()
	db, st := newPostgres(t, "r16_tx_reserve_keys")
	s, err := envelope.New(testkp.New(raceKey), &envelope.Options{Store: st, Cache: envelope.CacheLimits{MaxMessages: 1000, MessageBlock: 10}})
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	b := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r", Subject: "alice"}
	var cts []string
	perDEK := map[uint32]int{}
	for i := range 25 {
		ct, err := s.EncryptString(pii.WithExecutor(ctx, tx), fmt.Sprint("v", i), b)
		require.NoError(t, err)
		cts = append(cts, ct)
		perDEK[dekID(t, ct)]++
	}
	require.NoError(t, tx.Commit())
	for id, n := range perDEK {
		rec, err := st.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:alice", ID: id})
		require.NoError(t, err)
		require.LessOrEqual(t, uint64(n), rec.Used, "DEK %d: %d values, %d reserved", id, n, rec.Used)
	}
	require.GreaterOrEqual(t, len(perDEK), 3)
	for i, ct := range cts {
		pt, err := s.DecryptString(ctx, ct, b)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint("v", i), pt)
	}
}
