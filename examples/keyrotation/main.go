// Command keyrotation rotates a key-encryption key the way Tink, Vault and
// the cloud KMSs do it, without losing a byte, on a database of customers
// it seeds itself:
//
//	go run ./examples/keyrotation
//
// With no arguments it makes a fresh working folder holding a development
// keyset (keyprovider/local) and an SQLite database, and seals 10,000
// synthetic customers with envelope (keyring mode on the SQL key store in
// the same database), tokenizing phone and card numbers. Then it adds a new
// key version; proves that a second process re-opening the keyset can
// unwrap under it before it wraps anything; promotes it; rewraps every
// KMS-wrapped key (envelope's branch and search root keys, the tokenizer's
// root key) in resumable batches, and with --rotate-branch also rotates the
// branch keys and rewraps every data key; verifies that every record opens
// and equals what was sealed (a keyed hash of each original record is kept
// for this, never its plaintext); disables the old version; and reports
// that destroying it is now safe (--destroy-old does it). A summary table
// ends the run.
//
// Every step is recorded in the database, and every rewrap batch commits
// with its cursor, so a run killed at any point continues with
// --resume --dir DIR. Each new wrap is unwrapped and compared before it
// replaces the old one. Run with -h for the flags.
//
// Two environment variables exist for tests: KEYROTATION_BATCH_DELAY (a
// duration) pauses after every rewrap batch and reports it, so a test can
// kill the process mid-rewrap; KEYROTATION_GCP_EMULATOR (a loopback
// host:port) sends gcp-kms:// URIs to an in-process Cloud KMS imitation
// without credentials.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == readerCommand {
		os.Exit(runReader(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// batchDelayEnv slows the rewrap by a pause after every batch, so the
// crash-safety test can kill the process in the middle of it.
const batchDelayEnv = "KEYROTATION_BATCH_DELAY"

type config struct {
	dir          string
	kms          string
	db           string
	records      int64
	recordsSet   bool
	seed         uint64
	batch        int
	resume       bool
	rotateBranch bool
	destroyOld   bool
	batchDelay   time.Duration
}

const usageText = `Usage: go run ./examples/keyrotation [flags]

Rotates a key-encryption key over a database it seeds, crash-safe and
resumable. With no flags: a fresh working folder, a development keyset and an
SQLite database.

Flags:
`

func parseFlags(args []string, stdout io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("keyrotation", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.dir, "dir", "", "working folder for the keyset, master key and SQLite database (default: a new folder under "+os.TempDir()+")")
	fs.StringVar(&c.kms, "kms", "", "key URI: gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K, vault://HOST/MOUNT/keys/NAME, aws-kms://ARN or local://PATH (master key in "+masterKeyEnv+"); default: a development keyset in the working folder")
	fs.StringVar(&c.db, "db", "", "database: sqlite:PATH or a postgres:// URL (default: sqlite:DIR/keyrotation.db)")
	fs.Int64Var(&c.records, "records", 10_000, "number of synthetic customers to seal")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the synthetic customer generator")
	fs.IntVar(&c.batch, "batch", 250, "keys rewrapped per batch; the resume cursor is saved after each")
	fs.BoolVar(&c.resume, "resume", false, "continue the interrupted or finished run in --dir")
	fs.BoolVar(&c.rotateBranch, "rotate-branch", false, "also rotate the branch keys and rewrap every data key under the new ones")
	fs.BoolVar(&c.destroyOld, "destroy-old", false, "destroy the old key version once every key is verified under the new one")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return c, err
		}
		return c, fmt.Errorf("%s (run with -h for the flags)", err)
	}
	fs.Visit(func(f *flag.Flag) { c.recordsSet = c.recordsSet || f.Name == "records" })
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (run with -h for the flags)", fs.Arg(0))
	}
	switch {
	case c.records < 1 || c.records > 10_000_000:
		return c, errors.New("--records must be between 1 and 10000000")
	case c.batch < 1 || c.batch > 100_000:
		return c, errors.New("--batch must be between 1 and 100000")
	case c.resume && c.dir == "":
		return c, errors.New("--resume needs --dir, the working folder of the run to continue")
	}
	if c.db != "" {
		if _, _, _, err := parseDBFlag(c.db, ""); err != nil {
			return c, err
		}
	}
	if c.kms != "" {
		if _, err := kmsuri.Parse(c.kms); err != nil {
			return c, fmt.Errorf("--kms: %w", err)
		}
	}
	if v := os.Getenv(batchDelayEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("%s: want a duration such as 20ms", batchDelayEnv)
		}
		c.batchDelay = d
	}
	return c, nil
}

