// Command fleetload puts a fleet of processes on one PostgreSQL key store
// and measures it: P processes of G goroutines each seal and open N
// fields between them (each field: EncryptString, then DecryptString of
// what it returned), for S data subjects, and it reports the throughput,
// the median and 99th percentile of a field's latency, and the key
// provider calls, which must stay proportional to branch keys (about one
// per process), not to fields or subjects.
//
//	PII_POSTGRES_URL=postgres://... go run ./examples/fleetload -procs 4 -goroutines 8 -fields 1000000
//
// Each process is this program run again with the worker command; it
// makes its own Sealer on the shared key store (sqlkeystore) with a local
// keyset that the coordinator creates in a temporary directory (under a
// master key made for the run), follows the store's shred notifications
// (pglisten), and prints one JSON line of counts and a latency histogram
// when it is done. The key table (-table, default fleetload_keys) is
// dropped and made again at the start: point -dsn at a database for tests.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/envelope/sqlkeystore/pglisten"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// workerCommand is the first argument that makes this program a worker.
const workerCommand = "fleetload-worker"

// envMaster carries the run's keyset master key (hex) to the workers.
const envMaster = "FLEETLOAD_MASTER"

// Config is one run.
type Config struct {
	DSN        string // PostgreSQL
	Table      string // the key table
	Procs      int    // worker processes
	Goroutines int    // per process
	Fields     int    // in all
	Subjects   int    // data subjects the fields belong to
	Feed       bool   // follow the key store's shred notifications
}

// Report is what a run measured.
type Report struct {
	Fields       int
	Elapsed      time.Duration // from the first worker's start to the last one's end
	FieldsPerSec float64
	P50, P99     time.Duration // of one field: seal and open
	Wraps        uint64        // key provider calls, all processes
	Unwraps      uint64
	BranchKeys   int // in the key store at the end
	DEKs         int
}

