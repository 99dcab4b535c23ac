// Command migrate measures guard.Migration, which seals the existing
// plaintext columns of a live table in place, against a hand-written
// batched loop doing the same work, on SQLite:
//
//	go run ./internal/bench/migrate                  # 1,000,000 rows, and 100,000 for memory
//	go run ./internal/bench/migrate -n 200000 -batch 1000
//
// It fills three tables with customers whose four personal columns (name,
// e-mail with a normalised blind index, phone, address) are in clear: -n
// rows for the library, -n for the hand-written loop, and -n/10 for the
// library again. Each migration runs in a fresh process, which reports its
// time; its peak memory is the process's maximum resident set. The hand
// loop reads a batch in row key order in one transaction (BEGIN
// IMMEDIATE), seals it with one envelope.Sealer.Seal over the batch (the
// same keys), updates each row with a prepared statement and commits; it keeps its position
// in memory and checks nothing afterwards. The library also keeps its
// cursor in the database with each batch, compares what changed, and
// makes a verification pass over the whole table at the end: its time is
// reported with and without that pass.
//
// It prints the ratios: library throughput over the hand loop's (goal at
// least 0.5), and the library's peak memory at -n rows over that at -n/10
// (goal at most 1.2). The keyset and the database are made in a temporary
// folder and removed at the end. A benchmark, not an example of key
// handling: the child processes get the keyset's master key through their
// environment.
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
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// Customer has four personal columns, in clear before the migration.
type Customer struct {
	ID         int64  `db:"id" pii:"id"`
	Name       string `db:"name" pii:"name,encrypt"`
	Email      string `db:"email" pii:"email,encrypt,index=EmailIndex,norm=email"`
	EmailIndex string `db:"email_index" pii:"-"`
	Phone      string `db:"phone" pii:"phone,encrypt"`
	Address    string `db:"address" pii:"address,encrypt"`
}

func customer(id int64) Customer {
	return Customer{ID: id, Name: fmt.Sprintf("Customer %d", id), Email: fmt.Sprintf("Customer.%d@Example.com", id),
		Phone: fmt.Sprintf("+44 20 7946 %04d", id%10000), Address: fmt.Sprintf("%d High Street, Oxford", id%500)}
}

const (
	envChild = "MIGRATEBENCH_CHILD"
	prefix   = "mb_pii_"
)

type config struct {
	n, small, batch int
	dir             string
}

// childArgs is what a migrating process needs.
type childArgs struct {
	DB, Keyset, Master, Table, Way string
	Batch                          int
}

// childResult is what it reports.
type childResult struct {
	Total, Pass time.Duration
	Rows        int64
}

// result is one run's figures.
type result struct {
	Lib, LibSmall, Hand childResult
	// Peak resident set sizes in KiB.
	RSSLib, RSSLibSmall, RSSHand int64
}

// throughput is the library's rows per second over the hand loop's (the
// whole job, verification included), and pass the same for the first pass
// alone.
func (r result) throughput() float64 {
	return rate(r.Lib.Rows, r.Lib.Total) / rate(r.Hand.Rows, r.Hand.Total)
}

func (r result) pass() float64 { return rate(r.Lib.Rows, r.Lib.Pass) / rate(r.Hand.Rows, r.Hand.Total) }

func (r result) memory() float64 { return float64(r.RSSLib) / float64(r.RSSLibSmall) }

func rate(rows int64, d time.Duration) float64 { return float64(rows) / d.Seconds() }

