package storetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fieldguard/pii/retention"
)

// env carries the store of one check.
type env struct {
	ctx context.Context
	st  retention.Store
	put PutFunc
}

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

func (e *env) putAll(recs ...Record) error {
	for _, r := range recs {
		r := r
		if err := e.put(&r, r.CreatedAt); err != nil {
			return fmt.Errorf("storetest: put %s/%s: %w", r.Tenant, r.ID, err)
		}
	}
	return nil
}

// claim claims q and returns the records as Record values.
func (e *env) claim(q retention.Query) (retention.Claim, []Record, error) {
	cl, err := e.st.Claim(e.ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("storetest: claim: %w", err)
	}
	var out []Record
	for _, r := range cl.Records() {
		v, ok := r.Value.(*Record)
		if !ok || v == nil {
			cl.Rollback()
			return nil, nil, fmt.Errorf("storetest: claim: Record.Value is %T, want *storetest.Record", r.Value)
		}
		if r.Tenant != v.Tenant || r.Key != v.ID {
			cl.Rollback()
			return nil, nil, fmt.Errorf("storetest: claim: Record.Tenant/Key %q/%q do not match the value's %q/%q", r.Tenant, r.Key, v.Tenant, v.ID)
		}
		out = append(out, *v)
	}
	return cl, out, nil
}

// read returns every record, read-only, in store order.
func (e *env) read(q retention.Query) ([]Record, error) {
	q.ReadOnly = true
	cl, recs, err := e.claim(q)
	if err != nil {
		return nil, err
	}
	if err := cl.Rollback(); err != nil {
		return nil, fmt.Errorf("storetest: rollback of a read-only claim: %w", err)
	}
	return recs, nil
}

func (e *env) get(tenant, id string) (*Record, error) {
	recs, err := e.read(retention.Query{Tenant: tenant, Record: id, Limit: 10})
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	if len(recs) > 1 {
		return nil, fmt.Errorf("storetest: a Record query for %s/%s returned %d records", tenant, id, len(recs))
	}
	return &recs[0], nil
}

func keys(recs []Record) string {
	var b strings.Builder
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.Tenant + "/" + r.ID)
	}
	return b.String()
}

func sameRecord(a, b Record) bool {
	return a.Tenant == b.Tenant && a.ID == b.ID && a.Subject == b.Subject && a.Email == b.Email && a.Phone == b.Phone &&
		a.Seen.Equal(b.Seen) && a.CreatedAt.Equal(b.CreatedAt)
}

func rec(tenant, id, subject string, created, seen time.Time) Record {
	return Record{Tenant: tenant, ID: id, Subject: subject, Email: id + "@example.com", Phone: "+44 20 7946 0" + id[len(id)-3:],
		Seen: seen, CreatedAt: created}
}

func checkClocks(e *env) error {
	all := []Record{
		rec("a", "r-001", "s1", day(-60), day(-1)),     // due by creation (30d)
		rec("a", "r-002", "s1", day(-1), day(-100)),    // due by Seen (90d)
		rec("a", "r-003", "s2", day(-1), day(-1)),      // not due
		rec("b", "r-001", "s1", day(-31), time.Time{}), // due by creation, no Seen
		rec("b", "r-004", "s3", day(-29), day(-89)),    // not due
	}
	if err := e.putAll(all...); err != nil {
		return err
	}
	q := retention.Query{Clocks: []retention.Cutoff{{Before: day(-30)}, {Field: "Seen", Before: day(-90)}}, Limit: 100, ReadOnly: true}
	cl, err := e.st.Claim(e.ctx, q)
	if err != nil {
		return fmt.Errorf("storetest: ClocksSelectDue: claim: %w", err)
	}
	defer cl.Rollback()
	got := cl.Records()
	var gotRecs []Record
	for _, r := range got {
		v, ok := r.Value.(*Record)
		if !ok {
			return fmt.Errorf("storetest: ClocksSelectDue: Record.Value is %T, want *storetest.Record", r.Value)
		}
		gotRecs = append(gotRecs, *v)
	}
	if k := keys(gotRecs); k != "a/r-001 a/r-002 b/r-001" {
		return fmt.Errorf("storetest: ClocksSelectDue: a Clocks query returned [%s], want [a/r-001 a/r-002 b/r-001] in (tenant, id) order", k)
	}
	want := []Record{all[0], all[1], all[3]}
	for i, r := range got {
		if !sameRecord(gotRecs[i], want[i]) {
			return fmt.Errorf("storetest: ClocksSelectDue: %s/%s decoded as %+v, want %+v", r.Tenant, r.Key, gotRecs[i], want[i])
		}
		if !r.Created.Equal(want[i].CreatedAt) {
			return fmt.Errorf("storetest: ClocksSelectDue: %s/%s Record.Created is %v, want %v", r.Tenant, r.Key, r.Created, want[i].CreatedAt)
		}
	}
	return nil
}

