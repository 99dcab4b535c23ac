package retention

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/telemetry"
)

// ForgetReport is the outcome of an erasure request, per field. Its
// entries are the ones written to the ledger.
type ForgetReport struct {
	// Applied counts the actions applied; Kept the fields kept back by a
	// hold, by min= or by then=block.
	Applied, Kept int
	// KeyShredded says whether the subject's keys were shredded (and their
	// tokens deleted): only once nothing sealed under them must be kept.
	KeyShredded bool
	// ShredPending says that values sealed under the subject's keys are
	// kept: the shred is pending, and a later sweep or Release completes
	// it (erasing the kept values first) once they lapse.
	ShredPending bool
	// Entries has one entry per field acted on or kept, and one (Field "")
	// for the subject's keys.
	Entries []Entry

	keyKept int    // values under the key kept back
	keyWhy  string // the first of them, by type and field
}

const (
	policyErasure      = "erasure request"
	policyErasureClose = "erasure request (subject closed)"
)

// Forget executes the right to be forgotten for the data subject (tenant,
// subject) across every registered store, and for nobody else: each
// personal-data field of the subject's records gets its then= action
// (fields without a retention policy are nulled), a record whose policy
// says delete is deleted, then the subject's keys are shredded and their
// stored tokens deleted. Types without a pii:"tenant" field belong to the
// tenant "".
//
// A legal hold keeps the records it covers, and a field whose min= period
// has not ended is kept, with the reason and date in the report and the
// ledger; so is a then=block field. While any value sealed under the
// subject's keys (encrypt, token=stored) is kept, the keys are not shredded
// (it would destroy the kept values too): the shred is recorded as pending
// and the next sweep or [Manager.Release] after the values lapse erases
// them and completes it, without the request being made again. Values
// added for the subject meanwhile are erased by that completion too.
//
// By default the shred uses the Shredder's ForgetSubject, so a returning
// customer's new values are sealed under a new key generation; with
// Options.CloseOnForget it uses CloseSubject, which also refuses them.
// Forget is idempotent.
func (m *Manager) Forget(ctx context.Context, tenant, subject string) (_ *ForgetReport, err error) {
	ctx, span := m.tel.span(ctx, "forget")
	defer func() { telemetry.End(span, err, errorClass(err)) }()
	kind := pendingErasure
	if m.closer != nil {
		kind = pendingClose
	}
	return m.forget(ctx, tenant, subject, kind, false)
}

