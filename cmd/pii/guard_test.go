package main

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// shop is a database examples/shop wrote: a Go program with the typed
// tables customers, orders (registered as "shop.Order") and subscribers
// (in clear).
type shop struct {
	k   keyset
	db  *sql.DB
	dsn string
	env []string // PII_KMS, PII_MASTER_KEY, PII_DB, PII_PKG
}

const shopCustomers = 6

func newShop(t *testing.T, dc dbCase) shop {
	t.Helper()
	db, _, dsn := dc.open(t)
	k := newKeyset(t)
	s := shop{k: k, db: db, dsn: dsn, env: append([]string{"PII_DB=" + dsn, "PII_PKG=./examples/shop"}, k.env...)}
	cmd := exec.Command(shopBin, "--customers", "6")
	cmd.Env = append(baseEnv(), s.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "wrote 6 customers, 12 orders and 6 subscribers (in clear)\n", string(out))
	return s
}

func (s shop) run(t *testing.T, args ...string) result {
	t.Helper()
	return runPII(t, cmdOpts{env: s.env}, args...)
}

// ok runs args with --json and decodes the output into v.
func (s shop) ok(t *testing.T, v any, args ...string) {
	t.Helper()
	r := s.run(t, append(args, "--json")...)
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), r.stdout)
}

type verifyOut struct {
	Tables []string
	Verify guard.VerifyReport
}