func checkPaging(e *env) error {
	var all []Record
	for i, tn := range []string{"b", "a", "c", "a", "b", "a", "c"} {
		all = append(all, rec(tn, fmt.Sprintf("r-%03d", 7-i), "s", day(-i), time.Time{}))
	}
	if err := e.putAll(all...); err != nil {
		return err
	}
	var seen []Record
	q := retention.Query{All: true, Limit: 3, ReadOnly: true}
	for range 10 {
		cl, err := e.st.Claim(e.ctx, q)
		if err != nil {
			return fmt.Errorf("storetest: Paging: claim: %w", err)
		}
		recs := cl.Records()
		cl.Rollback()
		if len(recs) > q.Limit {
			return fmt.Errorf("storetest: Paging: a claim with Limit %d returned %d records", q.Limit, len(recs))
		}
		for _, r := range recs {
			seen = append(seen, *r.Value.(*Record))
		}
		if len(recs) < q.Limit {
			break
		}
		q.After = recs[len(recs)-1].Pos
	}
	slices.SortFunc(all, func(x, y Record) int { return strings.Compare(x.Tenant+"/"+x.ID, y.Tenant+"/"+y.ID) })
	if keys(seen) != keys(all) {
		return fmt.Errorf("storetest: Paging: pages returned [%s], want every record once in (tenant, id) order: [%s]", keys(seen), keys(all))
	}
	return nil
}

func checkTenants(e *env) error {
	a := rec("tenant-a", "r-001", "s1", day(-60), time.Time{})
	b := rec("tenant-b", "r-001", "s1", day(-60), time.Time{})
	a2 := rec("tenant-a", "r-002", "s1", day(-60), time.Time{})
	if err := e.putAll(a, b, a2); err != nil {
		return err
	}
	for _, tc := range []struct {
		q    retention.Query
		want string
	}{
		{retention.Query{Tenant: "tenant-a", Subject: "s1", Limit: 10}, "tenant-a/r-001 tenant-a/r-002"},
		{retention.Query{Tenant: "tenant-b", Subject: "s1", Limit: 10}, "tenant-b/r-001"},
		{retention.Query{Tenant: "tenant-b", Record: "r-001", Limit: 10}, "tenant-b/r-001"},
		{retention.Query{Tenant: "tenant-a", Record: "r-001", Limit: 10}, "tenant-a/r-001"},
		{retention.Query{Tenant: "tenant-c", Subject: "s1", Limit: 10}, ""},
		{retention.Query{Tenant: "", Record: "r-001", Limit: 10}, ""},
	} {
		got, err := e.read(tc.q)
		if err != nil {
			return err
		}
		if keys(got) != tc.want {
			return fmt.Errorf("storetest: TenantIsolation: query (tenant %q, subject %q, record %q) returned [%s], want [%s]",
				tc.q.Tenant, tc.q.Subject, tc.q.Record, keys(got), tc.want)
		}
	}
	// A change and a delete in tenant-a leave tenant-b's record alone.
	cl, recs, err := e.claim(retention.Query{Tenant: "tenant-a", Subject: "s1", Limit: 10})
	if err != nil {
		return err
	}
	if len(recs) != 2 {
		cl.Rollback()
		return fmt.Errorf("storetest: TenantIsolation: claim returned [%s]", keys(recs))
	}
	changed := recs[0]
	changed.Email = ""
	err = cl.Commit(e.ctx, []retention.Change{
		{Tenant: "tenant-a", Key: "r-001", Pos: cl.Records()[0].Pos, Fields: []string{"Email"}, Value: &changed},
		{Tenant: "tenant-a", Key: "r-002", Pos: cl.Records()[1].Pos, Delete: true},
	}, nil)
	if err != nil {
		return fmt.Errorf("storetest: TenantIsolation: commit: %w", err)
	}
	gotB, err := e.get("tenant-b", "r-001")
	if err != nil {
		return err
	}
	if gotB == nil || !sameRecord(*gotB, b) {
		return fmt.Errorf("storetest: TenantIsolation: a change to tenant-a/r-001 changed tenant-b/r-001 (it shares the id): got %+v", gotB)
	}
	gotA, err := e.get("tenant-a", "r-001")
	if err != nil {
		return err
	}
	if gotA == nil || gotA.Email != "" {
		return fmt.Errorf("storetest: TenantIsolation: the change to tenant-a/r-001 was not written: got %+v", gotA)
	}
	return nil
}