// forget carries out an erasure request. resumed completes a pending one:
// fields kept again are not recorded again, nor is the pending shred.
func (m *Manager) forget(ctx context.Context, tenant, subject string, kind int, resumed bool) (*ForgetReport, error) {
	if subject == "" {
		return nil, fmt.Errorf("retention: Forget: empty subject")
	}
	now := m.clock.Now()
	id := m.subjectHash(tenant, subject)
	shreds := m.shredder != nil || m.tokens != nil
	if err := m.needLedger(); err != nil {
		return nil, err
	}
	if shreds && !resumed {
		// Recorded first, so that a request interrupted half-way is
		// completed by the next sweep.
		if err := m.pending.PutPending(ctx, m.sealPending(tenant, subject, kind)); err != nil {
			return nil, err
		}
	}
	stores := m.registered()
	rep := &ForgetReport{}
	for _, st := range stores {
		s := st.Schema()
		if s.Subject == nil {
			continue
		}
		ti, err := m.typeOf(s.Type)
		if err != nil {
			return rep, err
		}
		q := Query{Tenant: tenant, Subject: subject, Limit: 500}
		for {
			// Holds are read for every batch, as sweeps do.
			holds, err := m.activeHolds(ctx, now)
			if err != nil {
				return rep, err
			}
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
				if err := m.forgetRecord(&b, rec, subject, holds, rep, kind, resumed); err != nil {
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
	if !shreds {
		return rep, nil
	}
	policy := policyErasure
	if kind == pendingClose {
		policy = policyErasureClose
	}
	keyEntry := Entry{Subject: id, Action: string(pii.ActionShred), Policy: policy, At: now}
	if rep.keyKept > 0 {
		rep.ShredPending = true
		if resumed {
			return rep, nil
		}
		keyEntry.Outcome = OutcomePending
		keyEntry.Reason = fmt.Sprintf("%d value(s) under the subject's key kept (%s); shred pending until they may be erased", rep.keyKept, rep.keyWhy)
	} else {
		if err := m.shredKey(ctx, tenant, subject, kind); err != nil {
			return rep, err
		}
		if err := m.pending.DeletePending(ctx, id, kind); err != nil {
			return rep, err
		}
		rep.KeyShredded = true
		keyEntry.Outcome, keyEntry.Reason = OutcomeApplied, m.shredText(kind)
	}
	rep.Entries = append(rep.Entries, keyEntry)
	l, err := m.ledgerOf()
	if err != nil {
		return rep, err
	}
	if err := l.Append(ctx, keyEntry); err != nil {
		return rep, err
	}
	return rep, nil
}

// errNoLedger is returned when a key shred's entry, which belongs to no
// record, has no ledger to go to.
var errNoLedger = errors.New("retention: no ledger for key-shred entries: set Options.Ledger to the ledger your stores append to (sqlstore.NewLedger(db, opts) in your database, or the retention.NewMemoryLedger() your memory stores were given)")

// ledgerOf returns Options.Ledger, for entries that belong to no record.
func (m *Manager) ledgerOf() (Ledger, error) {
	if m.ledger != nil {
		return m.ledger, nil
	}
	return nil, errNoLedger
}

// needLedger fails, before anything changes, when a key may be shredded
// and its ledger entry would have nowhere to go.
func (m *Manager) needLedger() error {
	if m.shredder == nil && m.tokens == nil {
		return nil
	}
	_, err := m.ledgerOf()
	return err
}

func (m *Manager) forgetRecord(b *batch, rec Record, subject string, holds holdSet, rep *ForgetReport, kind int, resumed bool) error {
	s := b.ti.s
	policy := policyErasure
	if kind == pendingClose {
		policy = policyErasureClose
	}
	kept := func(it Item, outcome Outcome, reason string) {
		rep.Kept++
		if keyBearing(it.Field) && !it.v.IsZero() {
			if rep.keyKept == 0 {
				rep.keyWhy = s.Name + "." + it.Path + ": " + string(outcome)
			}
			rep.keyKept++
		}
		if resumed {
			return // recorded when the request was made
		}
		e := Entry{Subject: m.subjectHash(rec.Tenant, subject), Record: m.recordHash(rec.Tenant, s.Name, rec.Key), Type: s.Name,
			Field: it.Path, Action: it.Action.String(), Policy: policy, Outcome: outcome, Reason: reason, At: b.now}
		b.entries = append(b.entries, e)
	}
	items, err := m.forgetItems(b.now, record{ti: b.ti, ptr: rec.Value, created: rec.Created})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	if h, ok := m.held(holds, rec.Tenant, s.Name, rec.Key, subject); ok {
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
			if apply[i].Action.Kind == pii.ActionDelete {
				apply[i].Action = pii.Action{Kind: pii.ActionNull}
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
	b.apply(rec, subject, apply, policy, OutcomeApplied)
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
	err := s.Walk(r.ptr, func(f *pii.Field, path string, owner, v reflect.Value) error {
		p, floors := m.policies.resolve(tagPolicy(f), s.Name, f.Path, tenant, juris)
		a := p.Then
		if p.Retain.IsZero() || a.Kind == "" {
			a = pii.Action{Kind: pii.ActionNull}
		}
		it := Item{Path: path, Field: f, Action: a, Policy: p, v: v, owner: owner, State: Due, At: now, Reason: "erasure request"}
		if v.IsZero() && a.Kind != pii.ActionDelete {
			return nil // nothing held: nothing to erase or to keep
		}
		if end, d := m.minEnd(root, r.created, p, floors); now.Before(end) {
			it.Policy.Min = d
			it.State, it.At = Deferred, end
			it.Reason = fmt.Sprintf("min=%s keeps it until %s", d, end.UTC().Format(time.RFC3339))
			items = append(items, it)
			return nil
		}
		if a.Kind == pii.ActionBlock {
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
		if !changed && a.Kind != pii.ActionDelete {
			return nil
		}
		it.next = next
		items = append(items, it)
		return nil
	})
	return items, err
}
