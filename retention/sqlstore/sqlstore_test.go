package sqlstore_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/internal/benchdata"
	"github.com/fieldguard/pii/retention/sqlstore"
)

const (
	envChild  = "RETENTION_SQLSTORE_CHILD" // "sqlite" or "postgres"
	envTarget = "RETENTION_SQLSTORE_TARGET"
)

// TestMain runs the sweeper child process of the kill tests when asked.
func TestMain(m *testing.M) {
	if kind := os.Getenv(envChild); kind != "" {
		os.Exit(child(kind, os.Getenv(envTarget)))
	}
	os.Exit(m.Run())
}

// child sweeps slowly (a pause per batch) until done or killed.
func child(kind, target string) int {
	driver := "sqlite"
	if kind == "postgres" {
		driver = "pgx"
	} else {
		target = testdb.SQLiteDSN(target)
	}
	db, err := sql.Open(driver, target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer db.Close()
	ctx := context.Background()
	m, _, err := manager(ctx, db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	_, err = m.Sweep(ctx, &retention.SweepOptions{BatchSize: 7, Progress: func(retention.Progress) {
		fmt.Println("batch") // committed: the parent kills only after the first
		time.Sleep(time.Millisecond)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func manager(ctx context.Context, db *sql.DB) (*retention.Manager, *sqlstore.Table, error) {
	tbl, err := sqlstore.New(db, &benchdata.Account{}, nil)
	if err != nil {
		return nil, nil, err
	}
	ledger, err := sqlstore.NewLedger(db, nil) // the one tbl appends to
	if err != nil {
		return nil, nil, err
	}
	if err := ledger.CreateTables(ctx); err != nil {
		return nil, nil, err
	}
	holds, err := sqlstore.NewHolds(db, nil)
	if err != nil {
		return nil, nil, err
	}
	m, err := retention.New(&retention.Options{
		Clock: piitest.NewClock(benchdata.Now), LedgerKey: benchdata.LedgerKey, PseudonymKey: benchdata.PseudonymKey,
		Holds: holds, Ledger: ledger,
	})
	if err != nil {
		return nil, nil, err
	}
	return m, tbl, m.Register(tbl)
}

type backend struct {
	name string
	pg   benchdata.Dialect
	open func(t *testing.T) (*sql.DB, string) // db and a target a child process can open
}

// countEntries counts the entries of l with the outcome ("" for all),
// reading through ctx's executor.
func countEntries(ctx context.Context, t testing.TB, l retention.Ledger, outcome retention.Outcome) int {
	t.Helper()
	n := 0
	require.NoError(t, l.Scan(ctx, func(e retention.Entry) error {
		if outcome == "" || e.Outcome == outcome {
			n++
		}
		return nil
	}))
	return n
}

// createTables creates the ledger, holds and pending shreds tables named by
// opts.
func createTables(t testing.TB, db *sql.DB, opts *sqlstore.Options) {
	t.Helper()
	l, err := sqlstore.NewLedger(db, opts)
	require.NoError(t, err)
	require.NoError(t, l.CreateTables(context.Background()))
}

func backends() []backend {
	return []backend{
		{"sqlite", false, func(t *testing.T) (*sql.DB, string) {
			p := filepath.Join(t.TempDir(), "db.sqlite")
			return testdb.OpenSQLite(t, p), p
		}},
		{"postgres", true, func(t *testing.T) (*sql.DB, string) { return testdb.Postgres(t) }},
	}
}

func populated(t *testing.T, b backend, n int64, duePct int) (*sql.DB, string) {
	t.Helper()
	db, target := b.open(t)
	ctx := context.Background()
	require.NoError(t, benchdata.Create(ctx, db, b.pg))
	require.NoError(t, benchdata.Populate(ctx, db, b.pg, 7, n, duePct))
	return db, target
}

func dump(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := benchdata.Dump(context.Background(), db)
	require.NoError(t, err)
	return rows
}

// expectedActions counts what one sweep must apply to the generated rows:
// the ledger must hold exactly this many applied entries.
func expectedActions(n int64, duePct int) (actions, deletes int) {
	for i := int64(1); i <= n; i++ {
		a := benchdata.Gen(7, i, duePct)
		if a.ClosedAt != nil && !a.ClosedAt.After(benchdata.Now.AddDate(0, 0, -90)) {
			actions++
			deletes++
			continue
		}
		if !a.LastSeen.After(benchdata.Now.AddDate(-1, 0, 0)) {
			actions += 5
		}
		if !a.LastSeen.After(benchdata.Now.AddDate(0, 0, -30)) {
			actions++
		}
		if !a.CreatedAt.After(benchdata.Now.AddDate(-2, 0, 0)) && a.BirthDate.YearDay() != 1 {
			actions++
		}
	}
	return actions, deletes
}

func TestSweepMatchesHandWrittenSQL(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			const n, due = 2000, 10
			ref, _ := populated(t, b, n, due)
			_, err := benchdata.Baseline(ctx, ref, b.pg, 100)
			require.NoError(t, err)

			db, _ := populated(t, b, n, due)
			before := dump(t, db)
			m, _, err := manager(ctx, db)
			require.NoError(t, err)

			var dry []retention.Entry
			st, err := m.Sweep(ctx, &retention.SweepOptions{BatchSize: 64, DryRun: true,
				OnAction: func(e retention.Entry) { dry = append(dry, e) }})
			require.NoError(t, err)
			require.Equal(t, before, dump(t, db), "a dry run changes nothing")
			want, deletes := expectedActions(n, due)
			require.Equal(t, want, len(dry))
			require.EqualValues(t, want, st.Applied)

			var progress []retention.Progress
			st, err = m.Sweep(ctx, &retention.SweepOptions{BatchSize: 64,
				Progress: func(p retention.Progress) { progress = append(progress, p) }})
			require.NoError(t, err)
			require.EqualValues(t, want, st.Applied)
			require.EqualValues(t, deletes, st.Deleted)
			require.NotEmpty(t, progress)
			require.Equal(t, st.Scanned, progress[len(progress)-1].Scanned)
			require.Equal(t, dump(t, ref), dump(t, db), "the sweep makes the same changes as the hand-written SQL")

			led := ledgerIn(t, db)
			got := countEntries(ctx, t, led, retention.OutcomeApplied)
			require.Equal(t, want, got)

			// A second sweep finds nothing left to do.
			st, err = m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.Zero(t, st.Applied)
			got = countEntries(ctx, t, led, "")
			require.Equal(t, want, got)
		})
	}
}

// TestKillAndResume kills a sweeping child process at random points 20
// times, then resumes: the table and the ledger equal those of one
// uninterrupted sweep.
func TestKillAndResume(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			const n, due = 3000, 20
			ref, _ := populated(t, b, n, due)
			mref, _, err := manager(ctx, ref)
			require.NoError(t, err)
			_, err = mref.Sweep(ctx, &retention.SweepOptions{BatchSize: 50})
			require.NoError(t, err)

			db, target := populated(t, b, n, due)
			r := rand.New(rand.NewPCG(1, 2))
			killed := 0
			for i := 0; i < 20; i++ {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envChild+"="+b.name, envTarget+"="+target)
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				require.NoError(t, err)
				require.NoError(t, cmd.Start())
				// Kill at a random point after the child's first committed
				// batch (waiting for it, not for a fixed time, keeps the test
				// meaningful on a loaded machine).
				br := bufio.NewReader(out)
				_, _ = br.ReadString('\n')
				time.Sleep(time.Duration(r.IntN(60)) * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_, _ = io.Copy(io.Discard, br)
				err = cmd.Wait()
				if err != nil {
					ee, ok := err.(*exec.ExitError)
					require.True(t, ok, "child: %v", err)
					require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal(), "child failed: %v", err)
					killed++
				}
			}
			m, _, err := manager(ctx, db)
			require.NoError(t, err)
			led := ledgerIn(t, db)
			partial := countEntries(ctx, t, led, retention.OutcomeApplied)
			t.Logf("%d of 20 children killed mid-run; %d actions committed before the final run", killed, partial)
			require.GreaterOrEqual(t, killed, 10, "most children must die mid-run")
			require.Positive(t, partial, "the children made progress between kills")
			_, err = m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, dump(t, ref), dump(t, db))
			want, _ := expectedActions(n, due)
			got := countEntries(ctx, t, led, retention.OutcomeApplied)
			require.Equal(t, want, got, "every action recorded exactly once")
		})
	}
}