func checkCommit(e *env) error {
	r1 := rec("a", "r-001", "s1", day(-60), time.Time{})
	r2 := rec("a", "r-002", "s1", day(-60), time.Time{})
	r3 := rec("a", "r-003", "s1", day(-1), time.Time{})
	if err := e.putAll(r1, r2, r3); err != nil {
		return err
	}
	cl, recs, err := e.claim(retention.Query{Clocks: []retention.Cutoff{{Before: day(-30)}}, Limit: 10})
	if err != nil {
		return err
	}
	if keys(recs) != "a/r-001 a/r-002" {
		cl.Rollback()
		return fmt.Errorf("storetest: CommitWritesChanges: claim returned [%s]", keys(recs))
	}
	v := recs[0]
	v.Email, v.Phone = "", ""
	if err := cl.Commit(e.ctx, []retention.Change{
		{Tenant: "a", Key: "r-001", Pos: cl.Records()[0].Pos, Fields: []string{"Email", "Phone"}, Value: &v},
		{Tenant: "a", Key: "r-002", Pos: cl.Records()[1].Pos, Delete: true},
	}, nil); err != nil {
		return fmt.Errorf("storetest: CommitWritesChanges: commit: %w", err)
	}
	got, err := e.read(retention.Query{All: true, Limit: 10})
	if err != nil {
		return err
	}
	want := []Record{v, r3}
	if len(got) != 2 || !sameRecord(got[0], want[0]) || !sameRecord(got[1], want[1]) {
		return fmt.Errorf("storetest: CommitWritesChanges: after the commit the store holds %+v, want %+v", got, want)
	}
	return nil
}

func checkClaimedOnly(e *env) error {
	r1 := rec("a", "r-001", "s1", day(-60), time.Time{})
	r2 := rec("a", "r-002", "s1", day(-60), time.Time{})
	if err := e.putAll(r1, r2); err != nil {
		return err
	}
	cl, recs, err := e.claim(retention.Query{Tenant: "a", Record: "r-001", Limit: 10})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		cl.Rollback()
		return fmt.Errorf("storetest: CommitClaimedOnly: claim returned [%s]", keys(recs))
	}
	v1, v2 := r1, r2
	v1.Email, v2.Email = "", ""
	err = cl.Commit(e.ctx, []retention.Change{
		{Tenant: "a", Key: "r-001", Pos: cl.Records()[0].Pos, Fields: []string{"Email"}, Value: &v1},
		{Tenant: "a", Key: "r-002", Fields: []string{"Email"}, Value: &v2},
	}, nil)
	cl.Rollback()
	got, rerr := e.read(retention.Query{All: true, Limit: 10})
	if rerr != nil {
		return rerr
	}
	if err == nil {
		return fmt.Errorf("storetest: CommitClaimedOnly: a commit naming a record the claim did not select succeeded")
	}
	if len(got) != 2 || !sameRecord(got[0], r1) || !sameRecord(got[1], r2) {
		return fmt.Errorf("storetest: CommitClaimedOnly: a refused commit changed the store (it must be all or nothing): %+v", got)
	}
	return nil
}

func checkRollback(e *env) error {
	r1 := rec("a", "r-001", "s1", day(-60), time.Time{})
	if err := e.putAll(r1); err != nil {
		return err
	}
	for range 2 { // the second claim proves the first one's lock is gone
		cl, err := e.st.Claim(e.ctx, retention.Query{Tenant: "a", Record: "r-001", Limit: 10})
		if err != nil {
			return fmt.Errorf("storetest: RollbackChangesNothing: claim: %w", err)
		}
		for _, r := range cl.Records() {
			if v, ok := r.Value.(*Record); ok {
				v.Email, v.Subject = "", "mutated"
			}
		}
		if err := cl.Rollback(); err != nil {
			return fmt.Errorf("storetest: RollbackChangesNothing: rollback: %w", err)
		}
		got, err := e.get("a", "r-001")
		if err != nil {
			return err
		}
		if got == nil || !sameRecord(*got, r1) {
			return fmt.Errorf("storetest: RollbackChangesNothing: a claimed record changed in memory and rolled back reads %+v, want %+v (does Claim return the stored value itself?)", got, r1)
		}
	}
	return nil
}

