package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
)

type rewrapSummary struct {
	Kind      string `json:"kind"` // "kms" (branch keys, search root keys, secrets) or "dek"
	Scanned   int    `json:"scanned"`
	Rewrapped int    `json:"rewrapped"`
	Skipped   int    `json:"skipped"` // already under the current key
}

func rewrapCmd(e *env) *cobra.Command {
	var kms, db, table, tenant string
	var batch int
	var pause testPause
	var deks bool
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Rewrap every KMS-wrapped key of the key store under the primary version",
		Long: `rewrap reads the key store in --db (table --keys-table) and rewraps every
KMS-wrapped key (each tenant's branch keys and search root keys, and the
secrets kept there: a Guard's tokenizer root, ledger and pseudonym keys)
under the primary version of --kms: each is unwrapped, wrapped under the primary, read
back, unwrapped and compared before it replaces the old wrap. Data keys and
field ciphertexts do not change. With --deks it also rewraps every data key
under its tenant's latest branch key.

It is resumable: interrupted, run it again; keys already under the primary
are skipped. Run it after pii keys promote and before pii keys disable.`,
		Example: `  PII_KMS=local:///etc/app/keyset.json PII_DB=sqlite:/var/lib/app/app.db pii rewrap`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if batch < 1 || batch > 100_000 {
				return usageErr("--batch must be between 1 and 100000")
			}
			d, err := openDB(ctx, db)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := d.requireTable(ctx, table); err != nil {
				return err
			}
			c, err := openKMS(ctx, kms, false)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := sqlkeystore.New(d.DB, &sqlkeystore.Options{Dialect: d.dialect.Public(), Table: table})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			sealer, err := envelope.New(c, &envelope.Options{Store: st})
			if err != nil {
				return err
			}
			type job struct {
				kind string
				run  func(context.Context, envelope.RewrapOptions) (envelope.Progress, error)
			}
			jobs := []job{{"kms", sealer.RewrapBranchKeys}}
			if deks {
				jobs = append(jobs, job{"dek", sealer.RewrapDEKs})
			}
			var out []rewrapSummary
			for _, j := range jobs {
				bar := newBar(e.stderr, -1, "rewrapping "+j.kind+" keys")
				var last envelope.Progress
				p, err := j.run(ctx, envelope.RewrapOptions{Tenant: tenant, BatchSize: batch, Progress: func(p envelope.Progress) error {
					bar.add(int64(p.Scanned - last.Scanned))
					last = p
					pause.batch(ctx, e, fmt.Sprintf("%d rewrapped", p.Rewrapped))
					return ctx.Err()
				}})
				bar.done()
				if err != nil {
					return fmt.Errorf("rewrap %s keys after %d rewrapped: %w", j.kind, p.Rewrapped, err)
				}
				out = append(out, rewrapSummary{Kind: j.kind, Scanned: p.Scanned, Rewrapped: p.Rewrapped, Skipped: p.Skipped})
			}
			if e.json {
				return writeJSON(e.stdout, map[string]any{"rewrap": out})
			}
			for _, s := range out {
				what := "KMS-wrapped keys (branch keys, search root keys, secrets)"
				if s.Kind == "dek" {
					what = "data keys"
				}
				fmt.Fprintf(e.stdout, "%s: %d scanned, %d rewrapped, %d already under the current key\n", what, s.Scanned, s.Rewrapped, s.Skipped)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kms, "kms", "", kmsHelp)
	cmd.Flags().StringVar(&db, "db", "", dbHelp)
	cmd.Flags().StringVar(&table, "keys-table", defaultKeysTable, "the key store's table")
	cmd.Flags().StringVar(&tenant, "tenant", "", "rewrap one tenant's keys only")
	cmd.Flags().IntVar(&batch, "batch", 250, "keys read per batch")
	cmd.Flags().BoolVar(&deks, "deks", false, "also rewrap every data key under its tenant's latest branch key")
	pause.add(cmd)
	return cmd
}

// testPause is the hidden --test-pause-after N of the resumable commands,
// for the tests that interrupt them: after the Nth committed batch it says
// so on standard error and holds the run until it is interrupted.
type testPause struct{ after, batches int }

func (p *testPause) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.after, "test-pause-after", 0, "")
	_ = cmd.Flags().MarkHidden("test-pause-after")
}

func (p *testPause) batch(ctx context.Context, e *env, what string) {
	if p.batches++; p.after > 0 && p.batches == p.after {
		fmt.Fprintf(e.stderr, "pii: paused after %d batches (%s)\n", p.batches, what)
		<-ctx.Done()
	}
}

// bar is a progress bar drawn only when w is a terminal.
type bar struct{ p *progressbar.ProgressBar }

func newBar(w io.Writer, total int64, desc string) bar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return bar{}
	}
	return bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(65_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b bar) add(n int64) {
	if b.p != nil {
		_ = b.p.Add64(n)
	}
}

func (b bar) done() {
	if b.p != nil {
		_ = b.p.Finish()
	}
}