// TestConcurrentSweepersPostgres runs four sweepers at once with SKIP
// LOCKED: every action is applied exactly once.
func TestConcurrentSweepersPostgres(t *testing.T) {
	b := backends()[1]
	ctx := context.Background()
	const n, due = 4000, 30
	ref, _ := populated(t, b, n, due)
	_, err := benchdata.Baseline(ctx, ref, true, 100)
	require.NoError(t, err)
	db, _ := populated(t, b, n, due)
	_, _, err = manager(ctx, db)
	require.NoError(t, err)
	var wg sync.WaitGroup
	stats := make([]retention.Progress, 4)
	errs := make([]error, 4)
	managers := make([]*retention.Manager, 4)
	for i := range managers {
		managers[i], _, err = manager(ctx, db)
		require.NoError(t, err)
	}
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := managers[i]
			stats[i], errs[i] = m.Sweep(ctx, &retention.SweepOptions{BatchSize: 20})
		}()
	}
	wg.Wait()
	var applied int64
	for i := range stats {
		require.NoError(t, errs[i])
		applied += stats[i].Applied
	}
	want, _ := expectedActions(n, due)
	require.EqualValues(t, want, applied)
	got := countEntries(ctx, t, ledgerIn(t, db), retention.OutcomeApplied)
	require.Equal(t, want, got)
	require.Equal(t, dump(t, ref), dump(t, db))
}

