package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
)

type rotateStep struct {
	Step  string `json:"step"`
	Done  int64  `json:"done"`
	Total int64  `json:"total,omitempty"`
}

func rotateCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var branches, disableOld bool
	var batch int
	var pause testPause
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the KMS key: add, promote and prove, rewrap, verify, disable (resumable)",
		Long: `rotate runs a whole key rotation, as guard.Guard.Rotate does: it adds a key
version (enabled, not primary), promotes it and proves at once that a second
reader (the --kms URI opened anew, as another process would) unwraps under
it, promoting the old version back if it cannot; rewraps every KMS-wrapped
key of the key store (branch keys, search root keys, the Guard's secrets);
with --rotate-branch-keys starts a new branch key in every tenant and
rewraps every data key under it; verifies that every key is under the new
version and that every row of the tables opens with cold caches; and with
--disable-old disables the old version.

It is resumable: its state is in the PREFIX+rotation table, so after an
interruption the same command continues where it stopped (and after a
finished rotation, starts a new one). Run one at a time. With a local://
keyset, every process must reload it before the old version is disabled.

` + tablesHelp + ` Without --pkg the verification reads no rows.`,
		Example: `  pii rotate --pkg ./internal/store --disable-old`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if batch < 1 || batch > 100_000 {
				return usageErr("--batch must be between 1 and 100000")
			}
			s, err := f.open(ctx, e, tablesOptional)
			if err != nil {
				return err
			}
			defer s.close()
			before, err := s.kms.Versions(ctx)
			if err != nil {
				return err
			}
			var steps []rotateStep
			var bars = map[string]bar{}
			err = s.g.Rotate(ctx, &guard.RotateOptions{
				RotateBranchKeys: branches,
				DisableOld:       disableOld,
				BatchSize:        batch,
				SecondReader: func(ctx context.Context) (keyprovider.KeyProvider, error) {
					return kmsuri.Open(ctx, f.kms, nil)
				},
				Progress: func(step string, done, total int64) {
					if len(steps) == 0 || steps[len(steps)-1].Step != step {
						for _, b := range bars {
							b.done()
						}
						t := total
						if t <= 0 {
							t = -1
						}
						bars[step] = newBar(e.stderr, t, step)
						steps = append(steps, rotateStep{Step: step})
					}
					last := &steps[len(steps)-1]
					bars[step].add(done - last.Done)
					last.Done, last.Total = done, total
					if step == "rewrap" && done > 0 {
						pause.batch(ctx, e, fmt.Sprintf("%d rewrapped", done))
					}
				},
			})
			for _, b := range bars {
				b.done()
			}
			if err != nil {
				return err
			}
			after, err := s.kms.Versions(ctx)
			if err != nil {
				return err
			}
			var primary string
			var disabled []string
			was := map[string]keyprovider.Status{}
			for _, v := range before {
				was[v.ID.Version] = v.Status
			}
			for _, v := range after {
				if v.Primary {
					primary = v.ID.Version
				}
				if v.Status == keyprovider.StatusDisabled && was[v.ID.Version] != keyprovider.StatusDisabled {
					disabled = append(disabled, v.ID.Version)
				}
			}
			if e.json {
				return writeJSON(e.stdout, map[string]any{"primary": primary, "disabled": disabled, "steps": steps, "tables": s.tableNames()})
			}
			for _, st := range steps {
				switch st.Step {
				case "rewrap":
					fmt.Fprintf(e.stdout, "rewrapped: %d KMS-wrapped keys scanned\n", st.Done)
				case "rewrap data keys":
					fmt.Fprintf(e.stdout, "rewrapped: %d data keys scanned\n", st.Done)
				case "rotate branch keys":
					fmt.Fprintf(e.stdout, "new branch keys: %d tenants\n", st.Done)
				case "verify":
					fmt.Fprintf(e.stdout, "verified: %d records open with cold caches in %s\n", st.Done, orNone(s.tableNames()))
				}
			}
			fmt.Fprintf(e.stdout, "primary key version: %s\n", primary)
			if len(disabled) > 0 {
				fmt.Fprintf(e.stdout, "disabled: %s\n", strings.Join(disabled, ", "))
			}
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&branches, "rotate-branch-keys", false, "also start a new branch key in every tenant and rewrap every data key under it")
	cmd.Flags().BoolVar(&disableOld, "disable-old", false, "disable the old key version once everything is rewrapped and verified (local:// keysets)")
	cmd.Flags().IntVar(&batch, "batch", 250, "keys rewrapped per batch")
	pause.add(cmd)
	return cmd
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no tables (give --pkg)"
	}
	return strings.Join(names, ", ")
}
