package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention"
)

func verifyCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var batch int
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every sealed value of the tables opens and every token reverses",
		Long: `verify reads every row of the tables (read-only), opens every sealed value
and reverses every token, with cold caches: every key comes from the key
store through --kms, as another process would get it. Run it after a
rotation, a restore, or a move to another key service. Values of forgotten
subjects count as verified (nobody can open them, by design); values of
encrypt fields still in clear are counted (a migration to run). It exits 3
when a value does not open, listing the first ones by type, field and
record id.

` + tablesHelp,
		Example: `  pii verify --kms local:///etc/app/keyset.json --db sqlite:/var/lib/app/app.db --pkg ./internal/store`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := f.open(ctx, e, tablesRequired)
			if err != nil {
				return err
			}
			defer s.close()
			b := newBar(e.stderr, -1, "verifying records")
			var last int64
			rep, err := s.g.Verify(ctx, &guard.VerifyOptions{BatchSize: batch, Progress: func(r guard.VerifyReport) error {
				b.add(r.Records - last)
				last = r.Records
				return ctx.Err()
			}})
			b.done()
			if err != nil && !errorsIs(err, guard.ErrVerify) {
				return err
			}
			if e.json {
				if werr := writeJSON(e.stdout, map[string]any{"tables": s.tableNames(), "verify": rep}); werr != nil {
					return werr
				}
			} else {
				for _, fl := range rep.Failures {
					fmt.Fprintf(e.stdout, "%s.%s (record %q): %s\n", fl.Type, fl.Field, fl.Record, fl.Error)
				}
				fmt.Fprintf(e.stdout, "%d records in %s: %d sealed values opened, %d tokens reversed, %d of forgotten subjects, %d still in clear\n",
					rep.Records, strings.Join(s.tableNames(), ", "), rep.Sealed, rep.Tokens, rep.Shredded, rep.Plaintext)
			}
			if rep.Failed > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("%d of %d records hold values that do not open", rep.Failed, rep.Records)}
			}
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().IntVar(&batch, "batch", 500, "rows read per query")
	return cmd
}

// entry is a ledger entry as the command prints it: keyed hashes, never
// the ids.
type entry struct {
	Subject string            `json:"subject_hash,omitempty"`
	Record  string            `json:"record_hash,omitempty"`
	Type    string            `json:"type"`
	Field   string            `json:"field,omitempty"`
	Action  string            `json:"action"`
	Policy  string            `json:"policy"`
	Outcome retention.Outcome `json:"outcome"`
	Reason  string            `json:"reason,omitempty"`
	At      time.Time         `json:"at"`
}

func entriesOf(es []retention.Entry) []entry {
	out := make([]entry, len(es))
	for i, x := range es {
		out[i] = entry{Subject: x.Subject, Record: x.Record, Type: x.Type, Field: x.Field, Action: x.Action,
			Policy: x.Policy, Outcome: x.Outcome, Reason: x.Reason, At: x.At.UTC()}
	}
	return out
}

func forgetCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var tenant, subject string
	cmd := &cobra.Command{
		Use:   "forget",
		Short: "Erase a data subject across every table (an erasure request)",
		Long: `forget answers an erasure request for the data subject (--tenant, --subject)
across every table, as guard.Guard.Forget does in the program: each field
of the subject's rows gets its then= action (null without one) and its
blind index goes with it, rows whose policy says delete are deleted, then
the subject's keys are shredded and their stored tokens deleted, one ledger
entry per field. Legal holds, min= and then=block keep what they cover; the
shred then waits (pending) until a sweep after they lapse. It is
idempotent: run it again after an interruption.

The command checks holds and min= in the tables it knows only: it refuses
when the source registers stores it cannot read, or tables --table leaves
out (see --partial). It prints
what it did, never the subject id; the ledger holds keyed hashes.

` + tablesHelp,
		Example: `  pii forget --pkg ./internal/store --tenant acme --subject cust-42`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if subject == "" {
				return usageErr("--subject is required")
			}
			s, err := f.open(ctx, e, tablesComplete)
			if err != nil {
				return err
			}
			defer s.close()
			rep, err := s.g.Forget(ctx, tenant, subject)
			if err != nil {
				return err
			}
			if e.json {
				return writeJSON(e.stdout, map[string]any{"tables": s.tableNames(), "applied": rep.Applied, "kept": rep.Kept,
					"key_shredded": rep.KeyShredded, "shred_pending": rep.ShredPending, "entries": entriesOf(rep.Entries)})
			}
			keys := "the subject's keys are shredded"
			switch {
			case rep.ShredPending:
				keys = "the subject's key shred is pending until the kept values lapse (a sweep completes it)"
			case !rep.KeyShredded:
				keys = "the subject's keys are not shredded"
			}
			fmt.Fprintf(e.stdout, "erased %d fields in %s; kept %d; %s\n", rep.Applied, strings.Join(s.tableNames(), ", "), rep.Kept, keys)
			for _, x := range rep.Entries {
				if x.Outcome != retention.OutcomeApplied && x.Field != "" {
					fmt.Fprintf(e.stdout, "  kept %s.%s: %s\n", x.Type, x.Field, x.Reason)
				}
			}
			return nil
		},
	}
	f.add(cmd, true)
	f.addPartial(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", "", "the subject's tenant (\"\" for types without a tenant field)")
	cmd.Flags().StringVar(&subject, "subject", "", "the subject id (required)")
	return cmd
}

func exportCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var tenant, subject, viewer, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export every value held about a data subject as JSON (an access request)",
		Long: `export answers a subject access request: every tagged value held about the
data subject (--tenant, --subject) in every table, opened (sealed values
decrypted, tokens reversed), as the JSON document guard.Guard.Export writes
(fieldguard.pii/export/v1), with each value's category, purpose, legal
basis, retention, protection and source. Every value exported is audited
(one export event per value in the PREFIX+audit table, naming --viewer).

The document is personal data: -o writes it to a new file readable by its
owner only (it refuses to overwrite one); without -o it goes to standard
output.

` + tablesHelp,
		Example: `  pii export --pkg ./internal/store --tenant acme --subject cust-42 --viewer dpo@acme.example -o sar.json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if subject == "" {
				return usageErr("--subject is required")
			}
			if viewer == "" {
				return usageErr("--viewer is required: who answers the request (recorded in the audit events)")
			}
			s, err := f.open(ctx, e, tablesRequired)
			if err != nil {
				return err
			}
			defer s.close()
			doc, err := s.g.Export(ctx, mask.Viewer{ID: viewer, Role: "export"}, tenant, subject)
			if err != nil {
				return err
			}
			if err := writeDoc(e, out, doc); err != nil {
				return err
			}
			if out != "" && out != "-" {
				var x guard.Export
				if err := json.Unmarshal(doc, &x); err != nil {
					return err
				}
				return report(e, map[string]any{"values": len(x.Items), "output": out},
					"exported %d values to %s (audited as viewer %s)\n", len(x.Items), out, viewer)
			}
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&tenant, "tenant", "", "the subject's tenant")
	cmd.Flags().StringVar(&subject, "subject", "", "the subject id (required)")
	cmd.Flags().StringVar(&viewer, "viewer", "", "who answers the request, recorded in the audit events (required)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the document to this new file (mode 0600) instead of standard output")
	return cmd
}

// sweepRow is one registered type's sweep, or (Type "") the pending
// shreds completed.
type sweepRow struct {
	Type          string `json:"type"`
	Scanned       int64  `json:"scanned"`
	Applied       int64  `json:"applied"`
	Deleted       int64  `json:"deleted"`
	Held          int64  `json:"held"`
	Deferred      int64  `json:"deferred"`
	KeysShredded  int64  `json:"keys_shredded"`
	ShredsPending int64  `json:"shreds_pending"`
}

func sweepCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var dry bool
	var batch int
	var pause testPause
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Apply the retention policies that are due (or, with --dry-run, report them)",
		Long: `sweep runs the retention sweep over every table, as guard.Guard.Sweep does