func TestHoldsAndRelease(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := populated(t, b, 300, 100)
			m, _, err := manager(ctx, db)
			require.NoError(t, err)
			// Rows 2 and 3 share the subject id subj-0000001, in tenants
			// acme and globex: two people. The hold is on acme's.
			held := benchdata.Gen(7, 2, 100)
			other := benchdata.Gen(7, 3, 100)
			require.Equal(t, held.Subject, other.Subject)
			require.NotEqual(t, held.Tenant, other.Tenant)
			_, err = m.Hold(ctx, retention.Subject(held.Tenant, held.Subject), "case 2026-17", time.Time{})
			require.NoError(t, err)
			_, err = m.Hold(ctx, retention.RecordTarget(benchdata.Gen(7, 10, 100).Tenant, "Account", "10"), "audit", benchdata.Now.AddDate(0, 1, 0))
			require.NoError(t, err)
			before := rowsByID(t, db)
			st, err := m.Sweep(ctx, nil)
			require.NoError(t, err)
			require.Positive(t, st.Held)
			after := rowsByID(t, db)
			for _, id := range []int64{2, 10} {
				require.Equal(t, before[id], after[id], "held row %d untouched", id)
			}
			require.NotEqual(t, before[3], after[3], "the hold on acme's subject does not hold globex's")
			require.NotEqual(t, before[4], after[4])

			st, err = m.Release(ctx, retention.Subject(held.Tenant, held.Subject))
			require.NoError(t, err)
			require.Positive(t, st.Applied)
			after = rowsByID(t, db)
			require.NotEqual(t, before[2], after[2], "release applies what became due")
			require.Equal(t, before[10], after[10], "the other hold still holds")
		})
	}
}

func rowsByID(t *testing.T, db *sql.DB) map[int64]string {
	out := map[int64]string{}
	for _, r := range dump(t, db) {
		id, _, _ := cutID(r)
		out[id] = r
	}
	return out
}

