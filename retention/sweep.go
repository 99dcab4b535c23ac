package retention

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/fieldguard/pii"
)

// SweepOptions configure a [Sweeper]; nil means defaults.
type SweepOptions struct {
	// BatchSize is the number of records per claim and transaction;
	// default 500.
	BatchSize int
	// DryRun walks the same candidates and reports, through OnAction and
	// the returned Stats, what would be applied, changing nothing: no
	// writes, no ledger entries, no keys shredded.
	DryRun bool
	// Progress, if set, is called after every batch.
	Progress func(Progress)
	// OnAction, if set, is called for every ledger entry written (or, in a
	// dry run, that would be written).
	OnAction func(Entry)
}

// Progress reports a running sweep.
type Progress struct {
	// Type is the schema name of the store being swept.
	Type string
	// Scanned counts candidate records examined, Applied the field actions
	// applied (or that would be, in a dry run), Deleted the records deleted,
	// Held and Deferred the actions a hold or min= stopped.
	Scanned, Applied, Deleted, Held, Deferred int64
	// Elapsed is the time since the sweep started; Rate is Scanned per second.
	Elapsed time.Duration
	Rate    float64
}

// Stats is the outcome of a sweep: the final Progress.
type Stats = Progress

// Sweeper applies due retention actions to every store registered with a
// Manager, in batches, each batch in one transaction with its ledger
// entries. A sweep is idempotent and resumable: an interrupted batch
// leaves nothing half-done, and every action is a no-op on its own output,
// so the next run finishes the job without applying anything twice. Memory
// use is bounded by the batch size, whatever the table size.
type Sweeper struct {
	m    *Manager
	opts SweepOptions
}

// NewSweeper returns a sweeper over m's registered stores.
func NewSweeper(m *Manager, opts *SweepOptions) *Sweeper {
	sw := &Sweeper{m: m}
	if opts != nil {
		sw.opts = *opts
	}
	if sw.opts.BatchSize <= 0 {
		sw.opts.BatchSize = 500
	}
	return sw
}

// Run sweeps every registered store once at the Manager's current time.
func (sw *Sweeper) Run(ctx context.Context) (Stats, error) {
	now := sw.m.clock.Now()
	return sw.run(ctx, func(st Store) (Query, bool) {
		ti, err := sw.m.typeOf(st.Schema().Type)
		if err != nil {
			return Query{}, false
		}
		cs := sw.m.cutoffs(ti.s, now)
		return Query{Clocks: cs}, len(cs) > 0
	})
}

// cutoffs returns, per clock, the latest clock value that may make some
// field of s due at now.
func (m *Manager) cutoffs(s *pii.Schema, now time.Time) []Cutoff {
	byClock := map[string]time.Time{}
	var order []string
	for _, f := range s.Fields {
		base := tagPolicy(f)
		// Overrides may set From; gather each clock the field may use.
		clocks := map[string]Policy{base.From: base}
		if m.policies != nil {
			m.policies.mu.RLock()
			for _, r := range m.policies.rules {
				if (r.typ == "" || r.typ == s.Name) && (r.field == "" || r.field == f.Path) {
					p := base.merge(r.p)
					clocks[p.From] = p
				}
			}
			m.policies.mu.RUnlock()
		}
		for from, p := range clocks {
			c := m.policies.shortest(p, s.Name, f.Path, now)
			if c.IsZero() {
				continue
			}
			old, seen := byClock[from]
			if !seen {
				order = append(order, from)
			}
			if !seen || c.After(old) {
				byClock[from] = c
			}
		}
	}
	out := make([]Cutoff, 0, len(order))
	for _, from := range order {
		out = append(out, Cutoff{Field: from, Before: byClock[from]})
	}
	return out
}