// run is the program; it returns the exit code. Errors are one line on
// stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "keyrotation: "+err.Error())
		return 2
	}
	r := &runner{cfg: cfg, stdout: stdout, tty: isTerminal(stdout), start: time.Now()}
	defer r.close()
	if err := r.run(ctx); err != nil {
		if r.tempDir && !r.dbReady {
			// Nothing worth keeping was made in the fresh folder.
			if r.db != nil {
				r.db.Close()
				r.db = nil
			}
			os.RemoveAll(r.dir)
			r.dir = ""
		}
		msg := firstLine(err.Error())
		if errors.Is(err, context.Canceled) {
			msg = "interrupted"
		}
		if r.dir != "" && r.dbReady && !errors.Is(err, errVerify) {
			msg += "; continue with: go run ./examples/keyrotation --resume --dir " + r.dir + r.extraFlags()
		}
		fmt.Fprintln(stderr, "keyrotation: "+msg)
		return 1
	}
	return 0
}

var errVerify = errors.New("verification failed")

type runner struct {
	cfg    config
	stdout io.Writer
	tty    bool
	start  time.Time

	dir     string
	tempDir bool // dir was made by this run
	kms     *kms
	db      *database
	dbReady bool

	seed  uint64
	step  int
	steps []stepResult
}

type stepResult struct {
	name   string
	took   time.Duration
	calls  int64
	result string
}

const totalSteps = 10

func (r *runner) close() {
	if r.kms != nil {
		r.kms.close()
	}
	if r.db != nil {
		r.db.Close()
	}
}

func (r *runner) printf(format string, args ...any) { fmt.Fprintf(r.stdout, format, args...) }

// extraFlags repeats the flags a --resume must be given again.
func (r *runner) extraFlags() string {
	s := ""
	switch {
	case r.cfg.db == "" || r.db == nil:
	case r.db.postgres:
		s += " --db <the same URL>" // never print the password
	default:
		s += " --db " + r.cfg.db
	}
	if r.cfg.kms != "" {
		s += " --kms " + r.cfg.kms
	}
	if r.cfg.rotateBranch {
		s += " --rotate-branch"
	}
	return s
}