func cutID(r string) (int64, string, bool) {
	for i := 0; i < len(r); i++ {
		if r[i] == '|' {
			id, _ := strconv.ParseInt(r[:i], 10, 64)
			return id, r[i+1:], true
		}
	}
	return 0, "", false
}

// TestRestoreThenReplay restores a backup taken before a sweep and an
// erasure request; replaying the ledger brings the table back to the
// post-erasure state.
func TestRestoreThenReplay(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := populated(t, b, 500, 30)
			_, err := db.ExecContext(ctx, "CREATE TABLE account_backup AS SELECT * FROM account")
			require.NoError(t, err)
			m, _, err := manager(ctx, db)
			require.NoError(t, err)
			_, err = m.Sweep(ctx, nil)
			require.NoError(t, err)
			a := benchdata.Gen(7, 101, 30)
			rep, err := m.Forget(ctx, a.Tenant, a.Subject)
			require.NoError(t, err)
			require.False(t, rep.KeyShredded, "no Shredder: nothing to shred")
			require.Positive(t, rep.Applied)
			want := dump(t, db)

			_, err = db.ExecContext(ctx, "DELETE FROM account")
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, "INSERT INTO account SELECT * FROM account_backup")
			require.NoError(t, err)
			require.NotEqual(t, want, dump(t, db))

			st, err := m.Replay(ctx, ledgerIn(t, db))
			require.NoError(t, err)
			require.Positive(t, st.Applied)
			require.Equal(t, want, dump(t, db))

			// Replaying again changes nothing.
			st, err = m.Replay(ctx, ledgerIn(t, db))
			require.NoError(t, err)
			require.Zero(t, st.Applied)
		})
	}
}

func TestLedgerIsAppendOnly(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db, _ := b.open(t)
			l, err := sqlstore.NewLedger(db, nil)
			require.NoError(t, err)
			require.NoError(t, l.CreateTables(ctx))
			in := []retention.Entry{
				{Subject: "s1", Record: "r1", Type: "T", Field: "A", Action: "null", Policy: "retain=P1Y", Outcome: retention.OutcomeApplied, Reason: "test", At: benchdata.Now},
				{Subject: "s1", Record: "r1", Type: "T", Field: "B[2].C", Action: "generalize:year", Policy: "retain=P1Y", Outcome: retention.OutcomeApplied, Reason: "x", At: benchdata.Now},
				{Subject: "s1", Record: "r2", Type: "T", Field: "A", Action: "null", Policy: "erasure request", Outcome: retention.OutcomeHeld, Reason: `legal hold: "case" é\n`, At: benchdata.Now},
				{Subject: "s1", Record: "", Type: "", Field: "", Action: "shred", Policy: "erasure request", Outcome: retention.OutcomeApplied, Reason: "k", At: benchdata.Now.Add(time.Second)},
			}
			require.NoError(t, l.Append(ctx, in...))
			_, err = db.ExecContext(ctx, "UPDATE retention_ledger SET outcome = 'x'")
			require.Error(t, err)
			_, err = db.ExecContext(ctx, "DELETE FROM retention_ledger")
			require.Error(t, err)
			var got []retention.Entry
			require.NoError(t, l.Scan(ctx, func(e retention.Entry) error { got = append(got, e); return nil }))
			require.Len(t, got, len(in))
			for i := range in {
				require.True(t, in[i].At.Equal(got[i].At))
				got[i].At = in[i].At
			}
			require.Equal(t, in, got)
			n := countEntries(ctx, t, l, retention.OutcomeApplied)
			require.Equal(t, 3, n)
			var rows int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM retention_ledger").Scan(&rows))
			require.Equal(t, 3, rows, "one row per event")
			// CreateTables a second time on the same database is fine.
			require.NoError(t, l.CreateTables(ctx))
		})
	}
}

// ledgerIn returns the ledger in db that the tables of manager append to.
func ledgerIn(t *testing.T, db *sql.DB) *sqlstore.Ledger {
	t.Helper()
	l, err := sqlstore.NewLedger(db, nil)
	require.NoError(t, err)
	return l
}