func checkLocks(e *env) error {
	r1 := rec("a", "r-001", "s1", day(-60), time.Time{})
	if err := e.putAll(r1); err != nil {
		return err
	}
	q := retention.Query{Tenant: "a", Record: "r-001", Limit: 10}
	cl, recs, err := e.claim(q)
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		cl.Rollback()
		return fmt.Errorf("storetest: ClaimLocks: claim returned [%s]", keys(recs))
	}
	type result struct {
		recs []Record
		err  error
	}
	second := make(chan result, 1)
	go func() {
		cl2, recs2, err := e.claim(q)
		if err == nil {
			err = cl2.Rollback()
		}
		second <- result{recs2, err}
	}()
	// Give a store without locks the chance to show it; a store that
	// waits, or skips the locked record, passes whatever the timing.
	var early *result
	select {
	case r := <-second:
		early = &r
	case <-time.After(100 * time.Millisecond):
	}
	v := recs[0]
	v.Email = "changed@example.com"
	if err := cl.Commit(e.ctx, []retention.Change{{Tenant: "a", Key: "r-001", Pos: cl.Records()[0].Pos, Fields: []string{"Email"}, Value: &v}}, nil); err != nil {
		return fmt.Errorf("storetest: ClaimLocks: commit: %w", err)
	}
	r := early
	if r == nil {
		x := <-second
		r = &x
	}
	if r.err != nil {
		return fmt.Errorf("storetest: ClaimLocks: second claim: %w", r.err)
	}
	for _, got := range r.recs {
		if got.Email != v.Email {
			return fmt.Errorf("storetest: ClaimLocks: a second claim returned a/r-001 as it was before the open claim committed: records are not locked by a claim")
		}
	}
	return nil
}

func checkHoldsActive(ctx context.Context, h retention.Holds) error {
	in := []retention.Hold{
		{ID: "h1", Subject: "subject-hash-1", Reason: "case 1", Created: t0},
		{ID: "h2", Type: "Record", Record: "record-hash-2", Reason: "case 2", Until: t0.Add(time.Hour), Created: t0},
		{ID: "h3", Subject: "subject-hash-3", Reason: "lapses now", Until: t0, Created: t0.Add(-time.Hour)},
	}
	for _, x := range in {
		if err := h.Put(ctx, x); err != nil {
			return fmt.Errorf("storetest: HoldsActive: put: %w", err)
		}
	}
	got, err := h.Active(ctx, t0)
	if err != nil {
		return fmt.Errorf("storetest: HoldsActive: %w", err)
	}
	slices.SortFunc(got, func(a, b retention.Hold) int { return strings.Compare(a.ID, b.ID) })
	if len(got) != 2 || !sameHold(got[0], in[0]) || !sameHold(got[1], in[1]) {
		return fmt.Errorf("storetest: HoldsActive: Active(now) = %+v, want h1 (no end) and h2 (ends later), not h3 (ends at now)", got)
	}
	got, err = h.Active(ctx, t0.Add(-time.Minute))
	if err != nil {
		return fmt.Errorf("storetest: HoldsActive: %w", err)
	}
	if len(got) != 3 {
		return fmt.Errorf("storetest: HoldsActive: Active before h3 lapses returned %d holds, want 3", len(got))
	}
	return nil
}

func sameHold(a, b retention.Hold) bool {
	return a.ID == b.ID && a.Subject == b.Subject && a.Type == b.Type && a.Record == b.Record && a.Reason == b.Reason &&
		a.Until.Equal(b.Until) && a.Created.Equal(b.Created)
}

