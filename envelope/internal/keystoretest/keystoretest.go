// Package keystoretest is the conformance suite every envelope.KeyStore
// passes: the in-memory store and sqlkeystore on SQLite and PostgreSQL.
package keystoretest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

// Run runs the suite; open returns a fresh, empty store per subtest.
func Run(t *testing.T, open func(t *testing.T) envelope.KeyStore) {
	ctx := context.Background()
	created := time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC)
	rec := func(kind envelope.Kind, tenant, scope string, id uint32, w string) envelope.Record {
		return envelope.Record{
			KeyRef:  envelope.KeyRef{Kind: kind, Tenant: tenant, Scope: scope, ID: id},
			Wrapped: []byte(w), Parent: 7, KEK: "kek#1", Created: created,
		}
	}
	equal := func(t *testing.T, want, got envelope.Record) {
		t.Helper()
		require.Equal(t, want.KeyRef, got.KeyRef)
		require.Equal(t, want.Wrapped, got.Wrapped)
		require.Equal(t, want.Parent, got.Parent)
		require.Equal(t, want.KEK, got.KEK)
		require.True(t, want.Created.Equal(got.Created), "created %v, got %v", want.Created, got.Created)
	}

	t.Run("GetMissing", func(t *testing.T) {
		st := open(t)
		_, err := st.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "a", Scope: "s:x", ID: 1})
		require.ErrorIs(t, err, envelope.ErrNotFound)
		_, err = st.Latest(ctx, envelope.KindDEK, "a", "s:x")
		require.ErrorIs(t, err, envelope.ErrNotFound)
	})

	t.Run("InsertGet", func(t *testing.T) {
		st := open(t)
		r := rec(envelope.KindDEK, "a", "s:x", 1, "w1")
		got, inserted, err := st.Insert(ctx, r)
		require.NoError(t, err)
		require.True(t, inserted)
		equal(t, r, got)
		got, err = st.Get(ctx, r.KeyRef)
		require.NoError(t, err)
		equal(t, r, got)

		dup := rec(envelope.KindDEK, "a", "s:x", 1, "other")
		got, inserted, err = st.Insert(ctx, dup)
		require.NoError(t, err)
		require.False(t, inserted)
		equal(t, r, got)
	})

	t.Run("Latest", func(t *testing.T) {
		st := open(t)
		for _, id := range []uint32{2, 9, 4} {
			_, _, err := st.Insert(ctx, rec(envelope.KindDEK, "a", "t", id, fmt.Sprint("w", id)))
			require.NoError(t, err)
		}
		_, _, err := st.Insert(ctx, rec(envelope.KindDEK, "a", "u", 20, "other scope"))
		require.NoError(t, err)
		_, _, err = st.Insert(ctx, rec(envelope.KindBranch, "a", "t", 30, "other kind"))
		require.NoError(t, err)
		got, err := st.Latest(ctx, envelope.KindDEK, "a", "t")
		require.NoError(t, err)
		require.Equal(t, uint32(9), got.ID)
		require.Equal(t, []byte("w9"), got.Wrapped)
	})

	t.Run("Replace", func(t *testing.T) {
		st := open(t)
		r := rec(envelope.KindBranch, "a", "", 1, "old")
		_, _, err := st.Insert(ctx, r)
		require.NoError(t, err)
		nr := r
		nr.Wrapped, nr.KEK, nr.Parent = []byte("new"), "kek#2", 8
		require.NoError(t, st.Replace(ctx, r, nr))
		got, err := st.Get(ctx, r.KeyRef)
		require.NoError(t, err)
		equal(t, nr, got)
		// A second replace from the stale record conflicts.
		require.ErrorIs(t, st.Replace(ctx, r, nr), envelope.ErrConflict)
		// A missing record conflicts.
		missing := rec(envelope.KindBranch, "b", "", 1, "x")
		require.ErrorIs(t, st.Replace(ctx, missing, missing), envelope.ErrConflict)
	})

	tombstone := func(t *testing.T, st envelope.KeyStore, tenant, scope string) uint32 {
		t.Helper()
		r, err := st.Latest(ctx, envelope.KindTombstone, tenant, scope)
		require.NoError(t, err)
		require.Equal(t, envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: tenant, Scope: scope, ID: r.ID}, r.KeyRef)
		require.Empty(t, r.Wrapped)
		return r.ID
	}

	t.Run("Forget", func(t *testing.T) {
		st := open(t)
		for id := uint32(1); id <= 3; id++ {
			_, _, err := st.Insert(ctx, rec(envelope.KindDEK, "a", "s:x", id, "w"))
			require.NoError(t, err)
		}
		_, _, err := st.Insert(ctx, rec(envelope.KindDEK, "a", "s:y", 1, "keep"))
		require.NoError(t, err)
		_, _, err = st.Insert(ctx, rec(envelope.KindDEK, "b", "s:x", 1, "keep other tenant"))
		require.NoError(t, err)

		n, err := st.Forget(ctx, "a", "s:x")
		require.NoError(t, err)
		require.Equal(t, 3, n)
		_, err = st.Latest(ctx, envelope.KindDEK, "a", "s:x")
		require.ErrorIs(t, err, envelope.ErrNotFound)
		require.Equal(t, uint32(3), tombstone(t, st, "a", "s:x"), "the watermark is the highest DEK id shredded")
		_, err = st.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "a", Scope: "s:y", ID: 1})
		require.NoError(t, err)
		_, err = st.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "b", Scope: "s:x", ID: 1})
		require.NoError(t, err)
		_, err = st.Latest(ctx, envelope.KindTombstone, "b", "s:x")
		require.ErrorIs(t, err, envelope.ErrNotFound, "other tenants have no tombstone")
		// Forgetting twice deletes nothing and keeps the watermark.
		n, err = st.Forget(ctx, "a", "s:x")
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, uint32(3), tombstone(t, st, "a", "s:x"))
	})

	t.Run("ForgetGenerations", func(t *testing.T) {
		st := open(t)
		// A scope forgotten before it had keys: watermark 0.
		n, err := st.Forget(ctx, "a", "s:x")
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, uint32(0), tombstone(t, st, "a", "s:x"))
		// A generation of keys, then another.
		for _, ids := range [][]uint32{{1, 2}, {3, 4, 5}} {
			for _, id := range ids {
				_, _, err := st.Insert(ctx, rec(envelope.KindDEK, "a", "s:x", id, "w"))
				require.NoError(t, err)
			}
			n, err := st.Forget(ctx, "a", "s:x")
			require.NoError(t, err)
			require.Equal(t, len(ids), n)
			require.Equal(t, ids[len(ids)-1], tombstone(t, st, "a", "s:x"))
		}
		// The history stays: the tombstone of the first generation too.
		_, err = st.Get(ctx, envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: "a", Scope: "s:x", ID: 2})
		require.NoError(t, err)
		// A DEK below the watermark (a writer that raced the Forget) does
		// not lower it.
		_, _, err = st.Insert(ctx, rec(envelope.KindDEK, "a", "s:x", 4, "late"))
		require.NoError(t, err)
		n, err = st.Forget(ctx, "a", "s:x")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, uint32(5), tombstone(t, st, "a", "s:x"))
		// A closing tombstone stays the watermark through later Forgets.
		_, _, err = st.Insert(ctx, envelope.Record{
			KeyRef:  envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: "a", Scope: "s:x", ID: envelope.ClosedWatermark},
			Wrapped: []byte{}, Created: created,
		})
		require.NoError(t, err)
		_, _, err = st.Insert(ctx, rec(envelope.KindDEK, "a", "s:x", 6, "w"))
		require.NoError(t, err)
		n, err = st.Forget(ctx, "a", "s:x")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, envelope.ClosedWatermark, tombstone(t, st, "a", "s:x"))
		// Forget touches only DEKs and tombstones of its scope.
		_, _, err = st.Insert(ctx, rec(envelope.KindBranch, "a", "", 9, "branch"))
		require.NoError(t, err)
		_, err = st.Forget(ctx, "a", "")
		require.NoError(t, err)
		_, err = st.Get(ctx, envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "a", ID: 9})
		require.NoError(t, err)
		require.Equal(t, uint32(0), tombstone(t, st, "a", ""), "a branch id is not a DEK id")
	})

	t.Run("ListPages", func(t *testing.T) {
		st := open(t)
		var want []envelope.KeyRef
		for _, tenant := range []string{"", "a", "b"} {
			for _, scope := range []string{"s:1", "s:2", "t"} {
				for id := uint32(1); id <= 3; id++ {
					r := rec(envelope.KindDEK, tenant, scope, id, "w")
					_, _, err := st.Insert(ctx, r)
					require.NoError(t, err)
					want = append(want, r.KeyRef)
				}
			}
		}
		_, _, err := st.Insert(ctx, rec(envelope.KindBranch, "a", "", 1, "not listed"))
		require.NoError(t, err)
		var got []envelope.KeyRef
		after := envelope.KeyRef{}
		for {
			page, err := st.List(ctx, envelope.KindDEK, after, 4)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 4)
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, r.KeyRef)
			}
			after = page[len(page)-1].KeyRef
		}
		require.Equal(t, want, got)
	})

	t.Run("ConcurrentInsert", func(t *testing.T) {
		st := open(t)
		const n = 8
		var wg sync.WaitGroup
		results := make([]envelope.Record, n)
		inserted := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], inserted[i], errs[i] = st.Insert(ctx, rec(envelope.KindDEK, "a", "t", 1, fmt.Sprint("w", i)))
			}()
		}
		wg.Wait()
		wins := 0
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, results[0].Wrapped, results[i].Wrapped)
			if inserted[i] {
				wins++
			}
		}
		require.Equal(t, 1, wins)
	})

	t.Run("Sealer", func(t *testing.T) {
		st := open(t)
		kp := newKP()
		s1, err := envelope.New(kp, &envelope.Options{Store: st})
		require.NoError(t, err)
		b := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r1", Subject: "alice"}
		ct, err := s1.EncryptString(ctx, "secret value", b)
		require.NoError(t, err)
		det, err := s1.EncryptDeterministic(ctx, "x@example.com", b)
		require.NoError(t, err)
		// A second process on the same store opens both.
		s2, err := envelope.New(kp, &envelope.Options{Store: st})
		require.NoError(t, err)
		pt, err := s2.DecryptString(ctx, ct, b)
		require.NoError(t, err)
		require.Equal(t, "secret value", pt)
		pt, err = s2.DecryptString(ctx, det, b)
		require.NoError(t, err)
		require.Equal(t, "x@example.com", pt)
		// alice of another tenant shares the subject id, not the keys.
		gb := b
		gb.Tenant = "globex"
		gct, err := s1.EncryptString(ctx, "globex value", gb)
		require.NoError(t, err)
		require.NoError(t, s2.ForgetSubject(ctx, "acme", "alice"))
		s3, err := envelope.New(kp, &envelope.Options{Store: st})
		require.NoError(t, err)
		for _, x := range []*envelope.Sealer{s2, s3} {
			_, err = x.DecryptString(ctx, ct, b)
			require.ErrorIs(t, err, envelope.ErrShredded)
			pt, err = x.DecryptString(ctx, gct, gb)
			require.NoError(t, err, "the other tenant's alice is untouched")
			require.Equal(t, "globex value", pt)
		}
		// A new key generation serves new values, in every process.
		nct, err := s3.EncryptString(ctx, "new value", b)
		require.NoError(t, err)
		for _, x := range []*envelope.Sealer{s1, s2, s3} {
			pt, err = x.DecryptString(ctx, nct, b)
			require.NoError(t, err)
			require.Equal(t, "new value", pt)
		}
		_, err = s3.DecryptString(ctx, ct, b)
		require.ErrorIs(t, err, envelope.ErrShredded, "old values stay shredded")
		// CloseSubject refuses new values in every process.
		require.NoError(t, s3.CloseSubject(ctx, "acme", "alice"))
		s4, err := envelope.New(kp, &envelope.Options{Store: st})
		require.NoError(t, err)
		for _, x := range []*envelope.Sealer{s3, s4} {
			_, err = x.EncryptString(ctx, "refused", b)
			require.ErrorIs(t, err, envelope.ErrShredded)
			_, err = x.DecryptString(ctx, nct, b)
			require.ErrorIs(t, err, envelope.ErrShredded)
		}
		_, err = s4.EncryptString(ctx, "still fine", gb)
		require.NoError(t, err)
	})
}