// interrupted runs the command until it pauses (its hidden
// --test-pause-after hook), interrupts it and checks that it exits 130
// saying how to resume.
func interrupted(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(piiBin, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(baseEnv(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 256)
	n, err := io.ReadAtLeast(stderr, buf, len("pii: paused"))
	require.NoError(t, err, "%s", buf[:n])
	require.Contains(t, string(buf[:n]), "pii: paused after")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	rest, _ := io.ReadAll(stderr)
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitInterrupted, ee.ExitCode(), "%s", rest)
	require.Contains(t, string(rest), "interrupted; run the same command again to resume")
}

// The tables examples/shop wrote with its Go types verify, export, forget,
// sweep, migrate and rotate through the command, which reads the types
// from the program's source.
func TestGuardCommands(t *testing.T) {
	for _, dc := range dbCases {
		t.Run(dc.name, func(t *testing.T) {
			s := newShop(t, dc)

			var v verifyOut
			s.ok(t, &v, "verify")
			require.Equal(t, []string{"customers (Customer)", "orders (shop.Order)", "subscribers (Subscriber)"}, v.Tables)
			// 6 customers (name, e-mail sealed; phone tokenized), 12 orders
			// (address, invoice sealed; card tokenized), 6 subscribers in clear.
			require.Equal(t, guard.VerifyReport{Records: 24, Sealed: 6*2 + 12*2, Tokens: 6 + 12, Plaintext: 6}, v.Verify)
			r := s.run(t, "verify")
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, "24 records in customers (Customer), orders (shop.Order), subscribers (Subscriber): 36 sealed values opened, 18 tokens reversed, 0 of forgotten subjects, 6 still in clear\n", r.stdout)

			// Export: what the program wrote, opened, from every table.
			var doc guard.Export
			s.ok(t, &doc, "export", "--tenant", "acme", "--subject", "cust-003", "--viewer", "dpo@acme.example")
			got := map[string]any{}
			for _, it := range doc.Items {
				got[it.Source.Type+"/"+it.Source.Record+"/"+it.Source.Field] = it.Value
			}
			require.Equal(t, map[string]any{
				"Customer/cust-003/Name": "Grace Hopper", "Customer/cust-003/Email": "grace.3@example.com",
				"Customer/cust-003/Phone":      "+44 20 7946 0003",
				"shop.Order/ord-003-1/Address": "12 Example Street, London", "shop.Order/ord-003-2/Address": "12 Example Street, London",
				"shop.Order/ord-003-1/Card": "4111 1111 1111 1111", "shop.Order/ord-003-2/Card": "4111 1111 1111 1111",
				"shop.Order/ord-003-1/Invoice": "INV-003-1: 22.00 GBP", "shop.Order/ord-003-2/Invoice": "INV-003-2: 22.00 GBP",
				"Subscriber/sub-003/Email": "grace.3@example.com",
			}, got)
			var audited int
			require.NoError(t, s.db.QueryRow(`SELECT COUNT(*) FROM pii_audit WHERE viewer = 'dpo@acme.example'`).Scan(&audited))
			require.Equal(t, len(doc.Items), audited, "one audit event per value")
			file := filepath.Join(t.TempDir(), "sar.json")
			r = s.run(t, "export", "--tenant", "acme", "--subject", "cust-003", "--viewer", "dpo@acme.example", "-o", file)
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, "exported 10 values to "+file+" (audited as viewer dpo@acme.example)\n", r.stdout)
			st, err := os.Stat(file)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			oneLineError(t, s.run(t, "export", "--tenant", "acme", "--subject", "cust-003", "--viewer", "x", "-o", file), exitUsage, "exists; refusing to overwrite")

			// A breach report for one data key, and one for the KMS key.
			var b guard.Breach
			s.ok(t, &b, "breach-report", "--dek", "acme:s:cust-003:1")
			require.Len(t, b.Tenants, 1)
			require.Equal(t, []string{"cust-003"}, b.Tenants[0].Subjects)
			require.Equal(t, []string{"address", "email", "financial", "name"}, b.Categories)
			s.ok(t, &b, "breach-report", "--kms-version", versions(t, s.k)[0].Version)
			require.True(t, b.AllTenants)
			require.Len(t, b.Tenants, 2)
			require.ElementsMatch(t, []string{"tokenizer root key", "ledger key", "pseudonym key"}, b.Secrets)
			r = s.run(t, "breach-report", "--branch", "globex:1")
			require.Equal(t, 0, r.code, r.stderr)
			require.Contains(t, r.stdout, "compromised: branch key version 1 of tenant \"globex\"\n")
			require.Regexp(t, `\nglobex\s+3\s+no\s+3\s+no\s+Customer.Name Customer.Email shop.Order.Address shop.Order.Invoice Subscriber.Email\n`, r.stdout)

			// Forget: the invoices stay (min=6y), so the shred waits.
			var fo struct {
				Applied, Kept int
				KeyShredded   bool `json:"key_shredded"`
				ShredPending  bool `json:"shred_pending"`
				Entries       []struct{ Type, Field, Outcome, Subject string }
			}
			s.ok(t, &fo, "forget", "--tenant", "acme", "--subject", "cust-003")
			require.Equal(t, 2, fo.Kept)
			require.Equal(t, 8, fo.Applied)
			require.True(t, fo.ShredPending)
			require.False(t, fo.KeyShredded)
			for _, e := range fo.Entries {
				require.NotContains(t, e.Subject, "cust-003", "keyed hashes only")
			}
			s.ok(t, &doc, "export", "--tenant", "acme", "--subject", "cust-003", "--viewer", "dpo@acme.example")
			require.Len(t, doc.Items, 2, "the invoices")

			// Sweep: a dry run, the sweep, and nothing left.
			type sweepOut struct {
				DryRun bool `json:"dry_run"`
				Types  []sweepRow
			}
			applied := func(o sweepOut) (n int64) {
				for _, r := range o.Types {
					n += r.Applied
				}
				return n
			}
			var dry, done, again sweepOut
			s.ok(t, &dry, "sweep", "--dry-run")
			require.True(t, dry.DryRun)
			require.Positive(t, applied(dry))
			s.ok(t, &done, "sweep")
			require.Equal(t, applied(dry), applied(done))
			s.ok(t, &again, "sweep")
			require.Zero(t, applied(again))

			// Migrate the subscribers' e-mail addresses out of clear text.
			var mo struct{ Migrate guard.MigrateReport }
			s.ok(t, &mo, "migrate", "--table", "subscribers", "--dry-run")
			require.Equal(t, int64(5), mo.Migrate.Changed, "the forgotten subject's address is gone")
			s.ok(t, &v, "verify")
			require.Equal(t, int64(5), v.Verify.Plaintext, "a dry run writes nothing")
			r = s.run(t, "migrate", "--table", "subscribers")
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, "subscribers: 6 rows scanned, 5 sealed; verified 6 rows, 0 stragglers migrated; done\n", r.stdout)
			s.ok(t, &v, "verify")
			require.Zero(t, v.Verify.Plaintext)
			s.ok(t, &mo, "migrate", "--table", "subscribers", "--reverse")
			require.Equal(t, int64(5), mo.Migrate.Changed)
			s.ok(t, &v, "verify")
			require.Equal(t, int64(5), v.Verify.Plaintext)

			// Rotate the KMS key and disable the old version: everything
			// still opens.
			old := versions(t, s.k)[0].Version
			var ro struct {
				Primary  string
				Disabled []string
			}
			s.ok(t, &ro, "rotate", "--disable-old", "--rotate-branch-keys")
			require.Equal(t, []string{old}, ro.Disabled)
			require.NotEqual(t, old, ro.Primary)
			s.ok(t, &v, "verify")
			require.Zero(t, v.Verify.Failed)
			require.Equal(t, int64(24), v.Verify.Records)
		})
	}
}

