package retention

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/fieldguard/pii"
	"go.opentelemetry.io/otel/attribute"
)

// SweepOptions configure [Manager.Sweep]; nil means defaults.
type SweepOptions struct {
	// BatchSize is the number of records per claim and transaction;
	// default 500.
	BatchSize int
	// DryRun walks the same candidates and reports, through OnAction and
	// the returned Progress, what would be applied, changing nothing: no
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
	// KeysShredded counts the subjects whose keys were shredded (or would
	// be, in a dry run); ShredsPending those whose shred waits because
	// values under their key must be kept.
	KeysShredded, ShredsPending int64
	// Elapsed is the time since the sweep started; Rate is Scanned per second.
	Elapsed time.Duration
	Rate    float64
}

// sweeper runs one sweep (Manager.Sweep) or the sweep of a release.
type sweeper struct {
	m    *Manager
	opts SweepOptions
}

// shredSet holds the subjects whose keys one run has shredded, so that a
// run shreds each key at most once (a pending shred completed first, then
// the due field erased, would ask twice).
type shredSet map[subjectRef]bool

func newSweeper(m *Manager, opts *SweepOptions) *sweeper {
	sw := &sweeper{m: m}
	if opts != nil {
		sw.opts = *opts
	}
	if sw.opts.BatchSize <= 0 {
		sw.opts.BatchSize = 500
	}
	sw.opts.OnAction = m.tel.counting(sw.opts.OnAction)
	return sw
}

// Sweep applies the due retention actions to every registered store, in
// batches, each batch in one transaction with its ledger entries. It first
// completes the pending key shreds whose kept values have lapsed, then
// sweeps every store once at the Manager's current time; completing
// pending shreds first means that a subject whose erasure request was
// waiting is erased (and shredded) once, not swept and then erased again.
//
// A sweep is idempotent and resumable: an interrupted batch leaves nothing
// half-done, and every action is a no-op on its own output, so the next
// run finishes the job without applying anything twice. Memory use is
// bounded by the batch size, whatever the table size. opts may be nil.
func (m *Manager) Sweep(ctx context.Context, opts *SweepOptions) (Progress, error) {
	return newSweeper(m, opts).sweep(ctx)
}

func (sw *sweeper) sweep(ctx context.Context) (st Progress, err error) {
	ctx, span := sw.m.tel.span(ctx, "sweep", attribute.Bool("pii.retention.dry_run", sw.opts.DryRun))
	defer func() { endSweep(span, st, err) }()
	var pend Progress
	done := shredSet{}
	if err := sw.settlePending(ctx, &pend, done); err != nil {
		return pend, err
	}
	now := sw.m.clock.Now()
	st, err = sw.run(ctx, done, func(st Store) (Query, bool) {
		ti, err := sw.m.typeOf(st.Schema().Type)
		if err != nil {
			return Query{}, false
		}
		cs := sw.m.cutoffs(ti.s, now)
		return Query{Clocks: cs}, len(cs) > 0
	})
	st.Applied += pend.Applied
	st.KeysShredded += pend.KeysShredded
	return st, err
}