// do runs one step: it prints its title, runs f, and records the time, the
// KMS calls and the one-line result for the summary. A step already done in
// an earlier run (done is true) is reported and skipped.
func (r *runner) do(ctx context.Context, name, title string, done bool, f func() (string, error)) error {
	r.step++
	r.printf("[%d/%d] %s\n", r.step, totalSteps, title)
	if done {
		r.printf("      done in an earlier run\n")
		r.steps = append(r.steps, stepResult{name: name, result: "done earlier"})
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	calls, t0 := r.calls(), time.Now()
	res, err := f()
	took := time.Since(t0)
	if err != nil {
		return err
	}
	first, rest, _ := strings.Cut(res, "\n")
	r.printf("      %s (%s)\n", first, round(took))
	if rest != "" {
		r.printf("%s\n", rest)
	}
	r.steps = append(r.steps, stepResult{name: name, took: took, calls: r.calls() - calls, result: short(res)})
	return nil
}

func (r *runner) calls() int64 {
	if r.kms == nil {
		return 0
	}
	return r.kms.calls()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// short is the summary form of a step result: up to the first ";".
func short(s string) string {
	if i := strings.Index(s, ";"); i >= 0 {
		s = s[:i]
	}
	return s
}

func (r *runner) markDone(ctx context.Context, step string) error {
	return r.db.setState(ctx, r.db, "done_"+step, "1")
}

func (r *runner) isDone(ctx context.Context, step string) (bool, error) {
	v, err := r.db.getState(ctx, r.db, "done_"+step)
	return v == "1", err
}

func (r *runner) run(ctx context.Context) error {
	cfg := r.cfg
	r.printf("pii key rotation example: rotate a key-encryption key without losing a byte\n\n")

	// An explicit database first, so an unreachable server fails before
	// anything is created.
	if cfg.db != "" {
		if err := r.openDB(ctx, ""); err != nil {
			return err
		}
	}

	// The working folder.
	if cfg.dir == "" {
		d, err := os.MkdirTemp("", "pii-keyrotation-")
		if err != nil {
			return fmt.Errorf("working folder: %w", err)
		}
		r.dir, r.tempDir = d, true
	} else {
		st, err := os.Stat(cfg.dir)
		switch {
		case err == nil && !st.IsDir():
			return fmt.Errorf("--dir %s is not a folder", cfg.dir)
		case err != nil && cfg.resume:
			return fmt.Errorf("--resume: working folder %s does not exist", cfg.dir)
		case err != nil:
			if err := os.MkdirAll(cfg.dir, 0o700); err != nil {
				return fmt.Errorf("working folder: %w", err)
			}
		}
		r.dir = cfg.dir
	}
	r.printf("Working folder: %s\n", r.dir)
	if !cfg.resume {
		if _, err := os.Stat(filepath.Join(r.dir, keysetFile)); err == nil {
			return fmt.Errorf("%s already holds a run; continue it with --resume --dir %s, or choose an empty --dir", r.dir, r.dir)
		}
	}
	if r.db == nil {
		if err := r.openDB(ctx, r.dir); err != nil {
			return err
		}
	}
	db := r.db
	r.printf("Database:       %s\n", db.display)
	if err := db.ensureStateTable(ctx); err != nil {
		return err
	}
	if err := r.createCustomerTable(ctx); err != nil {
		return err
	}
	switch n, err := db.getInt(ctx, db, "records"); {
	case err != nil:
		return err
	case n != 0 && !cfg.resume:
		return fmt.Errorf("the database %s already holds a run; continue it with --resume, or use another --db", db.display)
	case n == 0 && cfg.resume:
		return fmt.Errorf("--resume: the database %s holds no run; pass the --db and --kms of the run to continue, or start afresh with another --dir", db.display)
	}

	// Step 1: the key provider.
	if err := r.doKeyset(ctx); err != nil {
		return err
	}
	r.dbReady = true

	records, err := db.getInt(ctx, db, "records")
	if err != nil {
		return err
	}
	seed, err := db.getInt(ctx, db, "seed")
	if err != nil {
		return err
	}
	if records == 0 {
		records, seed = cfg.records, int64(cfg.seed)
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if err := db.setInt(ctx, tx, "records", records); err != nil {
				return err
			}
			return db.setInt(ctx, tx, "seed", seed)
		})
		if err != nil {
			return err
		}
	} else if cfg.recordsSet && records != cfg.records {
		r.printf("      (--records ignored: this run was started with %d records)\n", records)
	}
	r.seed = uint64(seed)
	oldV, err := db.getState(ctx, db, "old_version")
	if err != nil {
		return err
	}
	if oldV == "" {
		p, err := r.kms.primary(ctx)
		if err != nil {
			return err
		}
		oldV = p.Version
		if err := db.setState(ctx, db, "old_version", oldV); err != nil {
			return err
		}
	}

	// The Sealer and Tokenizer the run works with.
	cs, err := r.newCryptoSet(ctx)
	if err != nil {
		return err
	}
	defer cs.close()

	// Step 2: seed.
	done, err := r.isDone(ctx, "seed")
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Seal %d synthetic customers (name, e-mail, date of birth encrypted; phone, card tokenized)", records)
	err = r.do(ctx, "seal customers", title, done, func() (string, error) {
		n, err := r.seedCustomers(ctx, cs, records)
		if err != nil {
			return "", err
		}
		if err := r.markDone(ctx, "seed"); err != nil {
			return "", err
		}
		nk, err := r.countKeys(ctx, envelope.KindBranch, envelope.KindSearch)
		if err != nil {
			return "", err
		}
		nd, err := r.countKeys(ctx, envelope.KindDEK)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d customers sealed; %d data keys (one per customer, one for the record-hash key) under %d KMS-wrapped keys (+1 tokenizer root key); a keyed hash of each record is kept for the verification, never its plaintext", n, nd, nk), nil
	})
	if err != nil {
		return err
	}

	// Step 3: add the new version.
	newV, err := db.getState(ctx, db, "new_version")
	if err != nil {
		return err
	}
	err = r.do(ctx, "add version", "Add a new KMS key version (enabled, not yet primary)", newV != "", func() (string, error) {
		v, adopted, note, err := r.addVersion(ctx, oldV)
		if err != nil {
			return "", err
		}
		newV = v
		if err := db.setState(ctx, db, "new_version", v); err != nil {
			return "", err
		}
		if note != "" {
			return note, nil
		}
		if adopted {
			return fmt.Sprintf("version %s (added before an interruption) is enabled; primary is still %s", v, oldV), nil
		}
		return fmt.Sprintf("version %s added; primary is still %s, so nothing is wrapped under it yet", v, oldV), nil
	})
	if err != nil {
		return err
	}

	// Steps 4 and 5: second reader, promote.
	promoted, err := r.isDone(ctx, "promote")
	if err != nil {
		return err
	}
	err = r.do(ctx, "second reader", "Prove a second reader can unwrap under the new version before it wraps anything", promoted, func() (string, error) {
		return r.secondReader(ctx, newV)
	})
	if err != nil {
		return err
	}
	err = r.do(ctx, "promote", "Promote the new version: new wraps use it", promoted, func() (string, error) {
		res := fmt.Sprintf("version %s is primary; version %s still unwraps", newV, oldV)
		switch {
		case r.kms.mgr != nil:
			if err := r.kms.promote(ctx, newV); err != nil {
				return "", err
			}
		case newV == oldV:
			res = fmt.Sprintf("nothing to promote; version %s stays primary", newV)
		default:
			res = fmt.Sprintf("version %s is primary already; the KMS promoted it when it created it", newV)
		}
		return res, r.markDone(ctx, "promote")
	})
	if err != nil {
		return err
	}

	// Step 6: rewrap what the KMS wraps.
	done, err = r.isDone(ctx, "rewrap")
	if err != nil {
		return err
	}
	title = fmt.Sprintf("Rewrap every KMS-wrapped key under version %s in batches of %d (resumable)", newV, cfg.batch)
	err = r.do(ctx, "rewrap branch keys", title, done, func() (string, error) {
		s, err := r.rewrapKMSKeys(ctx, cs, newV)
		if err != nil {
			return "", err
		}
		return s, r.markDone(ctx, "rewrap")
	})
	if err != nil {
		return err
	}

	// Step 7: optionally, new branch keys and rewrapped DEKs.
	branchDone, err := r.isDone(ctx, "branch")
	if err != nil {
		return err
	}
	title = fmt.Sprintf("Rotate the branch keys and rewrap every data key in batches of %d (--rotate-branch)", cfg.batch)
	err = r.do(ctx, "rewrap data keys", title, branchDone, func() (string, error) {
		if !cfg.rotateBranch {
			return "skipped; the data keys stay under their branch keys, which are now wrapped by the new version (add --rotate-branch to rotate those too)", nil
		}
		s, err := r.rotateBranches(ctx, cs)
		if err != nil {
			return "", err
		}
		return s, r.markDone(ctx, "branch")
	})
	if err != nil {
		return err
	}
	branchDone = branchDone || cfg.rotateBranch

	// Step 8: verify, always (it only reads).
	var verified string
	var verifyErr error
	err = r.do(ctx, "verify", "Verify every record opens and equals what was sealed (fresh caches, every key through the KMS)", false, func() (string, error) {
		v, err := r.verify(ctx, newV, records, branchDone)
		if err != nil {
			return "", err
		}
		verified = fmt.Sprintf("%d/%d OK", v.ok, records)
		if !v.passed() || v.records != records {
			verified = fmt.Sprintf("FAILED: %d/%d records OK, %d of %d KMS-wrapped keys not under version %s, %d data keys not under their newest branch key",
				v.ok, records, v.staleKMS, v.kmsKeys, newV, v.staleDEKs)
			verifyErr = fmt.Errorf("%w: %s; the old version is kept", errVerify, verified)
			return verified, nil
		}
		return fmt.Sprintf("%d/%d OK; every customer opens and its keyed hash matches, and all %d KMS-wrapped keys are under version %s", v.ok, records, v.kmsKeys, newV), nil
	})
	if err != nil {
		return err
	}
	if verifyErr != nil {
		r.summary(ctx, records, verified)
		return verifyErr
	}

	// Step 9: disable the old version.
	err = r.do(ctx, "disable old", fmt.Sprintf("Disable the old version %s", oldV), false, func() (string, error) {
		if res, ok := r.unmanaged(oldV, newV, "disable"); !ok {
			return res, nil
		}
		st, _, err := r.kms.status(ctx, oldV)
		if err != nil {
			return "", err
		}
		if st != keyprovider.StatusEnabled {
			return fmt.Sprintf("version %s is already %s", oldV, st), nil
		}
		if err := r.kms.disable(ctx, oldV); err != nil {
			return "", err
		}
		return fmt.Sprintf("version %s disabled; a key still wrapped under it would now fail with keyprovider.ErrKeyDisabled, and Enable would undo this", oldV), nil
	})
	if err != nil {
		return err
	}

	// Step 10: destroy, or say it is safe.
	err = r.do(ctx, "destroy old", fmt.Sprintf("Destroy the old version %s", oldV), false, func() (string, error) {
		if res, ok := r.unmanaged(oldV, newV, "destroy"); !ok {
			return res, nil
		}
		st, _, err := r.kms.status(ctx, oldV)
		if err != nil {
			return "", err
		}
		if st == keyprovider.StatusDestroyed {
			return fmt.Sprintf("version %s is already destroyed", oldV), nil
		}
		if !cfg.destroyOld {
			return fmt.Sprintf("safe to destroy (not done); nothing stored needs version %s any more\n      destroy it with: go run ./examples/keyrotation --resume --dir %s%s --destroy-old", oldV, r.dir, r.extraFlags()), nil
		}
		if err := r.kms.destroy(ctx, oldV); err != nil {
			return "", err
		}
		return fmt.Sprintf("version %s destroyed; its key material is gone for good", oldV), nil
	})
	if err != nil {
		return err
	}
	r.summary(ctx, records, verified)
	return nil
}

