package retention

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/fieldguard/pii"
)

// ForgetReport is the outcome of an erasure request, per field. Its
// entries are the ones written to the ledger.
type ForgetReport struct {
	// Applied counts the actions applied; Kept the fields kept back by a
	// hold, by min= or by then=block.
	Applied, Kept int
	// KeyShredded says whether the subject's key was shredded (and tokens
	// deleted): only once nothing of the subject is kept.
	KeyShredded bool
	// Entries has one entry per field acted on or kept, and one (Field "")
	// for the subject's key.
	Entries []Entry
}

const policyErasure = "erasure request"

// Forget executes the right to be forgotten for subject across every
// registered store: each personal-data field of the subject's records gets
// its then= action (fields without a retention policy are nulled), a record
// whose policy says delete is deleted, then the subject's key is shredded
// and their vaulted tokens deleted. A legal hold keeps the records it
// covers, and a field whose min= period has not ended is kept, with the
// reason and date in the report and the ledger; so is a then=block field.
// While anything is kept, the key is not shredded (it would destroy the
// kept values too). Forget is idempotent: calling it again after a hold or
// min= ends finishes the job.
func (m *Manager) Forget(ctx context.Context, subject string) (*ForgetReport, error) {
	if subject == "" {
		return nil, fmt.Errorf("retention: Forget: empty subject")
	}
	now := m.clock.Now()
	holds, err := m.activeHolds(ctx, now)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	stores := append([]Store(nil), m.stores...)
	m.mu.RUnlock()
	rep := &ForgetReport{}
	tenants := map[string]bool{}
	for _, st := range stores {
		s := st.Schema()
		if s.Subject == nil {
			continue
		}
		ti, err := m.typeOf(s.Type)
		if err != nil {
			return rep, err
		}
		q := Query{Subject: subject, Limit: 500}
		for {
			cl, err := st.Claim(ctx, q)
			if err != nil {
				return rep, err
			}
			recs := cl.Records()
			if len(recs) == 0 {
				cl.Rollback()
				break
			}
			b := batch{m: m, ti: ti, now: now}
			for _, rec := range recs {
				tenants[s.TenantOf(rec.Value)] = true
				if err := m.forgetRecord(&b, rec, subject, holds, rep); err != nil {
					cl.Rollback()
					return rep, err
				}
			}
			if err := cl.Commit(ctx, b.changes, b.entries); err != nil {
				return rep, err
			}
			rep.Entries = append(rep.Entries, b.entries...)
			if len(recs) < q.Limit {
				break
			}
			q.After = recs[len(recs)-1].Pos
		}
	}
	keyEntry := Entry{Subject: m.SubjectHash(subject), Action: ActionShred, Policy: policyErasure, At: now}
	if rep.Kept > 0 {
		keyEntry.Outcome, keyEntry.Reason = OutcomeDeferred, fmt.Sprintf("%d field(s) kept; key kept until they may be erased", rep.Kept)
	} else {
		if len(tenants) == 0 {
			tenants[""] = true
		}
		list := make([]string, 0, len(tenants))
		for tenant := range tenants {
			list = append(list, tenant)
		}
		slices.Sort(list)
		if err := m.shredSubject(ctx, list, subject); err != nil {
			return rep, err
		}
		rep.KeyShredded = true
		keyEntry.Outcome, keyEntry.Reason = OutcomeApplied, "subject key shredded, tokens deleted"
	}
	rep.Entries = append(rep.Entries, keyEntry)
	if l, ok := m.ledgerOf(stores); ok {
		if err := l.Append(ctx, keyEntry); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// ledgerOf finds a Ledger for entries that belong to no record: the first
// store that is also a Ledger, or exposes one.
func (m *Manager) ledgerOf(stores []Store) (Ledger, bool) {
	if m.ledger != nil {
		return m.ledger, true
	}
	for _, st := range stores {
		if l, ok := st.(interface{ Ledger() Ledger }); ok && l.Ledger() != nil {
			return l.Ledger(), true
		}
	}
	return nil, false
}

func (m *Manager) forgetRecord(b *batch, rec Record, subject string, holds holdSet, rep *ForgetReport) error {
	s := b.ti.s
	kept := func(it Item, outcome, reason string) {
		e := Entry{Subject: m.SubjectHash(subject), Record: m.RecordHash(s.Name, rec.Key), Type: s.Name,
			Field: it.Path, Action: it.Action.String(), Policy: policyErasure, Outcome: outcome, Reason: reason, At: b.now}
		b.entries = append(b.entries, e)
		rep.Kept++
	}
	items, err := m.forgetItems(b.now, record{ti: b.ti, ptr: rec.Value, created: rec.Created})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	if h, ok := m.held(holds, s.Name, rec.Key, subject); ok {
		for _, it := range items {
			reason := "legal hold: " + h.Reason
			if !h.Until.IsZero() {
				reason += " until " + h.Until.UTC().Format(time.RFC3339)
			}
			kept(it, OutcomeHeld, reason)
		}
		return nil
	}
	var apply []Item
	keptHere := false
	for _, it := range items {
		switch it.State {
		case Deferred:
			kept(it, OutcomeDeferred, it.Reason)
			keptHere = true
		case Blocked:
			kept(it, OutcomeBlocked, "then=block: kept, readable by the auditor role only")
			keptHere = true
		default:
			apply = append(apply, it)
		}
	}
	if keptHere {
		// The record must stay for what is kept: erase the rest field by field.
		for i := range apply {
			if apply[i].Action.Kind == ActionDelete {
				apply[i].Action = pii.Action{Kind: ActionNull}
				next, changed, err := m.actor.transform(apply[i].Field, apply[i].Action, apply[i].v)
				if err != nil {
					return err
				}
				if !changed {
					apply[i].Action.Kind = ""
					continue
				}
				apply[i].next = next
				apply[i].Reason = "erasure request; record kept for fields held back"
			}
		}
		apply = filterActions(apply)
	}
	before := b.applied
	b.apply(rec, subject, apply, policyErasure, OutcomeApplied)
	rep.Applied += int(b.applied - before)
	// The key is shredded once for the whole request, not per record.
	b.shred = nil
	return nil
}

func filterActions(items []Item) []Item {
	out := items[:0]
	for _, it := range items {
		if it.Action.Kind != "" {
			out = append(out, it)
		}
	}
	return out
}

// forgetItems lists what an erasure request does to each personal-data
// field of the record: its policy's action, or null without a policy;
// state Deferred while min= runs, Blocked for then=block. Fields already
// erased are left out.
func (m *Manager) forgetItems(now time.Time, r record) ([]Item, error) {
	s := r.ti.s
	tenant := s.TenantOf(r.ptr)
	var juris string
	if m.jurisdiction != nil {
		juris = m.jurisdiction(r.ptr)
	}
	root := reflect.ValueOf(r.ptr).Elem()
	var items []Item
	err := s.WalkOwned(r.ptr, func(f *pii.Field, path string, owner, v reflect.Value) error {
		p := m.policies.resolve(tagPolicy(f), s.Name, f.Path, tenant, juris)
		a := p.Then
		if p.Retain.IsZero() || a.Kind == "" {
			a = pii.Action{Kind: ActionNull}
		}
		it := Item{Path: path, Field: f, Action: a, Policy: p, v: v, owner: owner, State: Due, At: now, Reason: "erasure request"}
		if !p.Min.IsZero() {
			clock := r.created
			if p.From != "" {
				clock, _ = clockField(root, p.From)
			}
			if end := p.Min.AddTo(clock); !clock.IsZero() && now.Before(end) {
				it.State, it.At = Deferred, end
				it.Reason = fmt.Sprintf("min=%s keeps it until %s", p.Min, end.UTC().Format(time.RFC3339))
				items = append(items, it)
				return nil
			}
		}
		if a.Kind == ActionBlock {
			if v.IsZero() {
				return nil
			}
			it.State = Blocked
			items = append(items, it)
			return nil
		}
		next, changed, err := m.actor.transform(f, a, v)
		if err != nil {
			return fmt.Errorf("retention: %s.%s: %w", s.Name, f.Path, err)
		}
		if !changed && a.Kind != ActionDelete {
			return nil
		}
		it.next = next
		items = append(items, it)
		return nil
	})
	return items, err
}