// run sweeps the stores for which sel returns true, with the query it gives.
func (sw *Sweeper) run(ctx context.Context, sel func(Store) (Query, bool)) (Stats, error) {
	m := sw.m
	now := m.clock.Now()
	start := time.Now()
	holds, err := m.activeHolds(ctx, now)
	if err != nil {
		return Stats{}, err
	}
	m.mu.RLock()
	stores := append([]Store(nil), m.stores...)
	m.mu.RUnlock()
	var total Stats
	for _, st := range stores {
		q, ok := sel(st)
		if !ok {
			continue
		}
		p := Progress{Type: st.Schema().Name}
		if err := sw.sweepStore(ctx, st, q, now, holds, start, &p); err != nil {
			return total, err
		}
		total.Scanned += p.Scanned
		total.Applied += p.Applied
		total.Deleted += p.Deleted
		total.Held += p.Held
		total.Deferred += p.Deferred
	}
	total.Elapsed = time.Since(start)
	if s := total.Elapsed.Seconds(); s > 0 {
		total.Rate = float64(total.Scanned) / s
	}
	return total, nil
}

func (sw *Sweeper) sweepStore(ctx context.Context, st Store, q Query, now time.Time, holds holdSet, start time.Time, p *Progress) error {
	m := sw.m
	ti, err := m.typeOf(st.Schema().Type)
	if err != nil {
		return err
	}
	q.Limit, q.ReadOnly = sw.opts.BatchSize, sw.opts.DryRun
	pipeline := false
	if pl, ok := st.(Pipeliner); ok && !sw.opts.DryRun {
		pipeline = pl.PipelineClaims()
	}
	// With pipelining, batch N commits in the background while batch N+1
	// is claimed and evaluated; pending delivers N's outcome, and nothing
	// of N+1 is committed or shredded before it arrives.
	var pending chan error
	wait := func() error {
		if pending == nil {
			return nil
		}
		err := <-pending
		pending = nil
		return err
	}
	report := func(b *batch, scanned int) {
		p.Scanned += int64(scanned)
		p.Applied += b.applied
		p.Deleted += b.deleted
		if sw.opts.OnAction != nil {
			for _, e := range b.entries {
				sw.opts.OnAction(e)
			}
		}
		p.Elapsed = time.Since(start)
		if s := p.Elapsed.Seconds(); s > 0 {
			p.Rate = float64(p.Scanned) / s
		}
		if sw.opts.Progress != nil {
			sw.opts.Progress(*p)
		}
	}
	var last *batch
	lastScanned := 0
	finish := func() error {
		err := wait()
		if err == nil && last != nil {
			report(last, lastScanned)
			last = nil
		}
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, wait())
		}
		cl, err := st.Claim(ctx, q)
		if err != nil {
			return errors.Join(err, wait())
		}
		recs := cl.Records()
		if len(recs) == 0 {
			cl.Rollback()
			return finish()
		}
		b := &batch{m: m, ti: ti, now: now}
		for _, rec := range recs {
			items, err := m.evaluate(now, record{ti: ti, ptr: rec.Value, created: rec.Created}, false)
			if err != nil {
				cl.Rollback()
				return errors.Join(err, wait())
			}
			due := items[:0]
			for _, it := range items {
				if it.State == Due {
					due = append(due, it)
				} else if it.State == Deferred {
					p.Deferred++
				}
			}
			if len(due) == 0 {
				continue
			}
			subject := ti.s.SubjectOf(rec.Value)
			if _, ok := m.held(holds, ti.s.Name, rec.Key, subject); ok {
				p.Held += int64(len(due))
				continue
			}
			b.apply(rec, subject, due, "", OutcomeApplied)
		}
		if sw.opts.DryRun {
			for i := range b.entries {
				b.entries[i].Outcome = OutcomeDryRun
			}
			cl.Rollback()
			report(b, len(recs))
		} else {
			if err := finish(); err != nil {
				cl.Rollback()
				return err
			}
			if err := b.external(ctx); err != nil {
				cl.Rollback()
				return err
			}
			if pipeline {
				pending = make(chan error, 1)
				go func(cl Claim, b *batch) { pending <- cl.Commit(ctx, b.changes, b.entries) }(cl, b)
				last, lastScanned = b, len(recs)
			} else {
				if err := cl.Commit(ctx, b.changes, b.entries); err != nil {
					return err
				}
				report(b, len(recs))
			}
		}
		if len(recs) < q.Limit {
			// A short batch is the last; with SKIP LOCKED another sweeper
			// may still hold rows behind us, which it will finish itself.
			return finish()
		}
		q.After = recs[len(recs)-1].Pos
	}
}