in the program: first the pending key shreds whose kept values have
lapsed, then every field whose retain= period is over gets its then=
action, in batches, each in one transaction with its ledger entries.
Holds and min= defer what they cover. --dry-run changes nothing and
reports what would be done.

A sweep is idempotent and resumable: interrupted, run it again.

` + tablesHelp,
		Example: `  pii sweep --pkg ./internal/store --dry-run
  pii sweep --pkg ./internal/store`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := f.open(ctx, e, tablesComplete)
			if err != nil {
				return err
			}
			defer s.close()
			b := newBar(e.stderr, -1, "sweeping")
			var scanned int64
			per := map[string]int64{}
			ps, err := s.g.Sweep(ctx, &retention.SweepOptions{DryRun: dry, BatchSize: batch, Progress: func(p retention.Progress) {
				b.add(p.Scanned - per[p.Type])
				scanned += p.Scanned - per[p.Type]
				per[p.Type] = p.Scanned
				pause.batch(ctx, e, fmt.Sprintf("%d applied", p.Applied))
			}})
			b.done()
			if err != nil {
				return fmt.Errorf("sweep: %w", err)
			}
			rows := make([]sweepRow, len(ps))
			for i, p := range ps {
				rows[i] = sweepRow{Type: p.Type, Scanned: p.Scanned, Applied: p.Applied, Deleted: p.Deleted, Held: p.Held,
					Deferred: p.Deferred, KeysShredded: p.KeysShredded, ShredsPending: p.ShredsPending}
			}
			if e.json {
				return writeJSON(e.stdout, map[string]any{"dry_run": dry, "tables": s.tableNames(), "types": rows})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tSCANNED\tAPPLIED\tDELETED\tHELD\tDEFERRED\tKEYS SHREDDED\tSHREDS PENDING")
			for _, r := range rows {
				name := r.Type
				if name == "" {
					name = "(pending shreds)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, r.Scanned, r.Applied, r.Deleted, r.Held, r.Deferred, r.KeysShredded, r.ShredsPending)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if dry {
				fmt.Fprintln(e.stdout, "dry run: nothing was changed")
			}
			return nil
		},
	}
	f.add(cmd, true)
	f.addPartial(cmd)
	cmd.Flags().BoolVar(&dry, "dry-run", false, "report what would be done, change nothing")
	cmd.Flags().IntVar(&batch, "batch", 500, "rows per batch (one transaction each)")
	pause.add(cmd)
	return cmd
}

func breachCmd(e *env) *cobra.Command {
	f := &guardFlags{}
	var kmsVersion, branch, dek, out string
	cmd := &cobra.Command{
		Use:   "breach-report",
		Short: "Say what a compromised key exposes: tenants, subjects, categories, fields",
		Long: `breach-report says what one compromised key exposes, from the key store and
the tables' types, as guard.Guard.BreachReport does: which tenants, which
data subjects (by the id the key store holds) and how many, which fields
and categories, and by which key. Name exactly one key:

  --kms-version V        a version of the --kms key (see pii keys list)
  --branch TENANT:V      a tenant's branch key version
  --dek TENANT:SCOPE:ID  one data key; SCOPE is s:SUBJECT or t (tenant data)

The text output is a summary; --json prints the document
(fieldguard.pii/breach/v1) and -o writes it to a new file readable by its
owner only. It holds subject ids: treat it as personal data.