func (r *runner) openDB(ctx context.Context, dir string) error {
	driver, dsn, display, err := parseDBFlag(r.cfg.db, dir)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, driver, dsn, display)
	if err != nil {
		return err
	}
	r.db = db
	return nil
}

func (r *runner) doKeyset(ctx context.Context) error {
	return r.do(ctx, "keyset", "Open the key provider", false, func() (string, error) {
		var k *kms
		var err error
		if r.cfg.kms != "" {
			k, err = openKMSURI(ctx, r.cfg.kms)
		} else {
			k, err = openLocalKeyset(r.dir)
		}
		if err != nil {
			return "", err
		}
		r.kms = k
		p, err := k.primary(ctx)
		if err != nil {
			return "", err
		}
		if prev, err := r.db.getState(ctx, r.db, "kek_key"); err != nil {
			return "", err
		} else if prev != "" && prev != p.Key {
			return "", fmt.Errorf("the database holds keys wrapped by %s, not by %s; use another --db or --dir", prev, p.Key)
		} else if prev == "" {
			if err := r.db.setState(ctx, r.db, "kek_key", p.Key); err != nil {
				return "", err
			}
		}
		if k.created && k.masterPath == "" {
			return fmt.Sprintf("created keyset %s with version %s; file %s", p.Key, p.Version, k.keysetPath), nil
		}
		if k.created {
			r.printf("\n  WARNING: a development master key was generated and stored in\n"+
				"    %s (mode 0600).\n"+
				"  It is for development only. In production the master key comes from\n"+
				"  PII_MASTER_KEY or a key file kept away from the keyset (see keyprovider/local),\n"+
				"  or the key-encryption key lives in a KMS.\n\n", k.masterPath)
			return fmt.Sprintf("created keyset %s with version %s; file %s", p.Key, p.Version, k.keysetPath), nil
		}
		if k.local == nil {
			if p.Version == "" {
				return fmt.Sprintf("opened %s", k.display), nil
			}
			return fmt.Sprintf("opened %s, primary version %s", k.display, p.Version), nil
		}
		return fmt.Sprintf("opened keyset %s, primary version %s; file %s", p.Key, p.Version, k.keysetPath), nil
	})
}

