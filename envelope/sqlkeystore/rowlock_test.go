package sqlkeystore_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
)

// TestRowLockWaitHoldsNoProcessLock: on PostgreSQL, a seal in one
// transaction waits on a key row another open transaction inserted (the
// first key of a tenant, made by both); meanwhile the same Sealer serves
// another tenant's seal outside any transaction. Red when a lookup under
// an executor holds one of the Sealer's process-wide locks (kmsMu,
// createMu) while it waits on the row. envelope's
// TestTxLookupTakesNoProcessLock covers every lookup with a fake store;
// this is the wait the rule is for, on a real server.
func TestRowLockWaitHoldsNoProcessLock(t *testing.T) {
	db, st := newPostgres(t, "pii_keys")
	// The watchdog ends a test that hangs; it bounds no timing the test
	// asserts.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kp := testkp.New(nil)
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	b := func(tenant, subject string) envelope.Binding {
		return envelope.Binding{Tenant: tenant, Type: "Customer", Field: "Name", Record: "r-" + subject, Subject: subject}
	}

	// The first transaction makes acme's branch key and stays open.
	tx1, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { tx1.Rollback() }) // after a failure too, so no lock outlives the test
	_, err = s.EncryptString(pii.WithExecutor(ctx, tx1), "bob", b("acme", "bob"))
	require.NoError(t, err)
	var pid int
	require.NoError(t, tx1.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))

	// The second does not see it, makes its own and waits on tx1's row.
	type sealed struct {
		ct  string
		err error
	}
	second := make(chan sealed, 1)
	go func() {
		tx2, err := db.BeginTx(ctx, nil)
		if err != nil {
			second <- sealed{err: err}
			return
		}
		defer tx2.Rollback()
		ct, err := s.EncryptString(pii.WithExecutor(ctx, tx2), "carol", b("acme", "carol"))
		if err == nil {
			err = tx2.Commit()
		}
		second <- sealed{ct, err}
	}()
	for waiting := 0; waiting == 0; {
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid).Scan(&waiting),
			"watchdog: the second transaction never waited on the first one's row")
		select {
		case r := <-second:
			t.Fatalf("the second transaction returned (%v) without waiting on the first one's row", r.err)
		default:
		}
		runtime.Gosched()
	}

	// Another tenant, outside any transaction: served meanwhile.
	other := make(chan error, 1)
	go func() {
		_, err := s.EncryptString(ctx, "dave", b("globex", "dave"))
		other <- err
	}()
	select {
	case err := <-other:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("watchdog: a seal outside any transaction waited for a transaction's row lock")
	}

	require.NoError(t, tx1.Commit())
	r := <-second
	require.NoError(t, r.err)
	// The second transaction sealed under the branch key the first one
	// committed (its own insert lost): another process opens it.
	fresh, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	pt, err := fresh.DecryptString(context.Background(), r.ct, b("acme", "carol"))
	require.NoError(t, err)
	require.Equal(t, "carol", pt)
}
