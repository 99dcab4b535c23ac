// Command retention expires personal data the way its struct tags say,
// on an SQLite database it seeds itself:
//
//	go run ./examples/retention
//
// The Account type below carries its retention policy in `pii` tags: how
// long each field is kept, from which clock (the last visit, the account's
// creation, its closure) and what happens then (null, redact, generalize,
// anonymize, delete). The program seeds accounts of varied ages in a fresh
// working folder (printed) against a fixed "now", places a legal hold on one
// customer, runs a dry run that changes nothing and reports what a sweep
// would do, then sweeps (with a progress bar when stdout is a terminal),
// shows a few rows before and after, prints the erasure ledger (keyed
// hashes, no personal data) and sweeps again to show that nothing is left to
// do. Run with -h for the flags.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Account is a customer account of an online shop. Fields tagged pii:"-"
// or untagged (the clocks) are not personal data and are kept.
type Account struct {
	ID        int64      `db:"id" pii:"id"`
	Subject   string     `db:"subject" pii:"subject"`
	CreatedAt time.Time  `db:"created_at"`
	LastSeen  time.Time  `db:"last_seen"`
	ClosedAt  *time.Time `db:"closed_at"`
	Name      string     `db:"name" pii:"name,retain=2y,from=LastSeen,then=redact"`
	Email     string     `db:"email" pii:"email,retain=2y,from=LastSeen,then=null"`
	Phone     string     `db:"phone" pii:"phone,retain=2y,from=LastSeen,then=generalize:last4"`
	Postcode  string     `db:"postcode" pii:"postcode,retain=1y,from=LastSeen,then=generalize:postcode:3"`
	Handle    string     `db:"handle" pii:"user.handle,retain=1y,from=LastSeen,then=anonymize"`
	IP        string     `db:"ip" pii:"ip,retain=30d,from=LastSeen,then=generalize:ipv4/24"`
	BirthDate time.Time  `db:"birth_date" pii:"dob,retain=6m,then=generalize:year"`
	Ref       string     `db:"ref" pii:"user.ref,retain=90d,from=ClosedAt,then=delete"`
}