// settlePending completes pending shreds (not in a dry run).
func (sw *sweeper) settlePending(ctx context.Context, st *Progress, done shredSet) error {
	if sw.opts.DryRun {
		return nil
	}
	// Every non-dry sweep (Run, Release) starts here: fail before changing
	// anything when a key shred's entry would have no ledger.
	if err := sw.m.needLedger(); err != nil {
		return err
	}
	return sw.m.completePending(ctx, sw.opts.OnAction, st, done)
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
func (sw *sweeper) run(ctx context.Context, done shredSet, sel func(Store) (Query, bool)) (Progress, error) {
	m := sw.m
	now := m.clock.Now()
	start := time.Now()
	var total Progress
	for _, st := range m.registered() {
		q, ok := sel(st)
		if !ok {
			continue
		}
		p := Progress{Type: st.Schema().Name}
		err := sw.sweepStore(ctx, st, q, now, start, &p, done)
		total.Scanned += p.Scanned
		total.Applied += p.Applied
		total.Deleted += p.Deleted
		total.Held += p.Held
		total.Deferred += p.Deferred
		total.KeysShredded += p.KeysShredded
		total.ShredsPending += p.ShredsPending
		if err != nil {
			return total, err
		}
	}
	total.Elapsed = time.Since(start)
	if s := total.Elapsed.Seconds(); s > 0 {
		total.Rate = float64(total.Scanned) / s
	}
	return total, nil
}

func (sw *sweeper) sweepStore(ctx context.Context, st Store, q Query, now time.Time, start time.Time, p *Progress, done shredSet) error {
	m := sw.m
	ti, err := m.typeOf(st.Schema().Type)
	if err != nil {
		return err
	}
	q.Limit, q.ReadOnly = sw.opts.BatchSize, sw.opts.DryRun
	pipeline := false
	if pl, ok := st.(pipeliner); ok && !sw.opts.DryRun {
		pipeline = pl.PipelineClaims()
	}
	// With pipelining, batch N commits in the background while batch N+1
	// is claimed and evaluated; pending delivers N's outcome, and nothing
	// of N+1 is committed before it arrives.
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
		p.Held += b.held
		p.Deferred += b.deferred
		p.KeysShredded += b.keysShredded
		p.ShredsPending += b.shredsPending
		if sw.opts.OnAction != nil {
			for _, e := range b.entries {
				sw.opts.OnAction(e)
			}
			for _, e := range b.keyEntries {
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
	// finish waits for the batch committing in the background, decides
	// its key shreds and reports it.
	finish := func() error {
		err := wait()
		if err == nil && last != nil {
			err = sw.settle(ctx, last, done)
			if err == nil {
				report(last, lastScanned)
			}
			last = nil
		}
		return err
	}
	// recorded holds the subjects whose pending shred this sweep has stored.
	recorded := map[subjectRef]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, wait())
		}
		// Holds are read for every batch: one placed during a long sweep
		// is honoured from the next batch on.
		holds, err := m.activeHolds(ctx, now)
		if err != nil {
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
					b.deferred++
				}
			}
			if len(due) == 0 {
				continue
			}
			subject := ti.s.SubjectOf(rec.Value)
			if _, ok := m.held(holds, rec.Tenant, ti.s.Name, rec.Key, subject); ok {
				b.held += int64(len(due))
				continue
			}
			b.apply(rec, subject, due, "", OutcomeApplied)
		}
		if sw.opts.DryRun {
			for i := range b.entries {
				b.entries[i].Outcome = OutcomeDryRun
			}
			cl.Rollback()
			if err := sw.settle(ctx, b, done); err != nil {
				return err
			}
			report(b, len(recs))
		} else {
			// A key shred is recorded as pending before the field erasure
			// that asks for it commits: if the process dies in between,
			// the next sweep still finds and completes it. Stores may not
			// take a write beside an open claim (SQLite), so the claim is
			// released, the shreds recorded, and the batch claimed again.
			var fresh []subjectRef
			for _, r := range b.shred {
				if !recorded[r.subjectRef] && !done[r.subjectRef] {
					fresh = append(fresh, r.subjectRef)
				}
			}
			if len(fresh) > 0 {
				cl.Rollback()
				if m.pending == nil {
					return errors.Join(errors.New("retention: shred needs Options.Shredder"), wait())
				}
				for _, r := range fresh {
					if err := m.pending.PutPending(ctx, m.sealPending(r.tenant, r.subject, pendingRetention)); err != nil {
						return errors.Join(err, wait())
					}
					recorded[r] = true
				}
				continue
			}
			if err := finish(); err != nil {
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
				if err := sw.settle(ctx, b, done); err != nil {
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

// settle decides the key shreds that batch b asked for, once its field
// erasures are committed: a subject's key is shredded only when nothing
// sealed under it must stay readable, in any registered store; otherwise
// the shred stays pending (recorded before the commit) and a later sweep
// completes it. In a dry run it only reports what would happen.
func (sw *sweeper) settle(ctx context.Context, b *batch, done shredSet) error {
	m := b.m
	seen := map[subjectRef]bool{}
	for _, r := range b.shred {
		if seen[r.subjectRef] || done[r.subjectRef] {
			continue
		}
		seen[r.subjectRef] = true
		n, why, err := m.keptUnderKey(ctx, r.tenant, r.subject, b.now)
		if err != nil {
			return err
		}
		e := Entry{Subject: m.subjectHash(r.tenant, r.subject), Action: string(pii.ActionShred), Policy: r.policy, At: b.now}
		switch {
		case sw.opts.DryRun:
			e.Outcome = OutcomeDryRun
			if n == 0 {
				e.Reason = "nothing under the subject's key must be kept: it would be shredded"
				b.keysShredded++
			} else {
				e.Reason = fmt.Sprintf("%d value(s) under the subject's key must be kept (%s): the shred would be pending", n, why)
				b.shredsPending++
			}
		case n == 0:
			if err := m.shredKey(ctx, r.tenant, r.subject, pendingRetention); err != nil {
				return err
			}
			if err := m.pending.DeletePending(ctx, e.Subject, pendingRetention); err != nil {
				return err
			}
			e.Outcome = OutcomeApplied
			e.Reason = "nothing under the key must be kept: " + m.shredText(pendingRetention)
			b.keysShredded++
			done[r.subjectRef] = true
		default:
			// Recorded before the commit; again in case a completion
			// removed it meanwhile (a hold placed since).
			if err := m.pending.PutPending(ctx, m.sealPending(r.tenant, r.subject, pendingRetention)); err != nil {
				return err
			}
			e.Outcome = OutcomePending
			e.Reason = fmt.Sprintf("%d value(s) under the subject's key must be kept (%s): field erased, key shred pending", n, why)
			b.shredsPending++
		}
		if !sw.opts.DryRun {
			l, err := m.ledgerOf()
			if err != nil {
				return err
			}
			if err := l.Append(ctx, e); err != nil {
				return err
			}
		}
		b.keyEntries = append(b.keyEntries, e)
	}
	return nil
}

// batch collects the changes, ledger entries and key shreds of one claim.
type batch struct {
	m          *Manager
	ti         *typeInfo
	now        time.Time
	changes    []Change
	entries    []Entry
	keyEntries []Entry // the key shreds decided after the commit
	shred      []shredRef
	applied    int64
	deleted    int64
	held       int64
	deferred   int64

	keysShredded, shredsPending int64
}

type subjectRef struct{ tenant, subject string }

// shredRef is a subject whose key a due then=shred field asks to shred,
// with the field's policy.
type shredRef struct {
	subjectRef
	policy string
}

// apply applies items (all due, all of the record) to rec.Value and records
// the change and its ledger entries. policy overrides the entries' policy
// text when not empty (erasure requests).
func (b *batch) apply(rec Record, subject string, items []Item, policy string, outcome Outcome) {
	s := b.ti.s
	e := Entry{Record: b.m.recordHash(rec.Tenant, s.Name, rec.Key), Type: s.Name, Outcome: outcome, At: b.now}
	if subject != "" {
		e.Subject = b.m.subjectHash(rec.Tenant, subject)
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
		if it.Action.Kind == pii.ActionDelete {
			b.changes = append(b.changes, Change{Tenant: rec.Tenant, Key: rec.Key, Pos: rec.Pos, Delete: true, Value: rec.Value})
			b.entries = append(b.entries, entry(it))
			b.applied++
			b.deleted++
			b.shredIfAny(rec, subject, items)
			return
		}
	}
	ch := Change{Tenant: rec.Tenant, Key: rec.Key, Pos: rec.Pos, Value: rec.Value}
	for _, it := range items {
		it.v.Set(it.next)
		ch.Fields = append(ch.Fields, it.Field.Path)
		// The blind index of an erased or rewritten value would still
		// answer lookups for the old value: it goes with it, whatever the
		// action (index needs encrypt, so the new value has no index yet).
		if it.Field.IndexFieldIndex != nil {
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

// shredIfAny notes that the record's subject's key is to be shredded when
// one of the items is a shred.
func (b *batch) shredIfAny(rec Record, subject string, items []Item) {
	for _, it := range items {
		if it.Action.Kind == pii.ActionShred && subject != "" {
			b.shred = append(b.shred, shredRef{subjectRef{rec.Tenant, subject}, b.m.policyText(it.Policy).tag})
			return
		}
	}
}
