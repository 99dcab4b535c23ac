// Command sweepbench measures the retention sweeper against a hand-written
// batched SQL sweep making the same changes, on SQLite and PostgreSQL, and
// the sweeper's peak memory at two table sizes.
//
//	go run ./retention/internal/sweepbench -rows 1000000 -db sqlite,postgres
//	go run ./retention/internal/sweepbench -rows 1000000 -db sqlite -mem
//
// Each measurement runs in a child process (this binary re-executed), so
// its peak resident memory (VmHWM) is its own. Output lines in Go benchmark
// format can be fed to /work/shared/tools/benchratio:
//
//	go run ./retention/internal/sweepbench -rows 100000 -count 3 -db sqlite > out
//	benchratio BenchmarkSweep/sqlite/rows=100000 BenchmarkHandSQL/sqlite/rows=100000 < out
//
// prints sweeper time / hand-written time (at most 2.0 means the sweeper
// runs at least half as fast). Repetitions alternate which sweep runs
// first. Before reporting, the program checks that both sweeps left
// identical tables. PostgreSQL uses $PII_POSTGRES_URL.
//
// The workload: an Account table (benchdata) in which -due percent of the
// rows have something due, mixed: null, redact, generalize (last4,
// postcode:3, ipv4/24, year), anonymize and delete, on three clocks. The
// hand-written sweep selects the same candidates in the same batches,
// computes the same values and writes them with prepared UPDATEs and one
// DELETE per batch; it keeps no ledger.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/internal/benchdata"
	"github.com/fieldguard/pii/retention/sqlstore"
)

var (
	rows    = flag.Int64("rows", 1_000_000, "rows in the table")
	due     = flag.Int("due", 10, "percent of rows with something due")
	dbs     = flag.String("db", "sqlite,postgres", "backends: sqlite, postgres")
	batch   = flag.Int("batch", 1000, "records per batch (both sweeps)")
	count   = flag.Int("count", 1, "repetitions")
	mem     = flag.Bool("mem", false, "measure the sweeper's peak memory at rows/10 and rows")
	dir     = flag.String("dir", "", "directory for SQLite files (default a temporary one)")
	child   = flag.String("child", "", "internal: run one measurement (sweep or hand)")
	driver  = flag.String("driver", "", "internal: database driver of the child")
	target  = flag.String("target", "", "internal: database the child opens")
	cpuprof = flag.String("cpuprofile", "", "write each child's CPU profile to this path plus .sweep or .hand")
)

type result struct {
	Elapsed time.Duration
	HWMkB   int64
	Changed int64
}

func main() {
	flag.Parse()
	if *child != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "sweepbench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sweepbench:", err)
		os.Exit(1)
	}
}

func runChild() error {
	ctx := context.Background()
	db, err := sql.Open(*driver, *target)
	if err != nil {
		return err
	}
	defer db.Close()
	pg := benchdata.Dialect(*driver == "pgx")
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof + "." + *child)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var res result
	start := time.Now()
	switch *child {
	case "hand":
		res.Changed, err = benchdata.Baseline(ctx, db, pg, *batch)
	case "sweep":
		var tbl *sqlstore.Table
		tbl, err = sqlstore.New(db, &benchdata.Account{}, nil)
		if err != nil {
			return err
		}
		ledger, err := sqlstore.NewLedger(db, nil) // the one tbl appends to
		if err != nil {
			return err
		}
		if err := ledger.CreateTables(ctx); err != nil {
			return err
		}
		var holds retention.Holds
		if holds, err = sqlstore.NewHolds(db, nil); err != nil {
			return err
		}
		var m *retention.Manager
		m, err = retention.New(&retention.Options{Clock: fixed{}, LedgerKey: benchdata.LedgerKey,
			PseudonymKey: benchdata.PseudonymKey, Holds: holds, Ledger: ledger})
		if err != nil {
			return err
		}
		if err = m.Register(tbl); err != nil {
			return err
		}
		start = time.Now() // the ledger table exists in both runs' setup
		var st retention.Progress
		st, err = m.Sweep(ctx, &retention.SweepOptions{BatchSize: *batch})
		res.Changed = st.Applied
	default:
		return fmt.Errorf("unknown child %q", *child)
	}
	if err != nil {
		return err
	}
	res.Elapsed = time.Since(start)
	res.HWMkB = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(res)
}