// Bad input: one line each, with the exit codes scripts read.
func TestGuardCommandsBadInput(t *testing.T) {
	for _, dc := range dbCases {
		t.Run(dc.name, func(t *testing.T) { badInput(t, dc) })
	}
}

func badInput(t *testing.T, dc dbCase) {
	s := newShop(t, dc)
	wrong, err := local.GenerateMasterKey()
	require.NoError(t, err)
	wrongEnv := append(append([]string(nil), s.env...), "PII_MASTER_KEY="+base64.StdEncoding.EncodeToString(wrong))
	for _, cmd := range [][]string{
		{"verify"}, {"export", "--subject", "c", "--viewer", "v"}, {"forget", "--subject", "c"}, {"sweep"},
		{"breach-report", "--branch", "acme:1"}, {"rotate"}, {"migrate", "--table", "subscribers"},
	} {
		t.Run(cmd[0], func(t *testing.T) {
			if dc.name != "sqlite" && cmd[0] != "verify" {
				t.Skip("the same code on every database: verify covers PostgreSQL")
			}
			oneLineError(t, runPII(t, cmdOpts{env: wrongEnv}, cmd...), exitAccess, "wrong master key")
			oneLineError(t, s.run(t, append(cmd, "--db", "mysql://x")...), exitUsage, "want sqlite:PATH or a postgres:// URL")
			oneLineError(t, s.run(t, append(cmd, "--db", "postgres://%zz")...), exitUsage, "malformed PostgreSQL URL")
			oneLineError(t, s.run(t, append(cmd, "--prefix", "other_")...), exitUsage, "has no table other_keys")
			if cmd[0] != "migrate" {
				oneLineError(t, s.run(t, append(cmd, "--table", "nope")...), exitUsage, "register no such table; give its type: --table nope=TYPE")
				partial := []string{}
				if cmd[0] == "forget" || cmd[0] == "sweep" {
					partial = append(partial, "--partial") // the other tables are left out
				}
				oneLineError(t, s.run(t, append(append(cmd, "--table", "nope=Customer"), partial...)...), exitUsage, "has no table nope")
				oneLineError(t, s.run(t, append(cmd, "--table", "customers=Nope")...), exitUsage, "no struct type Nope")
			}
			oneLineError(t, s.run(t, append(cmd, "--pkg", "./no/such/pkg")...), exitUsage, "load packages")
		})
	}
	oneLineError(t, runPII(t, cmdOpts{env: s.k.env}, "verify", "--db", s.dsn), exitUsage, "--pkg is required")
	oneLineError(t, s.run(t, "forget"), exitUsage, "--subject is required")
	oneLineError(t, s.run(t, "export", "--subject", "c"), exitUsage, "--viewer is required")
	oneLineError(t, s.run(t, "breach-report"), exitUsage, "name exactly one compromised key")
	oneLineError(t, s.run(t, "breach-report", "--branch", "acme:1", "--dek", "acme:t:1"), exitUsage, "name exactly one compromised key")
	oneLineError(t, s.run(t, "breach-report", "--branch", "acme"), exitUsage, "want TENANT:VERSION")
	oneLineError(t, s.run(t, "breach-report", "--dek", "acme:x:1"), exitUsage, "SCOPE s:SUBJECT or t")
	oneLineError(t, s.run(t, "breach-report", "--kms-version", "999"), exitUsage, "no key version 999")
	oneLineError(t, s.run(t, "migrate"), exitUsage, "name the one table to migrate")
	oneLineError(t, s.run(t, "migrate", "--table", "customers"), exitUsage, "Customer.Phone is a token= field; add --leave-tokens")
	oneLineError(t, s.run(t, "verify", "--table", "customers=Customer", "--table", "customers"), exitUsage, "named twice")
	oneLineError(t, s.run(t, "verify", "--table", "orders=Customer"), exitUsage, "table orders has no column name (the columns of Customer, from examples/shop/main.go:")

	// The tables named, and only those, are read.
	var v verifyOut
	s.ok(t, &v, "verify", "--table", "customers")
	require.Equal(t, int64(6), v.Verify.Records)
	s.ok(t, &v, "verify", "--table", "subscribers", "--table", "orders=Order")
	require.Equal(t, []string{"subscribers (Subscriber)", "orders (shop.Order)"}, v.Tables)
	require.Equal(t, int64(18), v.Verify.Records)

	// A value that does not open (sealed for another field): exit 3, named
	// by type, field and record id, never by subject.
	_, err = s.db.Exec(`UPDATE orders SET address = invoice WHERE id = 'ord-002-1'`)
	require.NoError(t, err)
	r := s.run(t, "verify")
	oneLineError(t, r, exitFindings, "pii: 1 of 24 records hold values that do not open")
	require.Contains(t, r.stdout, `shop.Order.Address (record "ord-002-1"): envelope: `)
	require.NotContains(t, r.stdout, "cust-002")
	s.ok(t, &v, "verify", "--table", "customers")
}