// addVersion adds the new version. If an earlier run added one and was
// interrupted before recording it, that version (enabled, not primary, not
// the old one) is adopted rather than adding another. A KMS that creates
// versions primary (Cloud KMS and Vault through this library) rotates in
// one step; one that rotates by itself (AWS KMS) has nothing to add. note
// explains those cases.
func (r *runner) addVersion(ctx context.Context, oldV string) (v string, adopted bool, note string, err error) {
	switch {
	case r.kms.mgr != nil:
		vs, err := r.kms.versions(ctx)
		if err != nil {
			return "", false, "", err
		}
		for _, v := range vs {
			if v.ID.Version != oldV && v.Status == keyprovider.StatusEnabled && !v.Primary {
				return v.ID.Version, true, "", nil
			}
		}
		id, err := r.kms.addVersion(ctx)
		if err != nil {
			return "", false, "", err
		}
		return id.Version, false, "", nil
	case r.kms.canRotate:
		if r.kms.canDescribe {
			if p, err := r.kms.primary(ctx); err != nil {
				return "", false, "", err
			} else if p.Version != oldV {
				return p.Version, true, fmt.Sprintf("version %s (created before an interruption) is primary", p.Version), nil
			}
		}
		id, err := r.kms.rotate(ctx)
		if err != nil {
			return "", false, "", err
		}
		return id.Version, false, fmt.Sprintf("version %s created; this KMS makes a new version primary at once, and every reader decrypts through the service, so all of them can use it", id.Version), nil
	}
	return oldV, false, "nothing to add; this KMS rotates its key material by itself (AWS KMS automatic rotation) and decrypts under every past material, so the rewrap below moves every key to the current one", nil
}