// batch collects the changes, ledger entries and external effects of one claim.
type batch struct {
	m       *Manager
	ti      *typeInfo
	now     time.Time
	changes []Change
	entries []Entry
	shred   []subjectRef
	applied int64
	deleted int64
}

type subjectRef struct{ tenant, subject string }

// apply applies items (all due, all of the record) to rec.Value and records
// the change and its ledger entries. policy overrides the entries' policy
// text when not empty (erasure requests).
func (b *batch) apply(rec Record, subject string, items []Item, policy, outcome string) {
	s := b.ti.s
	e := Entry{Record: b.m.RecordHash(s.Name, rec.Key), Type: s.Name, Outcome: outcome, At: b.now}
	if subject != "" {
		e.Subject = b.m.SubjectHash(subject)
	}
	entry := func(it Item) Entry {
		x := e
		x.Field, x.Action, x.Reason = it.Path, it.Action.String(), it.Reason
		x.Policy = b.m.policyText(it.Policy).tag
		if policy != "" {
			x.Policy = policy
		}
		return x
	}
	for _, it := range items {
		if it.Action.Kind == ActionDelete {
			b.changes = append(b.changes, Change{Key: rec.Key, Pos: rec.Pos, Delete: true, Value: rec.Value})
			b.entries = append(b.entries, entry(it))
			b.applied++
			b.deleted++
			b.shredIfAny(rec, subject, items)
			return
		}
	}
	ch := Change{Key: rec.Key, Pos: rec.Pos, Value: rec.Value}
	for _, it := range items {
		it.v.Set(it.next)
		ch.Fields = append(ch.Fields, it.Field.Path)
		if it.Action.Kind == ActionShred && it.Field.IndexFieldIndex != nil {
			iv := it.owner.FieldByIndex(it.Field.IndexFieldIndex)
			iv.Set(reflect.Zero(iv.Type()))
			ch.Fields = append(ch.Fields, indexPath(it.Field))
		}
		b.entries = append(b.entries, entry(it))
		b.applied++
	}
	b.shredIfAny(rec, subject, items)
	b.changes = append(b.changes, ch)
}

// indexPath is the schema-style path of f's companion index field.
func indexPath(f *pii.Field) string {
	if i := len(f.Path) - len(f.Name); i > 0 {
		return f.Path[:i] + f.Opts.IndexField
	}
	return f.Opts.IndexField
}

func (b *batch) shredIfAny(rec Record, subject string, items []Item) {
	for _, it := range items {
		if it.Action.Kind == ActionShred && subject != "" {
			b.shred = append(b.shred, subjectRef{b.ti.s.TenantOf(rec.Value), subject})
			return
		}
	}
}

// external performs the effects outside the store (key shredding, token
// deletion) before the batch commits; both are idempotent, so a crash
// between them and the commit is repaired by the next run.
func (b *batch) external(ctx context.Context) error {
	tenants := map[string][]string{}
	var order []string
	for _, r := range b.shred {
		if _, ok := tenants[r.subject]; !ok {
			order = append(order, r.subject)
		}
		if !slices.Contains(tenants[r.subject], r.tenant) {
			tenants[r.subject] = append(tenants[r.subject], r.tenant)
		}
	}
	for _, subject := range order {
		if err := b.m.shredSubject(ctx, tenants[subject], subject); err != nil {
			return err
		}
	}
	return nil
}

// shredSubject destroys the subject's key under each tenant, then deletes
// their vaulted tokens.
func (m *Manager) shredSubject(ctx context.Context, tenants []string, subject string) error {
	for _, tenant := range tenants {
		if m.shredder != nil {
			if err := m.shredder.ForgetSubject(ctx, tenant, subject); err != nil {
				return fmt.Errorf("retention: shred: %w", err)
			}
		}
		if m.tokens != nil {
			if _, err := m.tokens.DeleteSubject(ctx, tenant, subject); err != nil {
				return fmt.Errorf("retention: delete tokens: %w", err)
			}
		}
	}
	return nil
}