// A source that registers a store the command cannot read: forget and
// sweep refuse (their holds and min= would go unchecked) unless --partial;
// the others warn.
func TestPartialRegistration(t *testing.T) {
	s := newShop(t, dbCases[0])
	_, err := s.db.Exec(`CREATE TABLE notes (tenant TEXT NOT NULL, id TEXT NOT NULL, owner TEXT, body TEXT, PRIMARY KEY (tenant, id))`)
	require.NoError(t, err)
	env := append(append([]string(nil), s.env...), "PII_PKG=./cmd/pii/testdata/partial")
	r := runPII(t, cmdOpts{env: env}, "forget", "--subject", "c1")
	oneLineError(t, r, exitUsage, "cmd/pii/testdata/partial/partial.go:23: NewTable[Note] with options that are not constants (name its table with --table NAME=Note)")
	require.Contains(t, r.stderr, "(2 such registrations)")
	oneLineError(t, runPII(t, cmdOpts{env: env}, "sweep"), exitUsage, "add --partial")
	r = runPII(t, cmdOpts{env: env}, "forget", "--subject", "c1", "--partial")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "in notes (Note)")
	r = runPII(t, cmdOpts{env: env}, "verify")
	require.Equal(t, 0, r.code, r.stderr)

	require.Contains(t, r.stderr, "pii: warning: cmd/pii/testdata/partial/partial.go:23: NewTable[Note] with options that are not constants")
	require.Contains(t, r.stderr, "pii: warning: cmd/pii/testdata/partial/partial.go:26: Register registers a store of the program's own; its rows are not read\n")
	// Leaving out a table the source registers is the same gap.
	r = s.run(t, "forget", "--subject", "cust-001", "--tenant", "acme", "--table", "customers")
	oneLineError(t, r, exitUsage, "examples/shop/main.go:")
	require.Contains(t, r.stderr, "NewTable[Order] registers table orders, which --table leaves out")
	r = s.run(t, "sweep", "--table", "customers", "--table", "orders", "--table", "subscribers")
	require.Equal(t, 0, r.code, r.stderr)
}

// Interrupted runs resume: rotate, migrate and sweep.
func TestResumeAfterInterrupt(t *testing.T) {
	for _, dc := range dbCases {
		t.Run(dc.name, func(t *testing.T) {
			s := newShop(t, dc)
			old := versions(t, s.k)[0].Version

			// Rotate: stopped after the first rewrap batch, resumed; one new
			// version in all.
			interrupted(t, s.env, "rotate", "--batch", "1", "--disable-old", "--test-pause-after", "1")
			var ro struct {
				Primary  string
				Disabled []string
			}
			s.ok(t, &ro, "rotate", "--batch", "1", "--disable-old")
			require.Equal(t, []string{old}, ro.Disabled)
			vs := versions(t, s.k)
			require.Len(t, vs, 2, "the resumed rotation adopts the version the first added")
			require.Equal(t, ro.Primary, vs[1].Version)
			var v verifyOut
			s.ok(t, &v, "verify")
			require.Zero(t, v.Verify.Failed)

			// Migrate: stopped after the first batch of two rows.
			interrupted(t, s.env, "migrate", "--table", "subscribers", "--batch", "2", "--test-pause-after", "1")
			var mo struct{ Migrate guard.MigrateReport }
			s.ok(t, &mo, "migrate", "--table", "subscribers", "--batch", "2")
			require.Equal(t, guard.MigrateReport{Job: "seal:subscribers", Phase: "done", Total: 6, Scanned: 6, Changed: 6, Verified: 6}, mo.Migrate)
			s.ok(t, &v, "verify")
			require.Zero(t, v.Verify.Plaintext)

			// Sweep: stopped after its first batch of one row; the rerun
			// applies the rest, and nothing twice.
			var dry, rest struct{ Types []sweepRow }
			s.ok(t, &dry, "sweep", "--dry-run")
			interrupted(t, s.env, "sweep", "--batch", "1", "--test-pause-after", "1")
			s.ok(t, &rest, "sweep", "--batch", "1")
			var want, got int64
			for i := range dry.Types {
				want += dry.Types[i].Applied
				got += rest.Types[i].Applied
			}
			require.Positive(t, want)
			require.Less(t, got, want, "the interrupted run applied its first batch")
			var ledger int64
			require.NoError(t, s.db.QueryRow(`SELECT SUM(n) FROM pii_ledger`).Scan(&ledger))
			require.Equal(t, want, ledger, "every due action once")
		})
	}
}
