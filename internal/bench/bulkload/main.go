// Command bulkload measures what protecting customer data costs a bulk
// import and a paged read, against the same rows in plaintext, on SQLite
// or PostgreSQL:
//
//	go run ./internal/bench/bulkload                                   # SQLite in a temporary folder
//	go run ./internal/bench/bulkload -db "$PII_POSTGRES_URL"
//	go run ./internal/bench/bulkload -via guard -n 20000
//
// It inserts -n new customers (name, e-mail and date of birth encrypted,
// each customer a data subject with its own data key; phone and card
// tokenized with FF1) in batches of -batch rows, one transaction per
// batch, the keys written in the same transaction; then the same rows in
// plaintext into a table of their own, in the same batches. Then a fresh
// process (cold caches: every key comes from the database and is
// unwrapped again) reads both tables back in pages of -batch rows,
// opening the encrypted values (tokens stay tokens). It prints the times
// and the two ratios, protected over plaintext, whose goal is at most 2.
//
// -via envelope (the default) protects each batch with tokenize.Apply and
// one envelope.Sealer.Seal over the batch, and inserts it with one
// multi-row INSERT; -via guard uses guard.Table's InsertMany and Query.
//
// The keyset and the database are made in a temporary folder (or the
// tables in the database -db names, dropped first) and removed at the end.
// A benchmark, not an example of key handling: the read process gets the
// keyset's master key through its environment.
package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider/local"
)

// envRead starts the read phase (the fresh process) with the JSON of a
// readArgs.
const envRead = "BULKLOAD_READ"

type config struct {
	db    string // sqlite:PATH or a postgres URL; "" for SQLite in dir
	dir   string // working folder (keyset, SQLite file)
	n     int
	batch int
	via   string // envelope or guard
	prof  string // CPU profile of the writes (and PROF.read of the reads)
}

// readArgs is what the read process needs.
type readArgs struct {
	DB     string
	Via    string
	N      int
	Batch  int
	Keyset string
	Master string // base64; the benchmark's own throwaway key
	Prof   string
}

// readResult is what the read process reports.
type readResult struct {
	Plain, Protected time.Duration
	Rows             int
}

func main() {
	if js := os.Getenv(envRead); js != "" {
		if err := readChild(context.Background(), js, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bulkload (read):", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulkload:", err)
		os.Exit(2)
	}
	self, err := os.Executable()
	if err == nil {
		_, err = run(context.Background(), cfg, os.Stdout, self)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bulkload:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bulkload", flag.ContinueOnError)
	fs.StringVar(&c.db, "db", "", "database: sqlite:PATH or a postgres:// URL (default: SQLite in a temporary folder)")
	fs.IntVar(&c.n, "n", 100_000, "customers to insert")
	fs.IntVar(&c.batch, "batch", 500, "rows per insert batch and per read page")
	fs.StringVar(&c.prof, "cpuprofile", "", "write a CPU profile of the inserts to this file, and of the reads to this file + \".read\"")
	fs.StringVar(&c.via, "via", "envelope", "envelope (tokenize.Apply, one Sealer.Seal per batch, database/sql) or guard (guard.Table InsertMany and Query)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.n < 1 || c.batch < 1:
		return c, errors.New("-n and -batch must be positive")
	case c.via != "envelope" && c.via != "guard":
		return c, fmt.Errorf("-via must be envelope or guard, not %q", c.via)
	}
	return c, nil
}

// result is one run's figures.
type result struct {
	WritePlain, WriteProtected time.Duration
	ReadPlain, ReadProtected   time.Duration
}

func (r result) writeRatio() float64 { return float64(r.WriteProtected) / float64(r.WritePlain) }
func (r result) readRatio() float64  { return float64(r.ReadProtected) / float64(r.ReadPlain) }

// run does both phases; self is the program that runs the read phase
// (this binary, or a test binary that dispatches on envRead).
func run(ctx context.Context, cfg config, out io.Writer, self string) (result, error) {
	var res result
	dir, err := os.MkdirTemp(cfg.dir, "bulkload-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dsn := cfg.db
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(dir, "bulkload.db")
	}
	master, err := local.GenerateMasterKey()
	if err != nil {
		return res, err
	}
	keyset := filepath.Join(dir, "keyset.json")
	kp, err := local.Create(keyset, master)
	if err != nil {
		return res, err
	}
	db, d, err := openDB(dsn)
	if err != nil {
		return res, err
	}
	defer db.Close()
	w, err := newWriter(ctx, cfg.via, db, d, kp)
	if err != nil {
		return res, err
	}
	defer w.drop(context.Background())
	all := make([]Customer, cfg.n)
	for i := range all {
		all[i] = synthCustomer(int64(i + 1))
	}
	fmt.Fprintf(out, "bulkload: %d new customers on %s, batches of %d, via %s\n", cfg.n, d, cfg.batch, cfg.via)

	if cfg.prof != "" {
		stop, err := profile(cfg.prof)
		if err != nil {
			return res, err
		}
		defer stop()
	}
	if res.WritePlain, err = timeBatches(ctx, db, all, cfg.batch, w.insertPlain); err != nil {
		return res, fmt.Errorf("insert plaintext: %w", err)
	}
	if res.WriteProtected, err = timeBatches(ctx, db, all, cfg.batch, w.insertProtected); err != nil {
		return res, fmt.Errorf("insert protected: %w", err)
	}
	fmt.Fprintf(out, "  insert   plaintext %-12v protected %-12v ratio %.2f (goal <= 2)\n",
		res.WritePlain.Round(time.Millisecond), res.WriteProtected.Round(time.Millisecond), res.writeRatio())
	if cfg.via == "envelope" {
		fmt.Fprintf(out, "           of which tokenize %v, seal (keys and fields) %v, INSERT %v; the rest is the transactions\n",
			w.tokenize.Round(time.Millisecond), w.seal.Round(time.Millisecond), w.insert.Round(time.Millisecond))
	}

	args, err := json.Marshal(readArgs{DB: dsn, Via: cfg.via, N: cfg.n, Batch: cfg.batch, Keyset: keyset, Master: base64.StdEncoding.EncodeToString(master), Prof: cfg.prof})
	if err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), envRead+"="+string(args))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		return res, fmt.Errorf("read process: %w: %s", err, stderr.String())
	}
	var rr readResult
	if err := json.Unmarshal(lastLine(got), &rr); err != nil {
		return res, fmt.Errorf("read process: %w", err)
	}
	if rr.Rows != cfg.n {
		return res, fmt.Errorf("read process read %d rows, want %d", rr.Rows, cfg.n)
	}
	res.ReadPlain, res.ReadProtected = rr.Plain, rr.Protected
	fmt.Fprintf(out, "  read     plaintext %-12v protected %-12v ratio %.2f (goal <= 2; a fresh process, cold caches, pages of %d)\n",
		res.ReadPlain.Round(time.Millisecond), res.ReadProtected.Round(time.Millisecond), res.readRatio(), cfg.batch)
	return res, nil
}

