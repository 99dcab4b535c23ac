package sqlkeystore_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/stretchr/testify/require"
)

// Customer has a subject (per-subject DEKs), a search index and a
// deterministic field (the tenant's search root key).
type Customer struct {
	Tenant   string `pii:"tenant"`
	ID       string `pii:"subject"`
	Email    string `pii:"email,encrypt,index=EmailIdx"`
	EmailIdx string `pii:"-"`
	TaxID    string `pii:"national_id,encrypt=det"`
	Name     string `pii:"name,encrypt"`
}

func customer(id string) *Customer {
	return &Customer{Tenant: "acme", ID: id, Email: id + "@example.com", TaxID: "TAX-" + id, Name: "Name of " + id}
}

func TestTxSQLite(t *testing.T) {
	db, st := newSQLite(t)
	testTx(t, db, st, "pii_keys")
}

func TestTxPostgres(t *testing.T) {
	db, st := newPostgres(t, "pii_keys")
	testTx(t, db, st, "pii_keys")
}

// testTx: keys a Seal makes under the caller's transaction commit or roll
// back with it, and after a rollback nothing is sealed under a key whose
// row is gone: not by the Sealer that made it (its caches, its memo), not
// in this process or another.
func testTx(t *testing.T, db *sql.DB, st *sqlkeystore.Store, table string) {
	ctx := context.Background()
	kp := testkp.New(nil)
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	rows := func() int {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n))
		return n
	}
	fresh := func() *envelope.Sealer {
		f, err := envelope.New(kp, &envelope.Options{Store: st})
		require.NoError(t, err)
		return f
	}
	bob := envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Record: "bob", Subject: "bob"}

	t.Run("rollback", func(t *testing.T) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() }) // after a failure too, so no lock outlives the test
		txctx := pii.WithExecutor(ctx, tx)
		c := customer("alice")
		require.NoError(t, s.Seal(txctx, c)) // branch, search root and alice's DEK, in tx
		opened := *c
		require.NoError(t, s.Open(txctx, &opened), "the call's keys open what it sealed in the transaction")
		requireOpened(t, "alice", &opened)
		ct, err := s.EncryptString(txctx, "bob's name", bob) // byte-level: bob's DEK, in tx
		require.NoError(t, err)
		pt, err := s.DecryptString(txctx, ct, bob)
		require.NoError(t, err)
		require.Equal(t, "bob's name", pt)
		ix, err := s.BlindIndexes(txctx, "acme", (*Customer)(nil), "Email", "alice@example.com")
		require.NoError(t, err)
		require.Equal(t, []string{c.EmailIdx}, ix)
		require.NoError(t, tx.Rollback())
		require.Zero(t, rows(), "no key row outlives the rollback")

		// The same Sealer, outside the transaction: new keys, which exist.
		c2 := customer("alice")
		require.NoError(t, s.Seal(ctx, c2))
		require.Positive(t, rows())
		ct2, err := s.EncryptString(ctx, "bob again", bob)
		require.NoError(t, err)
		for _, x := range []*envelope.Sealer{s, fresh()} {
			got := *c2
			require.NoError(t, x.Open(ctx, &got))
			requireOpened(t, "alice", &got)
			pt, err := x.DecryptString(ctx, ct2, bob)
			require.NoError(t, err)
			require.Equal(t, "bob again", pt)
		}
		// What was sealed in the rolled-back transaction does not open.
		_, err = fresh().DecryptString(ctx, ct, bob)
		require.ErrorIs(t, err, envelope.ErrDecrypt)
	})

	t.Run("rollback then another transaction", func(t *testing.T) {
		// carol's first DEK is made and rolled back twice; a third
		// transaction commits: its DEK (same id, new bytes) must be the one
		// used, not the memo's key of a rolled-back row.
		for i := range 3 {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			t.Cleanup(func() { tx.Rollback() })
			txctx := pii.WithExecutor(ctx, tx)
			c := customer("carol")
			require.NoError(t, s.Seal(txctx, c))
			if i < 2 {
				require.NoError(t, tx.Rollback())
				continue
			}
			require.NoError(t, tx.Commit())
			got := *c
			require.NoError(t, fresh().Open(ctx, &got))
			requireOpened(t, "carol", &got)
			require.NoError(t, s.Open(ctx, c))
			requireOpened(t, "carol", c)
		}
	})

	t.Run("rollback, then another process makes the keys", func(t *testing.T) {
		// In a new tenant, s makes the branch key, the search root and
		// grace's DEK in a transaction that rolls back; another Sealer then
		// makes them for real, with the same ids and other bytes. s must
		// use those, not what it unwrapped in the rolled-back transaction.
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() })
		c := customer("grace")
		c.Tenant = "globex"
		require.NoError(t, s.Seal(pii.WithExecutor(ctx, tx), c))
		require.NoError(t, tx.Rollback())
		other := fresh()
		theirs := customer("grace")
		theirs.Tenant = "globex"
		require.NoError(t, other.Seal(ctx, theirs))
		for _, txn := range []bool{true, false} {
			sctx := ctx
			if txn {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				defer tx.Commit()
				sctx = pii.WithExecutor(ctx, tx)
			}
			mine := customer("grace")
			mine.Tenant = "globex"
			require.NoError(t, s.Seal(sctx, mine))
			require.Equal(t, theirs.EmailIdx, mine.EmailIdx, "the committed search root")
			require.Equal(t, theirs.TaxID, mine.TaxID)
			got := *theirs
			require.NoError(t, s.Open(sctx, &got))
			require.Equal(t, "grace@example.com", got.Email)
			if txn {
				continue
			}
			got = *mine
			require.NoError(t, other.Open(ctx, &got), "sealed under the committed DEK")
			require.Equal(t, "grace@example.com", got.Email)
		}
	})

	t.Run("commit", func(t *testing.T) {
		before := rows()
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() }) // after a failure too, so no lock outlives the test
		txctx := pii.WithExecutor(ctx, tx)
		c := customer("dave")
		require.NoError(t, s.Seal(txctx, c))
		ct, err := s.EncryptString(txctx, "erin's name", envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Record: "erin", Subject: "erin"})
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
		require.Equal(t, before+2, rows(), "dave's and erin's DEKs")
		for _, x := range []*envelope.Sealer{s, fresh()} {
			got := *c
			require.NoError(t, x.Open(ctx, &got))
			requireOpened(t, "dave", &got)
			pt, err := x.DecryptString(ctx, ct, envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Record: "erin", Subject: "erin"})
			require.NoError(t, err)
			require.Equal(t, "erin's name", pt)
		}
		// Later transactions reuse the committed keys.
		tx, err = db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() })
		c2 := customer("dave")
		require.NoError(t, s.Seal(pii.WithExecutor(ctx, tx), c2))
		require.NoError(t, tx.Commit())
		require.Equal(t, before+2, rows())
		require.NoError(t, fresh().Open(ctx, c2))
	})

	t.Run("slice rolled back", func(t *testing.T) {
		// A bulk import in a transaction that rolls back: no key row
		// survives, and no later seal, by the same Sealer in or out of a
		// transaction, goes under a DEK the rollback removed.
		before := rows()
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() })
		txctx := pii.WithExecutor(ctx, tx)
		cs := bulkCustomers("roll", 300)
		require.NoError(t, s.Seal(txctx, cs))
		// A second call in the transaction reads the DEKs the first made
		// (uncommitted rows): it must not keep them beyond the call either.
		require.NoError(t, s.Seal(txctx, bulkCustomers("roll", 300)))
		got := slices.Clone(cs)
		require.NoError(t, s.Open(txctx, got), "the call's keys open what it sealed in the transaction")
		require.Equal(t, bulkCustomers("roll", 300), withoutIndex(got))
		require.NoError(t, tx.Rollback())
		require.Equal(t, before, rows(), "no key row outlives the rollback")

		for _, txn := range []bool{true, false} {
			sctx := ctx
			if txn {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				defer tx.Rollback()
				sctx = pii.WithExecutor(ctx, tx)
				require.NoError(t, s.Seal(sctx, bulkCustomers("roll", 300)))
				require.NoError(t, tx.Rollback())
				require.Equal(t, before, rows())
				continue
			}
			again := bulkCustomers("roll", 300)
			require.NoError(t, s.Seal(sctx, again))
			require.Equal(t, before+300, rows(), "new DEKs, stored")
			got := slices.Clone(again)
			require.NoError(t, fresh().Open(ctx, got), "sealed under DEKs that exist")
			require.Equal(t, bulkCustomers("roll", 300), withoutIndex(got))
		}
		// What was sealed in the rolled-back transaction does not open.
		require.ErrorIs(t, fresh().Open(ctx, slices.Clone(cs)), envelope.ErrDecrypt)
	})

	t.Run("slice rolled back, then another process makes the keys", func(t *testing.T) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() })
		require.NoError(t, s.Seal(pii.WithExecutor(ctx, tx), bulkCustomers("other", 50)))
		require.NoError(t, tx.Rollback())
		other := fresh()
		theirs := bulkCustomers("other", 50)
		require.NoError(t, other.Seal(ctx, theirs)) // same DEK ids, other bytes
		for _, txn := range []bool{true, false} {
			sctx := ctx
			if txn {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				defer tx.Commit()
				sctx = pii.WithExecutor(ctx, tx)
			}
			mine := bulkCustomers("other", 50)
			require.NoError(t, s.Seal(sctx, mine))
			if txn {
				continue
			}
			got := slices.Clone(mine)
			require.NoError(t, other.Open(ctx, got), "sealed under the committed DEKs")
			require.Equal(t, bulkCustomers("other", 50), withoutIndex(got))
		}
	})

	t.Run("slice committed", func(t *testing.T) {
		before := rows()
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() })
		cs := bulkCustomers("commit", 300)
		require.NoError(t, s.Seal(pii.WithExecutor(ctx, tx), cs))
		require.NoError(t, tx.Commit())
		require.Equal(t, before+300, rows(), "every value's key committed with it")
		for _, x := range []*envelope.Sealer{s, fresh()} {
			got := slices.Clone(cs)
			require.NoError(t, x.Open(ctx, got))
			require.Equal(t, bulkCustomers("commit", 300), withoutIndex(got))
		}
		// A later transaction reuses the committed keys.
		tx, err = db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() })
		again := bulkCustomers("commit", 300)
		require.NoError(t, s.Seal(pii.WithExecutor(ctx, tx), again))
		require.NoError(t, tx.Commit())
		require.Equal(t, before+300, rows())
		require.NoError(t, fresh().Open(ctx, again))
	})

	t.Run("forget rolled back", func(t *testing.T) {
		c := customer("frank")
		require.NoError(t, s.Seal(ctx, c))
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { tx.Rollback() }) // after a failure too, so no lock outlives the test
		require.NoError(t, s.ForgetSubject(pii.WithExecutor(ctx, tx), "acme", "frank"))
		got := *c
		require.ErrorIs(t, s.Open(pii.WithExecutor(ctx, tx), &got), envelope.ErrShredded, "shredded within the transaction")
		require.NoError(t, tx.Rollback())
		got = *c
		require.NoError(t, s.Open(ctx, &got), "the rollback restored frank's keys")
		requireOpened(t, "frank", &got)
	})
}

// requireOpened checks that got holds id's values in clear (its blind
// index aside).
func requireOpened(t *testing.T, id string, got *Customer, msg ...any) {
	t.Helper()
	want := customer(id)
	want.EmailIdx = got.EmailIdx
	require.Equal(t, want, got, msg...)
}

func bulkCustomers(prefix string, n int) []Customer {
	out := make([]Customer, n)
	for i := range out {
		out[i] = *customer(fmt.Sprintf("%s-%04d", prefix, i))
	}
	return out
}