// now is the example's fixed "current" time: the ages below are relative
// to it, so every run prints the same thing.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Example keys: never hard-code keys in production; load them from a KMS
// or a secret store, and keep the ledger key as long as the ledger.
var (
	ledgerKey    = []byte("examples/retention ledger key 32")
	pseudonymKey = []byte("examples/retention pseudonym key")
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

type config struct {
	dir     string
	records int
	batch   int
}

const usageText = `Usage: go run ./examples/retention [flags]

Seeds an SQLite database with accounts of varied ages, then runs a dry run,
a sweep and a second sweep of the retention policies in the Account type's
pii tags, and prints what changed and the erasure ledger.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.dir, "dir", "", "working folder for the database (default: a fresh temporary folder)")
	fs.IntVar(&c.records, "records", 2000, "number of accounts to seed (at least 10)")
	fs.IntVar(&c.batch, "batch", 200, "records per sweep batch (one transaction each)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "retention:", err)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "retention: unexpected argument %q (flags only; -h lists them)\n", fs.Arg(0))
		return 2
	case c.records < 10:
		fmt.Fprintln(stderr, "retention: -records must be at least 10")
		return 2
	case c.batch < 1:
		fmt.Fprintln(stderr, "retention: -batch must be at least 1")
		return 2
	}
	if err := demo(context.Background(), c, stdout, isTerminal(stdout)); err != nil {
		fmt.Fprintln(stderr, "retention:", firstLine(err.Error()))
		return 1
	}
	return 0
}

func demo(ctx context.Context, c config, out io.Writer, tty bool) error {
	dir := c.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "pii-retention-")
		if err != nil {
			return err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, "shop.db")
	// Start afresh: the database from an earlier run, with its WAL files.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	if err := seed(ctx, db, c.records); err != nil {
		return err
	}
	fmt.Fprintf(out, "Working folder: %s\n", dir)
	fmt.Fprintf(out, "Seeded %d accounts in %s; \"now\" is fixed at %s.\n\n", c.records, path, now.Format(time.DateTime))

	schema, err := pii.SchemaOf(&Account{})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "== Retention policies, read from the Account type's pii tags")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FIELD\tPOLICY")
	for _, f := range schema.Fields {
		if f.Opts.Retain.IsZero() {
			continue
		}
		p := retention.Policy{Retain: f.Opts.Retain, From: f.Opts.From, Then: f.Opts.Then, Min: f.Opts.Min, Grace: f.Opts.Grace}
		fmt.Fprintf(tw, "  %s\t%s\n", f.Path, p)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "  (no from=: the clock is the account's creation, CreatedAt)")

	table, err := sqlstore.New(db, &Account{}, nil)
	if err != nil {
		return err
	}
	ledger, err := sqlstore.NewLedger(db, nil) // the one table's sweeps append to
	if err != nil {
		return err
	}
	if err := ledger.CreateTables(ctx); err != nil { // ledger, holds, pending shreds
		return err
	}
	holds, err := sqlstore.NewHolds(db, nil)
	if err != nil {
		return err
	}
	m, err := retention.New(&retention.Options{
		Clock: fixedClock{now}, LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
		Ledger: ledger, Holds: holds,
	})
	if err != nil {
		return err
	}
	if err := m.Register(table); err != nil {
		return err
	}

	// A customer in a dispute: a legal hold stops every destructive action
	// on their data until it is released. The reason holds no personal data.
	if _, err := m.Hold(ctx, retention.Subject("", heldSubject), "dispute D-2291 (legal)", time.Time{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nLegal hold placed on customer %s (dispute D-2291).\n", heldSubject)

	before, err := loadSamples(ctx, db)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== Dry run: what a sweep would do now (nothing is written)\n")
	dry := newTally()
	dryStats, err := m.Sweep(ctx, &retention.SweepOptions{
		BatchSize: c.batch, DryRun: true, OnAction: dry.add,
	})
	if err != nil {
		return err
	}
	if err := dry.print(out); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d candidate accounts; would apply %d actions (%d account deletions); %d held back\n",
		dryStats.Scanned, dryStats.Applied, dryStats.Deleted, dryStats.Held)
	if n, err := count(ctx, db, "SELECT COUNT(*) FROM retention_ledger"); err != nil {
		return err
	} else if n != 0 {
		return fmt.Errorf("dry run wrote %d ledger entries", n)
	}
	fmt.Fprintln(out, "  ledger entries written by the dry run: 0")

	fmt.Fprintf(out, "\n== Sweep (batches of %d, one transaction each, with its ledger entries)\n", c.batch)
	b := newBar(out, tty, dryStats.Scanned)
	stats, err := m.Sweep(ctx, &retention.SweepOptions{
		BatchSize: c.batch,
		Progress:  func(p retention.Progress) { b.set(p.Scanned) },
	})
	b.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  scanned %d, applied %d actions, deleted %d accounts, held %d\n",
		stats.Scanned, stats.Applied, stats.Deleted, stats.Held)
	if stats.Applied != dryStats.Applied || stats.Deleted != dryStats.Deleted {
		return fmt.Errorf("the sweep applied %d actions and %d deletions, the dry run announced %d and %d",
			stats.Applied, stats.Deleted, dryStats.Applied, dryStats.Deleted)
	}
	left, err := count(ctx, db, "SELECT COUNT(*) FROM account")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  accounts left: %d of %d\n", left, c.records)

	after, err := loadSamples(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== What changed: a few accounts before -> after")
	printSamples(out, before, after)

	if err := printLedger(ctx, out, m, ledger); err != nil {
		return err
	}

	again, err := m.Sweep(ctx, &retention.SweepOptions{BatchSize: c.batch})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Sweep again: %d actions applied, %d accounts deleted: every action is idempotent, a rerun finds nothing to do\n",
		again.Applied, again.Deleted)

	released, err := m.Release(ctx, retention.Subject("", heldSubject))
	if err != nil {
		return err
	}
	final, err := loadSamples(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Dispute settled: hold on %s released; %d actions that fell due meanwhile applied at once\n",
		heldSubject, released.Applied)
	printSample(out, len(samples), after, final)
	return nil
}

// tally counts ledger entries by (field, action, outcome).
type tally struct {
	n    map[[3]string]int
	keys [][3]string
}

func newTally() *tally { return &tally{n: map[[3]string]int{}} }

func (t *tally) add(e retention.Entry) {
	field := e.Field
	if field == "" {
		field = "(record)"
	}
	k := [3]string{field, e.Action, string(e.Outcome)}
	if t.n[k] == 0 {
		t.keys = append(t.keys, k)
	}
	t.n[k]++
}

func (t *tally) print(out io.Writer) error {
	sort.Slice(t.keys, func(i, j int) bool {
		a, b := t.keys[i], t.keys[j]
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		return a[2] < b[2]
	})
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FIELD\tACTION\tOUTCOME\tACCOUNTS")
	for _, k := range t.keys {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", k[0], k[1], k[2], t.n[k])
	}
	return tw.Flush()
}

func printLedger(ctx context.Context, out io.Writer, m *retention.Manager, l retention.Ledger) error {
	var entries []retention.Entry
	if err := l.Scan(ctx, func(e retention.Entry) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Erasure ledger: %d entries, one per action applied; the first of them\n", len(entries))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  AT\tSUBJECT (keyed hash)\tTYPE\tFIELD\tACTION\tOUTCOME\tREASON")
	for _, e := range entries[:min(len(entries), 7)] {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.DateTime), short(e.Subject), e.Type,
			e.Field, e.Action, e.Outcome, e.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The ledger holds no ids: only someone who knows the id (and the
	// ledger key) can find a customer in it. Account has no pii:"tenant"
	// field: its customers belong to the tenant "".
	h := m.Hash(retention.Subject("", sampleSubject(2)))
	n := 0
	for _, e := range entries {
		if e.Subject == h {
			n++
		}
	}
	fmt.Fprintf(out, "  Was customer %s's data expired? Hash(Subject(%q, %q)) = %s…: %d ledger entries.\n",
		sampleSubject(2), "", sampleSubject(2), short(h), n)
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func count(ctx context.Context, db *sql.DB, q string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

// isTerminal reports whether w is a terminal: the progress bar is drawn
// only there, so pipes, logs and tests get plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type bar struct{ p *progressbar.ProgressBar }

func newBar(out io.Writer, tty bool, total int64) bar {
	if !tty || total <= 0 {
		return bar{}
	}
	return bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("  sweeping"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(65*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b bar) set(n int64) {
	if b.p != nil {
		_ = b.p.Set64(n)
	}
}

func (b bar) done() {
	if b.p != nil {
		_ = b.p.Finish()
	}
}