func checkHoldsReplace(ctx context.Context, h retention.Holds) error {
	x := retention.Hold{ID: "h1", Subject: "subject-hash-1", Reason: "first", Created: t0}
	y := retention.Hold{ID: "h2", Subject: "subject-hash-2", Reason: "other", Created: t0}
	for _, v := range []retention.Hold{x, y} {
		if err := h.Put(ctx, v); err != nil {
			return fmt.Errorf("storetest: HoldsReplaceAndDelete: put: %w", err)
		}
	}
	x.Reason, x.Until = "second", t0.Add(time.Hour)
	if err := h.Put(ctx, x); err != nil {
		return fmt.Errorf("storetest: HoldsReplaceAndDelete: put: %w", err)
	}
	got, err := h.Active(ctx, t0)
	if err != nil {
		return err
	}
	slices.SortFunc(got, func(a, b retention.Hold) int { return strings.Compare(a.ID, b.ID) })
	if len(got) != 2 || !sameHold(got[0], x) {
		return fmt.Errorf("storetest: HoldsReplaceAndDelete: a second Put with the same ID must replace the hold: got %+v", got)
	}
	if err := h.Delete(ctx, "h1"); err != nil {
		return fmt.Errorf("storetest: HoldsReplaceAndDelete: delete: %w", err)
	}
	if err := h.Delete(ctx, "absent"); err != nil {
		return fmt.Errorf("storetest: HoldsReplaceAndDelete: deleting an absent hold must not fail: %w", err)
	}
	got, err = h.Active(ctx, t0)
	if err != nil {
		return err
	}
	if len(got) != 1 || !sameHold(got[0], y) {
		return fmt.Errorf("storetest: HoldsReplaceAndDelete: after Delete(h1) Active = %+v, want only h2", got)
	}
	return nil
}

// Pending shred kinds are ordered integers; the checks need three.
const (
	kind1 int = iota + 1
	kind2
	kind3
)

func checkPending(ctx context.Context, ps retention.PendingShreds) error {
	put := func(id string, k int, sealed string) error {
		if err := ps.PutPending(ctx, retention.PendingShred{ID: id, Kind: k, Sealed: []byte(sealed), Created: t0}); err != nil {
			return fmt.Errorf("storetest: PendingShreds: put: %w", err)
		}
		return nil
	}
	get := func() (string, error) {
		var out []string
		after := ""
		for range 100 {
			page, err := ps.Pending(ctx, after, 2)
			if err != nil {
				return "", fmt.Errorf("storetest: PendingShreds: %w", err)
			}
			if len(page) > 2 {
				return "", fmt.Errorf("storetest: PendingShreds: Pending with limit 2 returned %d", len(page))
			}
			for _, p := range page {
				if p.ID <= after {
					return "", fmt.Errorf("storetest: PendingShreds: Pending returned IDs out of order")
				}
				if !p.Created.Equal(t0) {
					return "", fmt.Errorf("storetest: PendingShreds: Created is not kept")
				}
				out = append(out, fmt.Sprintf("%s=%v:%s", p.ID, p.Kind, p.Sealed))
				after = p.ID
			}
			if len(page) < 2 {
				break
			}
		}
		return strings.Join(out, " "), nil
	}
	steps := []struct {
		op   func() error
		want string
	}{
		{func() error {
			for _, s := range []struct {
				id     string
				k      int
				sealed string
			}{
				{"a", kind1, "a1"},
				{"b", kind2, "b1"},
				{"c", kind1, "c1"},
				{"a", kind2, "a2"}, // rises
				{"b", kind1, "b2"}, // never falls
				{"b", kind2, "b3"}, // same kind: kept as is
			} {
				if err := put(s.id, s.k, s.sealed); err != nil {
					return err
				}
			}
			return nil
		}, "a=2:a2 b=2:b1 c=1:c1"},
		{func() error {
			for _, d := range []struct {
				id string
				k  int
			}{{"a", kind1}, {"c", kind3}, {"zz", kind3}} {
				if err := ps.DeletePending(ctx, d.id, d.k); err != nil {
					return fmt.Errorf("storetest: PendingShreds: delete: %w", err)
				}
			}
			return nil
		}, "a=2:a2 b=2:b1"},
		{func() error { return ps.DeletePending(ctx, "a", kind2) }, "b=2:b1"},
	}
	for i, s := range steps {
		if err := s.op(); err != nil {
			return err
		}
		got, err := get()
		if err != nil {
			return err
		}
		if got != s.want {
			return fmt.Errorf("storetest: PendingShreds: step %d: pending = [%s], want [%s] (kinds only rise; DeletePending removes a shred of at most the kind)", i+1, got, s.want)
		}
	}
	// The store keeps its own copy of Sealed.
	buf := []byte("d1")
	if err := ps.PutPending(ctx, retention.PendingShred{ID: "d", Kind: kind3, Sealed: buf, Created: t0}); err != nil {
		return err
	}
	buf[0] = 'x'
	page, err := ps.Pending(ctx, "c", 10)
	if err != nil {
		return err
	}
	if len(page) != 1 || !bytes.Equal(page[0].Sealed, []byte("d1")) {
		return fmt.Errorf("storetest: PendingShreds: the store kept the caller's Sealed slice, not a copy")
	}
	return nil
}
