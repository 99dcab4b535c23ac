package guard

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
)

// newGuardKP is a Guard on db with a given key provider and clock, for
// processes that must share keys.
func newGuardKP(t testing.TB, db *sql.DB, kp keyprovider.KeyProvider, clk pii.Clock) *Guard {
	t.Helper()
	g, err := New(kp, db, &Options{Clock: clk})
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(context.Background()))
	return g
}

const (
	killRows  = 600
	killBatch = 10
	killJobs  = "l14_kill_jobs"
)

// TestMigrateKill kills a migrating process (SIGKILL) at 20 random points,
// resumes, and checks that every row equals what one uninterrupted pass
// made of the same rows, and that the verification found nothing the
// killed job had skipped.
func TestMigrateKill(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kill.db")
		db := testdb.OpenSQLite(t, path)
		killAndResume(t, db, "sqlite", testdb.SQLiteDSN(path))
	})
	t.Run("postgres", func(t *testing.T) {
		db, url := testdb.Postgres(t)
		killAndResume(t, db, "pgx", url)
	})
}

func killAndResume(t *testing.T, db *sql.DB, driver, dsn string) {
	ctx := context.Background()
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	keyset := filepath.Join(t.TempDir(), "keyset.json")
	kp, err := local.Create(keyset, master)
	require.NoError(t, err)
	g := newGuardKP(t, db, kp, nil)
	killed := newLegacyWith(t, g, "l14_kill_a", killRows)
	whole := newLegacyWith(t, g, "l14_kill_b", killRows)

	rep, err := whole.mg.Seal(ctx, &MigrateOptions{BatchSize: killBatch, JobTable: killJobs})
	require.NoError(t, err)
	require.Equal(t, "done", rep.Phase)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	kills := 0
	for kills < 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "L14_KILL_CHILD=1", "L14_KILL_DRIVER="+driver, "L14_KILL_DSN="+dsn,
			"L14_KILL_KEYSET="+keyset, "L14_KILL_MASTER="+hex.EncodeToString(master))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		// Kill after 1 to 3 batches, at once or a little into the next.
		after := 1 + rng.IntN(3)
		delay := time.Duration(rng.IntN(4000)) * time.Microsecond
		sc := bufio.NewScanner(out)
		seen, done := 0, false
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "progress done") {
				done = true
			}
			if strings.HasPrefix(line, "progress ") {
				if seen++; seen == after && !done {
					time.Sleep(delay)
					require.NoError(t, cmd.Process.Kill())
					break
				}
			}
		}
		werr := cmd.Wait()
		if done {
			require.NoError(t, werr, stderr.String())
			break
		}
		require.Error(t, werr, "the child was killed")
		kills++
		t.Logf("kill %d after %d batches + %s", kills, after, delay)
	}
	require.Equal(t, 20, kills, "the table must outlast 20 kills; make it larger")

	rep, err = killed.mg.Seal(ctx, &MigrateOptions{BatchSize: killBatch, JobTable: killJobs})
	require.NoError(t, err)
	require.Equal(t, "done", rep.Phase)
	require.Zero(t, rep.Stragglers, "the pass skipped rows: a cursor moved past a batch that did not commit")
	require.Equal(t, int64(killRows), rep.Scanned, "every row is scanned once by the pass, across the kills")

	a, b := rawRows(t, db, killed.mg.m), rawRows(t, db, whole.mg.m)
	require.Len(t, a, killRows)
	require.Len(t, b, killRows)
	for i := range a {
		require.Equal(t, b[i].ID, a[i].ID)
		require.True(t, allSealed(a[i]), "row %d", a[i].ID)
		// Blind indexes and deterministic values are equal; random
		// ciphertexts open to the same values.
		require.Equal(t, b[i].EmailIndex, a[i].EmailIndex, "row %d", a[i].ID)
		require.Equal(t, b[i].TaxID, a[i].TaxID, "row %d", a[i].ID)
	}
	for _, tb := range []*Table[tlegacy]{killed.table, whole.table} {
		got, err := tb.Query(ctx, "acme", "")
		require.NoError(t, err)
		for i, r := range got {
			want := legacyRow("acme", int64(i+1))
			want.EmailIndex = r.EmailIndex
			require.Equal(t, want, r)
		}
		require.Zero(t, tb.PlaintextReads())
	}
}

// TestMigrateKillChild is the process TestMigrateKill kills.
func TestMigrateKillChild(t *testing.T) {
	if os.Getenv("L14_KILL_CHILD") == "" {
		t.Skip("the process TestMigrateKill starts and kills")
	}
	db, err := sql.Open(os.Getenv("L14_KILL_DRIVER"), os.Getenv("L14_KILL_DSN"))
	require.NoError(t, err)
	defer db.Close()
	master, err := hex.DecodeString(os.Getenv("L14_KILL_MASTER"))
	require.NoError(t, err)
	kp, err := local.Open(os.Getenv("L14_KILL_KEYSET"), master)
	require.NoError(t, err)
	g := newGuardKP(t, db, kp, nil)
	mg, err := newMigration(g, tlegacy{}, &TableOptions{Table: "l14_kill_a"})
	require.NoError(t, err)
	_, err = mg.Seal(context.Background(), &MigrateOptions{BatchSize: killBatch, JobTable: killJobs,
		Progress: func(r MigrateReport) error {
			fmt.Fprintf(os.Stdout, "progress %s %d %d\n", r.Phase, r.Scanned, r.Verified)
			return nil
		}})
	require.NoError(t, err)
}