// profile starts a CPU profile written to path; stop ends it.
func profile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

func openDB(dsn string) (*sql.DB, sqldialect.Dialect, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		// WAL with synchronous=NORMAL, as a service would run SQLite.
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		return db, sqldialect.SQLite, err
	}
	db, err := sql.Open("pgx", dsn)
	return db, sqldialect.Postgres, err
}

// timeBatches runs insert on each batch of all in a transaction of its
// own and returns the total time.
func timeBatches(ctx context.Context, db *sql.DB, all []Customer, batch int, insert func(context.Context, *sql.Tx, []Customer) error) (time.Duration, error) {
	start := time.Now()
	for lo := 0; lo < len(all); lo += batch {
		rows := append([]Customer(nil), all[lo:min(lo+batch, len(all))]...)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		if err := insert(ctx, tx, rows); err != nil {
			tx.Rollback()
			return 0, err
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// readChild is the read phase, in a fresh process.
func readChild(ctx context.Context, js string, out io.Writer) error {
	var a readArgs
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		return err
	}
	master, err := base64.StdEncoding.DecodeString(a.Master)
	if err != nil {
		return err
	}
	kp, err := local.Open(a.Keyset, master)
	if err != nil {
		return err
	}
	db, d, err := openDB(a.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := newReader(ctx, a.Via, db, d, kp)
	if err != nil {
		return err
	}
	if a.Prof != "" {
		stop, err := profile(a.Prof + ".read")
		if err != nil {
			return err
		}
		defer stop()
	}
	var res readResult
	check := func(page []Customer, protected bool) error {
		for _, c := range page {
			want := synthCustomer(c.Seq)
			if c.ID != want.ID || c.Name != want.Name || c.Email != want.Email || c.DOB != want.DOB {
				return fmt.Errorf("row %d does not read back as inserted", c.Seq)
			}
			if protected == (c.Phone == want.Phone) {
				return fmt.Errorf("row %d: phone token is wrong", c.Seq)
			}
		}
		return nil
	}
	// Plaintext first, then protected: the database has both tables'
	// pages in its cache from the writes either way.
	for _, protected := range []bool{false, true} {
		var took time.Duration
		rows := 0
		for lo := int64(0); ; lo += int64(a.Batch) {
			start := time.Now()
			page, err := r.page(ctx, protected, lo, a.Batch)
			took += time.Since(start)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			rows += len(page)
			if err := check(page, protected); err != nil { // not timed: it regenerates the rows
				return err
			}
		}
		if protected {
			res.Protected, res.Rows = took, rows
		} else {
			res.Plain = took
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n", b)
	return nil
}
