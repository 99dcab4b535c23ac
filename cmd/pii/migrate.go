package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/guard"
)

func migrateCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var dry, reverse, restart, leaveTokens bool
	var rate float64
	var batch int
	var pause testPause
	var jobTable string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Seal a table's plaintext columns in place (or, with --reverse, open them back)",
		Long: `migrate seals, in place, the values of one table (--table) that its type's
tags mark encrypt or encrypt=det and that are still in clear, writes their
blind indexes and re-indexes values sealed already, as guard's Migration
does: in batches in row key order, each batch in one transaction with the
job's cursor, locking its rows, so application writes during the job wait
for the batch and lose nothing. Verification passes then migrate what the
first pass could not see (rows written in clear behind the cursor); the job
is done after one that finds nothing. Until then, read the table with
guard.TableOptions.AcceptPlaintext.

--dry-run reads every row and reports what would change, writing nothing.
--reverse opens every sealed value back to plaintext (to leave the library
or undo a migration). --rate limits the rows read per second, to spare a
live database. It is resumable: interrupted, run the same command again
(--restart starts over). A type with token= fields is refused unless
--leave-tokens (tokenize those separately: a format-preserving token cannot
be told from the value it replaces).

` + tablesHelp,
		Example: `  pii migrate --pkg ./internal/store --table customers --dry-run
  pii migrate --pkg ./internal/store --table customers --rate 2000`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if len(f.tables) != 1 {
				return usageErr("--table: name the one table to migrate")
			}
			if rate < 0 {
				return usageErr("--rate must not be negative")
			}
			if batch < 1 || batch > 100_000 {
				return usageErr("--batch must be between 1 and 100000")
			}
			s, err := f.open(ctx, e, tablesRequired)
			if err != nil {
				return err
			}
			defer s.close()
			sp := s.tables[0]
			if !leaveTokens {
				sc, err := pii.SchemaOf(sp.rt)
				if err != nil {
					return err
				}
				for _, fl := range sc.Fields {
					if fl.Opts.Token != "" {
						return usageErr("%s.%s is a token= field; add --leave-tokens to migrate the sealed fields and leave the tokens as they are (tokenize separately: a format-preserving token cannot be told from a value)", sc.Name, fl.Path)
					}
				}
			}
			opts := sp.opts
			mg, err := guard.NewMigration(s.g, sp.rt, &opts)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if jobTable == "" {
				jobTable = f.prefix + "migrations"
			}
			var b bar
			phase := ""
			var last int64
			run := mg.Seal
			if reverse {
				run = mg.Unseal
			}
			rep, err := run(ctx, &guard.MigrateOptions{BatchSize: batch, RowsPerSecond: rate, DryRun: dry, Restart: restart,
				LeaveTokens: leaveTokens, JobTable: jobTable, Progress: func(r guard.MigrateReport) error {
					done := r.Scanned
					if r.Phase == "verify" {
						done = r.Verified
					}
					if r.Phase != phase {
						b.done()
						phase, last = r.Phase, 0
						b = newBar(e.stderr, r.Total, r.Job+" "+r.Phase)
					}
					b.add(done - last)
					last = done
					pause.batch(ctx, e, fmt.Sprintf("%d changed", r.Changed))
					return ctx.Err()
				}})
			b.done()
			if err != nil {
				return fmt.Errorf("migrate %s after %d rows changed: %w", sp.opts.Table, rep.Changed, err)
			}
			if e.json {
				return writeJSON(e.stdout, map[string]any{"table": sp.opts.Table, "type": sp.name, "migrate": rep})
			}
			verb := "sealed"
			if reverse {
				verb = "opened"
			}
			if dry {
				fmt.Fprintf(e.stdout, "dry run: %d of %d rows of %s would be %s; nothing was written\n", rep.Changed, rep.Scanned, sp.opts.Table, verb)
				return nil
			}
			fmt.Fprintf(e.stdout, "%s: %d rows scanned, %d %s; verified %d rows, %d stragglers migrated; done\n",
				sp.opts.Table, rep.Scanned, rep.Changed, verb, rep.Verified, rep.Stragglers)
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&dry, "dry-run", false, "report what would change, write nothing")
	cmd.Flags().BoolVar(&reverse, "reverse", false, "open sealed values back to plaintext")
	cmd.Flags().BoolVar(&restart, "restart", false, "discard a stored cursor and start from the first row")
	cmd.Flags().BoolVar(&leaveTokens, "leave-tokens", false, "migrate a type with token= fields, leaving those as they are")
	cmd.Flags().Float64Var(&rate, "rate", 0, "rows read per second at most (0: no limit)")
	cmd.Flags().IntVar(&batch, "batch", 500, "rows per batch (one transaction each)")
	cmd.Flags().StringVar(&jobTable, "job-table", "", "the table that keeps each job's cursor (default PREFIX+migrations)")
	pause.add(cmd)
	return cmd
}
