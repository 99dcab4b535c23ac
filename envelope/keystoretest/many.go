package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fieldguard/pii/envelope"
)

// Checks of the batch methods (GetMany, LatestMany, InsertMany), which a
// Seal or Open over a slice calls once per batch of records.

// bulk is more records than a SQL store puts in one statement (1,000), so
// the checks cover a store that splits a batch.
const bulk = 1500

func bulkDEKs(tenant string, n int) []envelope.Record {
	out := make([]envelope.Record, n)
	for i := range out {
		out[i] = dek(tenant, fmt.Sprintf("s:%05d", i), uint32(i%3+1), fmt.Sprint("w", i))
	}
	return out
}

// insertMany calls InsertMany and checks that every record was inserted
// and returned as stored, in order.
func insertMany(ctx context.Context, st envelope.KeyStore, rs []envelope.Record) error {
	stored, inserted, err := st.InsertMany(ctx, rs)
	if err != nil {
		return fmt.Errorf("keystoretest: InsertMany of %d records: %w", len(rs), err)
	}
	if len(stored) != len(rs) || len(inserted) != len(rs) {
		return fmt.Errorf("keystoretest: InsertMany of %d records returned %d records and %d flags, want one each per record", len(rs), len(stored), len(inserted))
	}
	for i, r := range rs {
		if !inserted[i] {
			return fmt.Errorf("keystoretest: InsertMany of %+v into an empty slot reported not inserted", r.KeyRef)
		}
		if err := sameRecord(fmt.Sprintf("InsertMany returned (record %d)", i), r, stored[i]); err != nil {
			return fmt.Errorf("%w (stored[i] is the record recs[i] names, in the order of recs)", err)
		}
	}
	return nil
}

// sameSet checks that got holds exactly the records of want, each once,
// in any order.
func sameSet(what string, want, got []envelope.Record) error {
	byRef := make(map[envelope.KeyRef]envelope.Record, len(want))
	for _, r := range want {
		byRef[r.KeyRef] = r
	}
	seen := make(map[envelope.KeyRef]bool, len(got))
	for _, r := range got {
		w, ok := byRef[r.KeyRef]
		if !ok {
			return fmt.Errorf("keystoretest: %s returned %+v, which was not asked for or is not the one asked for", what, r.KeyRef)
		}
		if seen[r.KeyRef] {
			return fmt.Errorf("keystoretest: %s returned %+v twice (each record once)", what, r.KeyRef)
		}
		seen[r.KeyRef] = true
		if err := sameRecord(what, w, r); err != nil {
			return err
		}
	}
	if len(seen) != len(byRef) {
		return fmt.Errorf("keystoretest: %s returned %d of the %d records asked for that exist", what, len(seen), len(byRef))
	}
	return nil
}

func checkGetMany(ctx context.Context, st envelope.KeyStore) error {
	a1, a2 := dek("a", "s:x", 1, "a1"), dek("a", "s:x", 2, "a2")
	b1 := dek("b", "s:x", 1, "b1")
	br := rec(envelope.KindBranch, "a", "s:x", 3, "branch")
	if err := insertAll(ctx, st, a1, a2, b1, br); err != nil {
		return err
	}
	got, err := st.GetMany(ctx, nil)
	if err != nil || len(got) != 0 {
		return fmt.Errorf("keystoretest: GetMany of nothing: %d records, %v; want none and no error", len(got), err)
	}
	refs := []envelope.KeyRef{
		a1.KeyRef, a2.KeyRef, a1.KeyRef, // asked twice, returned once
		ref(envelope.KindDEK, "a", "s:x", 3), // missing: left out
		ref(envelope.KindDEK, "b", "s:x", 2), // missing in b, present in a
		ref(envelope.KindBranch, "a", "s:x", 1),
	}
	got, err = st.GetMany(ctx, refs)
	if err != nil {
		return fmt.Errorf("keystoretest: GetMany: %w", err)
	}
	if err := sameSet("GetMany", []envelope.Record{a1, a2}, got); err != nil {
		return err
	}
	// More records than one statement of a SQL store holds.
	many := bulkDEKs("c", bulk)
	if err := insertMany(ctx, st, many); err != nil {
		return err
	}
	refs = refs[:0]
	for _, r := range many {
		refs = append(refs, r.KeyRef)
	}
	refs = append(refs, ref(envelope.KindDEK, "c", "s:none", 1), b1.KeyRef)
	got, err = st.GetMany(ctx, refs)
	if err != nil {
		return fmt.Errorf("keystoretest: GetMany of %d refs: %w", len(refs), err)
	}
	return sameSet(fmt.Sprintf("GetMany of %d refs", len(refs)), append(slices.Clone(many), b1), got)
}