func main() {
	if js := os.Getenv(envChild); js != "" {
		if err := child(context.Background(), js, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "migrate (child):", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(2)
	}
	self, err := os.Executable()
	if err == nil {
		_, err = run(context.Background(), cfg, os.Stdout, self)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.IntVar(&c.n, "n", 1_000_000, "rows to migrate")
	fs.IntVar(&c.batch, "batch", 1000, "rows per batch (one transaction each)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.n < 10 || c.batch < 1:
		return c, errors.New("-n must be at least 10 and -batch positive")
	}
	c.small = c.n / 10
	return c, nil
}

func run(ctx context.Context, cfg config, out io.Writer, self string) (result, error) {
	var res result
	dir, err := os.MkdirTemp(cfg.dir, "migrate-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "migrate.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	master, err := local.GenerateMasterKey()
	if err != nil {
		return res, err
	}
	keyset := filepath.Join(dir, "keyset.json")
	kp, err := local.Create(keyset, master)
	if err != nil {
		return res, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return res, err
	}
	defer db.Close()
	g, err := guard.New(kp, db, &guard.Options{Prefix: prefix})
	if err != nil {
		return res, err
	}
	if err := g.CreateTables(ctx); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "migrate: %d rows of 4 personal columns (and %d), batches of %d, SQLite\n", cfg.n, cfg.small, cfg.batch)
	for _, t := range []struct {
		name string
		n    int
	}{{"mb_lib", cfg.n}, {"mb_hand", cfg.n}, {"mb_small", cfg.small}} {
		if err := fill(ctx, db, t.name, t.n); err != nil {
			return res, fmt.Errorf("fill %s: %w", t.name, err)
		}
	}
	m := base64.StdEncoding.EncodeToString(master)
	for _, c := range []struct {
		table, way string
		res        *childResult
		rss        *int64
	}{
		{"mb_lib", "library", &res.Lib, &res.RSSLib},
		{"mb_hand", "hand", &res.Hand, &res.RSSHand},
		{"mb_small", "library", &res.LibSmall, &res.RSSLibSmall},
	} {
		args := childArgs{DB: dsn, Keyset: keyset, Master: m, Table: c.table, Way: c.way, Batch: cfg.batch}
		if *c.res, *c.rss, err = startChild(ctx, self, args); err != nil {
			return res, fmt.Errorf("%s on %s: %w", c.way, c.table, err)
		}
	}
	fmt.Fprintf(out, "  hand loop   %8d rows %-12v %9.0f rows/s   peak RSS %6d KiB\n", res.Hand.Rows, res.Hand.Total.Round(time.Millisecond), rate(res.Hand.Rows, res.Hand.Total), res.RSSHand)
	fmt.Fprintf(out, "  library     %8d rows %-12v %9.0f rows/s   peak RSS %6d KiB   (first pass %v)\n", res.Lib.Rows, res.Lib.Total.Round(time.Millisecond), rate(res.Lib.Rows, res.Lib.Total), res.RSSLib, res.Lib.Pass.Round(time.Millisecond))
	fmt.Fprintf(out, "  library     %8d rows %-12v %9.0f rows/s   peak RSS %6d KiB\n", res.LibSmall.Rows, res.LibSmall.Total.Round(time.Millisecond), rate(res.LibSmall.Rows, res.LibSmall.Total), res.RSSLibSmall)
	fmt.Fprintf(out, "  throughput library / hand loop: %.2f (goal >= 0.5); first pass alone %.2f\n", res.throughput(), res.pass())
	fmt.Fprintf(out, "  peak memory %d rows / %d rows: %.2f (goal <= 1.2)\n", cfg.n, cfg.small, res.memory())
	return res, nil
}

// fill creates table with n customers in clear.
func fill(ctx context.Context, db *sql.DB, table string, n int) error {
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id INTEGER PRIMARY KEY, name TEXT, email TEXT, email_index TEXT, phone TEXT, address TEXT)"); err != nil {
		return err
	}
	const chunk = 5000
	for lo := 1; lo <= n; lo += chunk {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" (id, name, email, phone, address) VALUES (?, ?, ?, ?, ?)")
		if err != nil {
			tx.Rollback()
			return err
		}
		for id := lo; id < lo+chunk && id <= n; id++ {
			c := customer(int64(id))
			if _, err := st.ExecContext(ctx, c.ID, c.Name, c.Email, c.Phone, c.Address); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func startChild(ctx context.Context, self string, args childArgs) (childResult, int64, error) {
	js, err := json.Marshal(args)
	if err != nil {
		return childResult{}, 0, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), envChild+"="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return childResult{}, 0, fmt.Errorf("%w: %s", err, stderr.String())
	}
	var r childResult
	line := outb[strings.LastIndexByte(strings.TrimSpace(string(outb)), '\n')+1:]
	if err := json.Unmarshal(line, &r); err != nil {
		return childResult{}, 0, fmt.Errorf("child output %q: %w", outb, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return childResult{}, 0, errors.New("no resource usage for the child")
	}
	return r, ru.Maxrss, nil
}

// child migrates one table, the library's way or by hand, and prints its
// childResult as JSON.
func child(ctx context.Context, js string, out io.Writer) error {
	var a childArgs
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
	db, err := sql.Open("sqlite", a.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	var r childResult
	start := time.Now()
	if a.Way == "hand" {
		ks, err := guardKeys(db)
		if err != nil {
			return err
		}
		s, err := envelope.New(kp, &envelope.Options{Store: ks})
		if err != nil {
			return err
		}
		r.Rows, err = handLoop(ctx, db, s, a.Table, a.Batch)
		if err != nil {
			return err
		}
		r.Total = time.Since(start)
		r.Pass = r.Total
	} else {
		g, err := guard.New(kp, db, &guard.Options{Prefix: prefix})
		if err != nil {
			return err
		}
		mg, err := guard.NewMigration(g, Customer{}, &guard.TableOptions{Table: a.Table})
		if err != nil {
			return err
		}
		rep, err := mg.Seal(ctx, &guard.MigrateOptions{BatchSize: a.Batch, JobTable: "mb_jobs", Progress: func(rep guard.MigrateReport) error {
			if rep.Phase != "pass" && r.Pass == 0 {
				r.Pass = time.Since(start)
			}
			return nil
		}})
		if err != nil {
			return err
		}
		r.Total = time.Since(start)
		r.Rows = rep.Changed
	}
	return json.NewEncoder(out).Encode(r)
}