// workerResult is the JSON line a worker prints.
type workerResult struct {
	Fields  int       `json:"fields"`
	Wraps   uint64    `json:"wraps"`
	Unwraps uint64    `json:"unwraps"`
	Hist    histogram `json:"hist"`
	Err     string    `json:"err,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == workerCommand {
		os.Exit(runWorker(os.Args[2:], os.Stdout))
	}
	var c Config
	flag.StringVar(&c.DSN, "dsn", os.Getenv("PII_POSTGRES_URL"), "PostgreSQL connection string (default $PII_POSTGRES_URL)")
	flag.StringVar(&c.Table, "table", "fleetload_keys", "key table (dropped and made again)")
	flag.IntVar(&c.Procs, "procs", 4, "worker processes")
	flag.IntVar(&c.Goroutines, "goroutines", 8, "goroutines per process")
	flag.IntVar(&c.Fields, "fields", 1_000_000, "fields to seal and open, in all")
	flag.IntVar(&c.Subjects, "subjects", 10_000, "data subjects")
	flag.BoolVar(&c.Feed, "feed", true, "follow the key store's shred notifications (pglisten)")
	flag.Parse()
	r, err := Run(context.Background(), c, os.Args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetload:", err)
		os.Exit(1)
	}
	fmt.Printf("%d processes x %d goroutines, %d fields of %d subjects in %v\n", c.Procs, c.Goroutines, r.Fields, c.Subjects, r.Elapsed.Round(time.Millisecond))
	fmt.Printf("throughput %.0f fields/s (seal + open)\n", r.FieldsPerSec)
	fmt.Printf("latency of a field: p50 %v, p99 %v\n", r.P50, r.P99)
	fmt.Printf("key provider calls: %d wraps, %d unwraps (%d branch keys, %d DEKs in the key store)\n",
		r.Wraps, r.Unwraps, r.BranchKeys, r.DEKs)
}

// Run makes the key store and the keyset, runs c.Procs workers (self, the
// program to run with workerCommand) and merges what they report.
func Run(ctx context.Context, c Config, self string) (*Report, error) {
	if c.DSN == "" {
		return nil, errors.New("no PostgreSQL: pass -dsn or set PII_POSTGRES_URL")
	}
	if c.Procs < 1 || c.Goroutines < 1 || c.Fields < c.Procs || c.Subjects < 1 {
		return nil, errors.New("procs, goroutines and subjects must be positive, fields at least procs")
	}
	db, err := sql.Open("pgx", c.DSN)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	keys, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: c.Table})
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+c.Table); err != nil {
		return nil, err
	}
	if err := keys.CreateTables(ctx); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fleetload")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// A master key for this run only: the keyset dies with the run.
	master := make([]byte, 32)
	rand.Read(master)
	keyset := filepath.Join(dir, "keyset.json")
	if _, err := local.Create(keyset, master); err != nil {
		return nil, err
	}

	results := make([]workerResult, c.Procs)
	errs := make([]error, c.Procs)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c.Procs {
		n := c.Fields / c.Procs
		if i < c.Fields%c.Procs {
			n++
		}
		args := []string{workerCommand, "-dsn", c.DSN, "-table", c.Table, "-keyset", keyset, "-proc", strconv.Itoa(i),
			"-procs", strconv.Itoa(c.Procs), "-goroutines", strconv.Itoa(c.Goroutines), "-fields", strconv.Itoa(n),
			"-subjects", strconv.Itoa(c.Subjects), "-feed=" + strconv.FormatBool(c.Feed)}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Env = append(os.Environ(), envMaster+"="+hex.EncodeToString(master))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = readResult(out, &results[i])
			if err := cmd.Wait(); err != nil && errs[i] == nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r := &Report{Elapsed: elapsed}
	var h histogram
	for _, w := range results {
		if w.Err != "" {
			return nil, errors.New("worker: " + w.Err)
		}
		r.Fields += w.Fields
		r.Wraps += w.Wraps
		r.Unwraps += w.Unwraps
		h.merge(&w.Hist)
	}
	r.FieldsPerSec = float64(r.Fields) / elapsed.Seconds()
	r.P50, r.P99 = h.quantile(0.50), h.quantile(0.99)
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.Table+" WHERE kind = 'branch'").Scan(&r.BranchKeys); err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.Table+" WHERE kind = 'dek'").Scan(&r.DEKs); err != nil {
		return nil, err
	}
	return r, nil
}

func readResult(r io.Reader, w *workerResult) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), w); err == nil {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("a worker printed no result")
}

// runWorker is one process of the fleet.
func runWorker(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet(workerCommand, flag.ContinueOnError)
	dsn := fs.String("dsn", "", "")
	table := fs.String("table", "", "")
	keyset := fs.String("keyset", "", "")
	proc := fs.Int("proc", 0, "")
	procs := fs.Int("procs", 1, "")
	goroutines := fs.Int("goroutines", 1, "")
	fields := fs.Int("fields", 0, "")
	subjects := fs.Int("subjects", 1, "")
	feed := fs.Bool("feed", true, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res, err := work(*dsn, *table, *keyset, *proc, *procs, *goroutines, *fields, *subjects, *feed)
	if err != nil {
		res.Err = err.Error()
	}
	json.NewEncoder(stdout).Encode(res)
	if err != nil {
		return 1
	}
	return 0
}

func work(dsn, table, keyset string, proc, procs, goroutines, fields, subjects int, feed bool) (workerResult, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	master, err := hex.DecodeString(os.Getenv(envMaster))
	if err != nil {
		return workerResult{}, errors.New("no master key")
	}
	lp, err := local.Open(keyset, master)
	if err != nil {
		return workerResult{}, err
	}
	kp := &callCounter{KeyProvider: lp}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return workerResult{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(goroutines + 2)
	keys, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: table})
	if err != nil {
		return workerResult{}, err
	}
	s, err := envelope.New(kp, &envelope.Options{Store: keys})
	if err != nil {
		return workerResult{}, err
	}
	followErr := make(chan error, 1) // Follow returns before ctx is done only on an error
	if feed {
		go func() { followErr <- pglisten.Follow(ctx, s, dsn, nil) }()
	}
	hists := make([]histogram, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < fields; i += goroutines {
				n := i*procs + proc // the field's number in the whole run
				b := envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email",
					Record: "c-" + strconv.Itoa(n), Subject: "s-" + strconv.Itoa(n%subjects)}
				value := "customer-" + strconv.Itoa(n) + "@example.com"
				t0 := time.Now()
				ct, err := s.EncryptString(ctx, value, b)
				if err == nil {
					var pt string
					pt, err = s.DecryptString(ctx, ct, b)
					if err == nil && pt != value {
						err = errors.New("a field opened to another value")
					}
				}
				if err != nil {
					errs[g] = err
					return
				}
				hists[g].add(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	res := workerResult{Fields: fields, Wraps: kp.wraps.Load(), Unwraps: kp.unwraps.Load()}
	for i := range hists {
		res.Hist.merge(&hists[i])
	}
	select {
	case err := <-followErr:
		errs = append(errs, err)
	default:
	}
	return res, errors.Join(errs...)
}

// callCounter counts a key provider's calls.
type callCounter struct {
	keyprovider.KeyProvider
	wraps, unwraps atomic.Uint64
}

func (c *callCounter) Wrap(ctx context.Context, dataKey, ad []byte) ([]byte, keyprovider.KeyID, error) {
	c.wraps.Add(1)
	return c.KeyProvider.Wrap(ctx, dataKey, ad)
}

func (c *callCounter) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	c.unwraps.Add(1)
	return c.KeyProvider.Unwrap(ctx, wrapped, ad)
}

// histogram counts durations in buckets 2% wide (log-linear), enough for
// percentiles to within 2%.
type histogram struct {
	Counts []uint64 `json:"counts"`
}

const growth = 1.02

func (h *histogram) add(d time.Duration) {
	i := 0
	if d > 1 {
		i = int(math.Log(float64(d)) / math.Log(growth))
	}
	if i >= len(h.Counts) {
		h.Counts = append(h.Counts, make([]uint64, i+1-len(h.Counts))...)
	}
	h.Counts[i]++
}

func (h *histogram) merge(o *histogram) {
	if len(o.Counts) > len(h.Counts) {
		h.Counts = append(h.Counts, make([]uint64, len(o.Counts)-len(h.Counts))...)
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= want && c > 0 {
			return time.Duration(math.Pow(growth, float64(i+1))).Round(time.Microsecond)
		}
	}
	return 0
}
