package retention

import (
	"context"
	"reflect"
	"strings"

	"github.com/fieldguard/pii"
)

// Replay re-applies the erasures recorded in ledger to stores (by default
// every registered store), for data restored from a backup taken before
// they happened: a restore cannot bring a forgotten person back. Records
// are matched by the keyed hashes in the ledger, which cover the tenant
// with the record or subject id, so a replay touches exactly the erased
// (tenant, id) pairs; the Manager needs the same LedgerKey that wrote it.
// Every action is idempotent, so replaying twice, or over data that was
// never restored, changes nothing. Subjects whose keys were shredded (a
// key entry with outcome applied) have them shredded again, in case the
// key store was restored too; that also shreds values a returning
// customer was given since, so replay only restores that predate the
// return. Each re-applied action is recorded with outcome replayed.
func (m *Manager) Replay(ctx context.Context, ledger Ledger, stores ...Store) (Progress, error) {
	byRecord := map[string][]Entry{}
	shredded := map[string]int{} // subject hash -> how it was shredded
	err := ledger.Scan(ctx, func(e Entry) error {
		if e.Outcome != OutcomeApplied {
			return nil
		}
		if e.Action == string(pii.ActionShred) && e.Field == "" && e.Subject != "" {
			kind := pendingRetention
			if e.Policy == policyErasureClose {
				kind = pendingClose
			}
			shredded[e.Subject] = max(shredded[e.Subject], kind)
		}
		if e.Record != "" {
			byRecord[e.Record] = append(byRecord[e.Record], e)
		}
		return nil
	})
	if err != nil {
		return Progress{}, err
	}
	if len(stores) == 0 {
		m.mu.RLock()
		stores = append(stores, m.stores...)
		m.mu.RUnlock()
	}
	now := m.clock.Now()
	var st Progress
	for _, store := range stores {
		ti, err := m.typeOf(store.Schema().Type)
		if err != nil {
			return st, err
		}
		q := Query{All: true, Limit: 500}
		for {
			cl, err := store.Claim(ctx, q)
			if err != nil {
				return st, err
			}
			recs := cl.Records()
			if len(recs) == 0 {
				cl.Rollback()
				break
			}
			b := batch{m: m, ti: ti, now: now}
			var reshred []subjectRef
			kinds := map[subjectRef]int{}
			for _, rec := range recs {
				subject := ti.s.SubjectOf(rec.Value)
				if subject != "" {
					if kind, ok := shredded[m.subjectHash(rec.Tenant, subject)]; ok {
						r := subjectRef{rec.Tenant, subject}
						if _, seen := kinds[r]; !seen {
							reshred = append(reshred, r)
						}
						kinds[r] = kind
					}
				}
				es := byRecord[m.recordHash(rec.Tenant, ti.s.Name, rec.Key)]
				if len(es) == 0 {
					continue
				}
				items, err := m.replayItems(ti.s, rec, es)
				if err != nil {
					cl.Rollback()
					return st, err
				}
				if len(items) > 0 {
					b.apply(rec, subject, items, "", OutcomeReplayed)
				}
			}
			st.Scanned += int64(len(recs))
			st.Applied += b.applied
			st.Deleted += b.deleted
			// Shredding is idempotent: done before the commit, a crash
			// in between is repaired by the next replay.
			for _, r := range reshred {
				if err := m.shredKey(ctx, r.tenant, r.subject, kinds[r]); err != nil {
					cl.Rollback()
					return st, err
				}
			}
			if err := cl.Commit(ctx, b.changes, b.entries); err != nil {
				return st, err
			}
			if len(recs) < q.Limit {
				break
			}
			q.After = recs[len(recs)-1].Pos
		}
	}
	return st, nil
}

// replayItems turns a record's ledger entries back into items to apply.
func (m *Manager) replayItems(s *pii.Schema, rec Record, es []Entry) ([]Item, error) {
	want := map[string]Entry{}
	for _, e := range es {
		if e.Action == string(pii.ActionDelete) {
			return []Item{{Path: e.Field, Action: pii.Action{Kind: pii.ActionDelete}, Reason: "replayed after restore: " + e.Reason}}, nil
		}
		want[e.Field] = e
	}
	var items []Item
	err := s.Walk(rec.Value, func(f *pii.Field, path string, owner, v reflect.Value) error {
		e, ok := want[path]
		if !ok {
			return nil
		}
		kind, rule, _ := strings.Cut(e.Action, ":")
		a := pii.Action{Kind: pii.ActionKind(kind), Rule: rule}
		next, changed, err := m.actor.transform(f, a, v)
		if err != nil || !changed {
			return err
		}
		items = append(items, Item{Path: path, Field: f, Action: a, Policy: Policy{Then: a}, Reason: "replayed after restore: " + e.Reason,
			State: Due, v: v, owner: owner, next: next})
		return nil
	})
	return items, err
}