func checkLatestMany(ctx context.Context, st envelope.KeyStore) error {
	var rs []envelope.Record
	for _, id := range []uint32{2, 9, 4, 1} {
		rs = append(rs, dek("a", "t", id, fmt.Sprint("w", id)))
	}
	rs = append(rs,
		dek("a", "u", 20, "other scope"),
		dek("b", "t", 30, "other tenant"),
		rec(envelope.KindBranch, "a", "t", 40, "other kind"),
		dek("a", "t", 3, "w3"), // an older id inserted last
		rec(envelope.KindTombstone, "a", "t", 0, ""),
		rec(envelope.KindTombstone, "a", "t", 5, ""),
	)
	if err := insertAll(ctx, st, rs...); err != nil {
		return err
	}
	got, err := st.LatestMany(ctx, nil)
	if err != nil || len(got) != 0 {
		return fmt.Errorf("keystoretest: LatestMany of nothing: %d records, %v; want none and no error", len(got), err)
	}
	scopes := []envelope.ScopeRef{
		{Kind: envelope.KindDEK, Tenant: "a", Scope: "t"},
		{Kind: envelope.KindTombstone, Tenant: "a", Scope: "t"},
		{Kind: envelope.KindDEK, Tenant: "a", Scope: "t"}, // asked twice, returned once
		{Kind: envelope.KindDEK, Tenant: "a", Scope: "none"},
		{Kind: envelope.KindTombstone, Tenant: "b", Scope: "t"},
		{Kind: envelope.KindDEK, Tenant: "c", Scope: "t"},
	}
	got, err = st.LatestMany(ctx, scopes)
	if err != nil {
		return fmt.Errorf("keystoretest: LatestMany: %w", err)
	}
	if err := sameSet("LatestMany", []envelope.Record{rs[1], rs[9]}, got); err != nil {
		return fmt.Errorf("%w (want id 9 of the DEKs of (a, t) and tombstone 5: the highest of each kind, tenant and scope)", err)
	}
	// More scopes than one statement of a SQL store holds, each with
	// several ids.
	var many, want []envelope.Record
	scopes = scopes[:0]
	for i := range bulk {
		scope := fmt.Sprintf("s:%05d", i)
		for id := uint32(1); id <= uint32(i%3+1); id++ {
			many = append(many, dek("c", scope, id, fmt.Sprint("w", i, ".", id)))
		}
		want = append(want, many[len(many)-1])
		scopes = append(scopes, envelope.ScopeRef{Kind: envelope.KindDEK, Tenant: "c", Scope: scope})
	}
	if err := insertMany(ctx, st, many); err != nil {
		return err
	}
	got, err = st.LatestMany(ctx, scopes)
	if err != nil {
		return fmt.Errorf("keystoretest: LatestMany of %d scopes: %w", len(scopes), err)
	}
	return sameSet(fmt.Sprintf("LatestMany of %d scopes", len(scopes)), want, got)
}