type fixed struct{}

func (fixed) Now() time.Time { return benchdata.Now }

// vmHWM reads the peak resident set size from /proc/self/status, in kB.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

func measure(kind, drv, tgt string) (result, error) {
	cmd := exec.Command(os.Args[0], "-child", kind, "-driver", drv, "-target", tgt, "-batch", strconv.Itoa(*batch), "-cpuprofile", *cpuprof)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s child: %w", kind, err)
	}
	var r result
	return r, json.Unmarshal(out, &r)
}

// backend prepares identical copies of the populated table.
type backend interface {
	name() string
	// copies returns n databases holding the same rows (driver, target).
	copies(ctx context.Context, rows int64, n int) ([]string, error)
	driver() string
	open(target string) (*sql.DB, error)
	cleanup()
}

func run() error {
	ctx := context.Background()
	for _, name := range strings.Split(*dbs, ",") {
		b, err := newBackend(name)
		if err != nil {
			return err
		}
		defer b.cleanup()
		if *mem {
			if err := memory(ctx, b); err != nil {
				return err
			}
			continue
		}
		for i := 0; i < *count; i++ {
			if err := compare(ctx, b, i%2 == 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// compare runs both sweeps on identical copies; sweepFirst alternates the
// order between repetitions so neither profits from the other's warm-up.
func compare(ctx context.Context, b backend, sweepFirst bool) error {
	t0 := time.Now()
	tg, err := b.copies(ctx, *rows, 2)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "# %s: %d rows populated twice in %s\n", b.name(), *rows, time.Since(t0).Round(time.Millisecond))
	var hand, sweep result
	for _, first := range []bool{sweepFirst, !sweepFirst} {
		if first {
			sweep, err = measure("sweep", b.driver(), tg[1])
		} else {
			hand, err = measure("hand", b.driver(), tg[0])
		}
		if err != nil {
			return err
		}
	}
	h1, n1, err := hash(b, tg[0])
	if err != nil {
		return err
	}
	h2, n2, err := hash(b, tg[1])
	if err != nil {
		return err
	}
	if h1 != h2 || n1 != n2 {
		return fmt.Errorf("%s: the sweep and the hand-written SQL left different tables (%d vs %d rows)", b.name(), n1, n2)
	}
	fmt.Printf("BenchmarkHandSQL/%s/rows=%d \t1\t%d ns/op\t%d changed-rows\t%d peak-kB\n", b.name(), *rows, hand.Elapsed.Nanoseconds(), hand.Changed, hand.HWMkB)
	fmt.Printf("BenchmarkSweep/%s/rows=%d \t1\t%d ns/op\t%d actions\t%d peak-kB\n", b.name(), *rows, sweep.Elapsed.Nanoseconds(), sweep.Changed, sweep.HWMkB)
	fmt.Printf("# %s rows=%d: sweeper %.2fs, hand-written %.2fs: sweeper runs at %.2fx the hand-written speed (need >= 0.5); tables identical (%d rows)\n",
		b.name(), *rows, sweep.Elapsed.Seconds(), hand.Elapsed.Seconds(), hand.Elapsed.Seconds()/sweep.Elapsed.Seconds(), n1)
	return nil
}

func memory(ctx context.Context, b backend) error {
	var hwm [2]int64
	for i, n := range []int64{*rows / 10, *rows} {
		tg, err := b.copies(ctx, n, 1)
		if err != nil {
			return err
		}
		r, err := measure("sweep", b.driver(), tg[0])
		if err != nil {
			return err
		}
		hwm[i] = r.HWMkB
		fmt.Printf("# %s rows=%d: sweeper peak RSS (VmHWM) %d kB, %.2fs\n", b.name(), n, r.HWMkB, r.Elapsed.Seconds())
	}
	fmt.Printf("# %s: peak memory rows=%d / rows=%d = %.3f (need <= 1.2)\n", b.name(), *rows, *rows/10, float64(hwm[1])/float64(hwm[0]))
	return nil
}

func hash(b backend, tgt string) (string, int64, error) {
	db, err := b.open(tgt)
	if err != nil {
		return "", 0, err
	}
	defer db.Close()
	return benchdata.DumpHash(context.Background(), db)
}

func newBackend(name string) (backend, error) {
	switch name {
	case "sqlite":
		d := *dir
		if d == "" {
			var err error
			if d, err = os.MkdirTemp("", "sweepbench"); err != nil {
				return nil, err
			}
		}
		return &sqliteBackend{dir: d, own: *dir == ""}, nil
	case "postgres":
		u := os.Getenv(testdb.EnvPostgres)
		if u == "" {
			return nil, fmt.Errorf("%s is not set", testdb.EnvPostgres)
		}
		return &pgBackend{url: u}, nil
	}
	return nil, fmt.Errorf("unknown backend %q", name)
}

type sqliteBackend struct {
	dir string
	own bool
	seq int
}

func (s *sqliteBackend) name() string                        { return "sqlite" }
func (s *sqliteBackend) driver() string                      { return "sqlite" }
func (s *sqliteBackend) open(target string) (*sql.DB, error) { return sql.Open("sqlite", target) }
func (s *sqliteBackend) cleanup() {
	if s.own {
		os.RemoveAll(s.dir)
	}
}

func (s *sqliteBackend) copies(ctx context.Context, rows int64, n int) ([]string, error) {
	s.seq++
	src := filepath.Join(s.dir, fmt.Sprintf("src%d.db", s.seq))
	db, err := sql.Open("sqlite", testdb.SQLiteDSN(src))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := benchdata.Create(ctx, db, false); err != nil {
		return nil, err
	}
	if err := benchdata.Populate(ctx, db, false, 7, rows, *due); err != nil {
		return nil, err
	}
	var out []string
	for i := 0; i < n; i++ {
		p := filepath.Join(s.dir, fmt.Sprintf("copy%d_%d.db", s.seq, i))
		os.Remove(p)
		if _, err := db.ExecContext(ctx, "VACUUM INTO '"+p+"'"); err != nil {
			return nil, err
		}
		out = append(out, testdb.SQLiteDSN(p))
	}
	db.Close()
	os.Remove(src)
	return out, nil
}

type pgBackend struct {
	url     string
	schemas []string
}

func (p *pgBackend) name() string                        { return "postgres" }
func (p *pgBackend) driver() string                      { return "pgx" }
func (p *pgBackend) open(target string) (*sql.DB, error) { return sql.Open("pgx", target) }

func (p *pgBackend) cleanup() {
	db, err := sql.Open("pgx", p.url)
	if err != nil {
		return
	}
	defer db.Close()
	for _, s := range p.schemas {
		db.Exec("DROP SCHEMA " + s + " CASCADE")
	}
}

func (p *pgBackend) copies(ctx context.Context, rows int64, n int) ([]string, error) {
	admin, err := sql.Open("pgx", p.url)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	var out []string
	var first string
	for i := 0; i < n; i++ {
		s := fmt.Sprintf("sweepbench_%d_%d", os.Getpid(), len(p.schemas))
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+s); err != nil {
			return nil, err
		}
		p.schemas = append(p.schemas, s)
		u := testdb.WithSearchPath(p.url, s)
		db, err := sql.Open("pgx", u)
		if err != nil {
			return nil, err
		}
		if err := benchdata.Create(ctx, db, true); err != nil {
			db.Close()
			return nil, err
		}
		if i == 0 {
			err = benchdata.Populate(ctx, db, true, 7, rows, *due)
			first = s
		} else {
			_, err = db.ExecContext(ctx, "INSERT INTO account SELECT * FROM "+first+".account")
		}
		if err == nil {
			_, err = db.ExecContext(ctx, "VACUUM ANALYZE account")
		}
		db.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