` + tablesHelp + ` Without --pkg the report knows no fields.`,
		Example: `  pii breach-report --pkg ./internal/store --kms-version 1663381270 -o breach.json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var c guard.Compromised
			n := 0
			if kmsVersion != "" {
				n++
			}
			if branch != "" {
				n++
				i := strings.LastIndexByte(branch, ':')
				v, err := strconv.ParseUint(branch[i+1:], 10, 32)
				if i < 0 || err != nil {
					return usageErr("--branch %q: want TENANT:VERSION", branch)
				}
				c.Key = &envelope.KeyRef{Kind: envelope.KindBranch, Tenant: branch[:i], ID: uint32(v)}
			}
			if dek != "" {
				n++
				tenant, rest, ok1 := strings.Cut(dek, ":")
				i := strings.LastIndexByte(rest, ':')
				if !ok1 || i < 0 {
					return usageErr("--dek %q: want TENANT:SCOPE:ID", dek)
				}
				id, err := strconv.ParseUint(rest[i+1:], 10, 32)
				if err != nil || (rest[:i] != "t" && !strings.HasPrefix(rest[:i], "s:")) {
					return usageErr("--dek %q: want TENANT:SCOPE:ID with SCOPE s:SUBJECT or t", dek)
				}
				c.Key = &envelope.KeyRef{Kind: envelope.KindDEK, Tenant: tenant, Scope: rest[:i], ID: uint32(id)}
			}
			if n != 1 {
				return usageErr("name exactly one compromised key: --kms-version, --branch or --dek")
			}
			s, err := f.open(ctx, e, tablesOptional)
			if err != nil {
				return err
			}
			defer s.close()
			if kmsVersion != "" {
				vs, err := s.kms.Versions(ctx)
				if err != nil {
					return err
				}
				for _, v := range vs {
					if v.ID.Version == kmsVersion {
						id := v.ID
						c.KMSKey = &id
					}
				}
				if c.KMSKey == nil {
					return usageErr("no key version %s (see pii keys list)", kmsVersion)
				}
			}
			doc, err := s.g.BreachReport(ctx, c)
			if err != nil {
				return err
			}
			if out != "" {
				if err := writeDoc(e, out, doc); err != nil {
					return err
				}
			}
			if e.json {
				if out == "" {
					_, err := e.stdout.Write(append(doc, '\n'))
					return err
				}
				return writeJSON(e.stdout, map[string]any{"output": out})
			}
			var b guard.Breach
			if err := json.Unmarshal(doc, &b); err != nil {
				return err
			}
			return printBreach(e, &b, out)
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&kmsVersion, "kms-version", "", "a compromised version of the --kms key")
	cmd.Flags().StringVar(&branch, "branch", "", "a compromised branch key: TENANT:VERSION")
	cmd.Flags().StringVar(&dek, "dek", "", "a compromised data key: TENANT:SCOPE:ID")
	cmd.Flags().StringVarP(&out, "output", "o", "", "also write the JSON document to this new file (mode 0600)")
	return cmd
}

func printBreach(e *env, b *guard.Breach, out string) error {
	w := e.stdout
	fmt.Fprintf(w, "compromised: %s\n", b.Compromised)
	if b.AllTenants {
		fmt.Fprintln(w, "every tenant's token fields are exposed (the tokenizer root key)")
	}
	if len(b.Secrets) > 0 {
		fmt.Fprintf(w, "secrets exposed: %s\n", strings.Join(b.Secrets, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tSUBJECTS\tTENANT DATA\tDEKS\tSEARCH KEY\tFIELDS")
	for _, t := range b.Tenants {
		subjects := strconv.Itoa(t.SubjectCount)
		if t.AllSubjects {
			subjects = "all"
		}
		var fields []string
		for _, x := range t.Fields {
			fields = append(fields, x.Type+"."+x.Field)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", t.Tenant, subjects, yesNo(t.TenantData), t.DEKs, yesNo(t.SearchRoot), strings.Join(fields, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	cats := "none known"
	if len(b.Categories) > 0 {
		cats = strings.Join(b.Categories, ", ")
	}
	fmt.Fprintf(w, "categories: %s\n", cats)
	if out != "" {
		fmt.Fprintf(w, "the report, with the subject ids, is in %s\n", out)
	}
	return nil
}