func checkInsertMany(ctx context.Context, st envelope.KeyStore) error {
	stored, inserted, err := st.InsertMany(ctx, nil)
	if err != nil || len(stored) != 0 || len(inserted) != 0 {
		return fmt.Errorf("keystoretest: InsertMany of nothing: %d records, %v; want none and no error", len(stored), err)
	}
	old := dek("a", "s:x", 2, "old")
	old.Parent, old.KEK = 3, "projects/p/keys/k/cryptoKeyVersions/4"
	if err := insert(ctx, st, old); err != nil {
		return err
	}
	dup := old
	dup.Wrapped, dup.Parent, dup.KEK = []byte("other"), 9, "other"
	fresh := []envelope.Record{dek("a", "s:x", 1, "n1"), dek("a", "s:y", 2, "n2"), dek("b", "s:x", 2, "n3")}
	fresh[0].KEK = "kek#9"
	tomb := envelope.Record{KeyRef: ref(envelope.KindTombstone, "a", "s:x", closed), Wrapped: []byte{}, Created: created}
	recs := []envelope.Record{fresh[0], dup, fresh[1], tomb, fresh[2]}
	stored, inserted, err = st.InsertMany(ctx, recs)
	if err != nil {
		return fmt.Errorf("keystoretest: InsertMany: %w", err)
	}
	if len(stored) != len(recs) || len(inserted) != len(recs) {
		return fmt.Errorf("keystoretest: InsertMany of %d records returned %d records and %d flags, want one each per record", len(recs), len(stored), len(inserted))
	}
	for i, r := range recs {
		want, ins := r, true
		if r.KeyRef == old.KeyRef {
			want, ins = old, false
		}
		if inserted[i] != ins {
			return fmt.Errorf("keystoretest: InsertMany reported %+v inserted=%v, want %v (insert-if-absent, each record on its own)", r.KeyRef, inserted[i], ins)
		}
		if err := sameRecord(fmt.Sprintf("InsertMany returned (record %d)", i), want, stored[i]); err != nil {
			return fmt.Errorf("%w (stored[i] is what is stored for recs[i], in the order of recs)", err)
		}
	}
	for _, r := range append(fresh, old, tomb) {
		got, err := st.Get(ctx, r.KeyRef)
		if err != nil {
			return fmt.Errorf("keystoretest: Get after InsertMany: %w", err)
		}
		if err := sameRecord("Get after InsertMany", r, got); err != nil {
			return fmt.Errorf("%w (InsertMany must not overwrite)", err)
		}
	}
	// More records than one statement of a SQL store holds, some there.
	many := bulkDEKs("c", bulk)
	if err := insertMany(ctx, st, many[:100]); err != nil {
		return err
	}
	mixed := slices.Clone(many)
	for i := range 100 {
		mixed[i].Wrapped = []byte("again")
	}
	slices.Reverse(mixed)
	stored, inserted, err = st.InsertMany(ctx, mixed)
	if err != nil {
		return fmt.Errorf("keystoretest: InsertMany of %d records: %w", len(mixed), err)
	}
	if len(stored) != len(mixed) || len(inserted) != len(mixed) {
		return fmt.Errorf("keystoretest: InsertMany of %d records returned %d records and %d flags", len(mixed), len(stored), len(inserted))
	}
	for i, r := range mixed {
		j := len(mixed) - 1 - i // its index in many
		if inserted[i] != (j >= 100) {
			return fmt.Errorf("keystoretest: InsertMany of %d records reported %+v inserted=%v, want %v", len(mixed), r.KeyRef, inserted[i], j >= 100)
		}
		if err := sameRecord("InsertMany returned", many[j], stored[i]); err != nil {
			return fmt.Errorf("%w (in the order of recs)", err)
		}
	}
	return nil
}

// checkInsertManyConcurrent: writers inserting overlapping batches at
// once, in different orders, each insert every KeyRef exactly once between
// them and get the stored record back.
func checkInsertManyConcurrent(ctx context.Context, st envelope.KeyStore) error {
	const writers, n = 4, 200
	var wg sync.WaitGroup
	stored := make([][]envelope.Record, writers)
	inserted := make([][]bool, writers)
	batches := make([][]envelope.Record, writers)
	errs := make([]error, writers)
	for w := range writers {
		b := make([]envelope.Record, n)
		for i := range b {
			b[i] = dek("a", fmt.Sprintf("s:%03d", i), 1, fmt.Sprintf("writer %d", w))
		}
		if w%2 == 1 {
			slices.Reverse(b)
		}
		batches[w] = b
		wg.Add(1)
		go func() {
			defer wg.Done()
			stored[w], inserted[w], errs[w] = st.InsertMany(ctx, b)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keystoretest: concurrent InsertMany: %w", err)
	}
	wins := map[envelope.KeyRef]int{}
	winner := map[envelope.KeyRef]string{}
	for w := range writers {
		if len(stored[w]) != n || len(inserted[w]) != n {
			return fmt.Errorf("keystoretest: concurrent InsertMany returned %d records and %d flags for %d", len(stored[w]), len(inserted[w]), n)
		}
		for i, r := range batches[w] {
			if stored[w][i].KeyRef != r.KeyRef {
				return fmt.Errorf("keystoretest: concurrent InsertMany returned %+v for %+v", stored[w][i].KeyRef, r.KeyRef)
			}
			if inserted[w][i] {
				wins[r.KeyRef]++
				winner[r.KeyRef] = string(r.Wrapped)
			}
		}
	}
	for w := range writers {
		for i, r := range batches[w] {
			if wins[r.KeyRef] != 1 {
				return fmt.Errorf("keystoretest: %d of %d concurrent InsertMany calls reported %+v inserted, want exactly 1", wins[r.KeyRef], writers, r.KeyRef)
			}
			if got := string(stored[w][i].Wrapped); got != winner[r.KeyRef] {
				return fmt.Errorf("keystoretest: concurrent InsertMany returned %q for %+v, but %q was inserted (return the stored record)", got, r.KeyRef, winner[r.KeyRef])
			}
		}
	}
	return present(ctx, st, ref(envelope.KindDEK, "a", "s:000", 1), winner[ref(envelope.KindDEK, "a", "s:000", 1)])
}