// unmanaged reports, for a KMS whose versions this library cannot disable
// or destroy, what to do instead; ok is true when the step can go ahead.
func (r *runner) unmanaged(oldV, newV, op string) (string, bool) {
	if r.kms.mgr != nil {
		return "", true
	}
	if oldV == newV {
		return fmt.Sprintf("nothing to %s; there is no older version to retire from here", op), false
	}
	return fmt.Sprintf("not done here; %s version %s with the KMS's own tools (gcloud kms keys versions %s, or Vault's min_decryption_version), now that nothing stored needs it", op, oldV, op), false
}

func (r *runner) summary(ctx context.Context, records int64, verified string) {
	kmsKeys, _ := r.db.getInt(ctx, r.db, "rewrap_branch_total")
	deks, _ := r.dataKeysRewrapped(ctx)
	r.printf("\nSummary\n")
	tw := tabwriter.NewWriter(r.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  step\ttime\tKMS calls\tresult\n")
	for _, s := range r.steps {
		took, calls := "-", "-"
		if s.result != "done earlier" && s.result != "skipped" {
			took, calls = round(s.took).String(), strconv.FormatInt(s.calls, 10)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.name, took, calls, s.result)
	}
	tw.Flush()
	r.printf("\n")
	tw = tabwriter.NewWriter(r.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  records\t%d\n", records)
	fmt.Fprintf(tw, "  KMS-wrapped keys rewrapped\t%d (branch keys, search root keys, tokenizer root key)\n", kmsKeys)
	fmt.Fprintf(tw, "  data keys rewrapped\t%d\n", deks)
	fmt.Fprintf(tw, "  KMS calls (this run)\t%d (wrap %d, unwrap %d, key management %d)\n", r.kms.calls(), r.kms.wraps.Load(), r.kms.unwraps.Load(), r.kms.admins.Load())
	fmt.Fprintf(tw, "  total time\t%s\n", round(time.Since(r.start)))
	fmt.Fprintf(tw, "  verification\t%s\n", verified)
	tw.Flush()
}
