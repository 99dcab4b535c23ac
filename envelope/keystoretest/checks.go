package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/format"
)

// closed is the ID of a closing tombstone (envelope's CloseSubject): the
// largest DEK id a ciphertext can name.
const closed uint32 = format.MaxDEKID

func checkGetMissing(ctx context.Context, st envelope.KeyStore) error {
	if err := absent(ctx, st, ref(envelope.KindDEK, "a", "s:x", 1), "empty store"); err != nil {
		return err
	}
	for _, kind := range []envelope.Kind{envelope.KindDEK, envelope.KindTombstone} {
		if r, err := st.Latest(ctx, kind, "a", "s:x"); !errors.Is(err, envelope.ErrNotFound) {
			return fmt.Errorf("keystoretest: Latest %s of an empty store: got %+v, %v; want envelope.ErrNotFound", kind, r.KeyRef, err)
		}
	}
	if err := insert(ctx, st, dek("a", "s:x", 1, "w")); err != nil {
		return err
	}
	return errors.Join(
		absent(ctx, st, ref(envelope.KindDEK, "a", "s:x", 2), "another id"),
		absent(ctx, st, ref(envelope.KindBranch, "a", "s:x", 1), "another kind"),
	)
}

func checkInsertGet(ctx context.Context, st envelope.KeyStore) error {
	r := dek("a", "s:x", 1, "w1")
	r.Parent, r.KEK = 3, "projects/p/keys/k/cryptoKeyVersions/4"
	if err := insert(ctx, st, r); err != nil {
		return err
	}
	got, err := st.Get(ctx, r.KeyRef)
	if err != nil {
		return fmt.Errorf("keystoretest: Get after Insert: %w", err)
	}
	if err := sameRecord("Get", r, got); err != nil {
		return err
	}
	dup := r
	dup.Wrapped, dup.Parent, dup.KEK = []byte("other"), 9, "other"
	got, inserted, err := st.Insert(ctx, dup)
	if err != nil {
		return fmt.Errorf("keystoretest: Insert of an existing KeyRef: %w", err)
	}
	if inserted {
		return errors.New("keystoretest: Insert of an existing KeyRef reported inserted (insert-if-absent)")
	}
	if err := sameRecord("Insert of an existing KeyRef returned", r, got); err != nil {
		return fmt.Errorf("%w (it must return the stored record)", err)
	}
	got, err = st.Get(ctx, r.KeyRef)
	if err != nil {
		return fmt.Errorf("keystoretest: Get: %w", err)
	}
	if err := sameRecord("Get after a second Insert", r, got); err != nil {
		return fmt.Errorf("%w (Insert must not overwrite)", err)
	}
	// Tombstones have empty Wrapped; large ids fit.
	tomb := envelope.Record{KeyRef: ref(envelope.KindTombstone, "a", "s:x", closed), Wrapped: []byte{}, Created: created}
	if err := insert(ctx, st, tomb); err != nil {
		return err
	}
	got, err = st.Get(ctx, tomb.KeyRef)
	if err != nil {
		return fmt.Errorf("keystoretest: Get of a tombstone: %w", err)
	}
	return sameRecord("Get of a tombstone", tomb, got)
}

func checkInsertConcurrent(ctx context.Context, st envelope.KeyStore) error {
	const n = 8
	var wg sync.WaitGroup
	results := make([]envelope.Record, n)
	inserted := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], inserted[i], errs[i] = st.Insert(ctx, dek("a", "t", 1, fmt.Sprint("w", i)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keystoretest: concurrent Insert: %w", err)
	}
	wins := 0
	for i := range n {
		if inserted[i] {
			wins++
		}
		if string(results[i].Wrapped) != string(results[0].Wrapped) {
			return fmt.Errorf("keystoretest: concurrent Inserts of one KeyRef returned different records (%q, %q)", results[0].Wrapped, results[i].Wrapped)
		}
	}
	if wins != 1 {
		return fmt.Errorf("keystoretest: %d of %d concurrent Inserts of one KeyRef reported inserted, want exactly 1", wins, n)
	}
	return present(ctx, st, ref(envelope.KindDEK, "a", "t", 1), string(results[0].Wrapped))
}

func checkLatest(ctx context.Context, st envelope.KeyStore) error {
	var rs []envelope.Record
	for _, id := range []uint32{2, 9, 4, 1} {
		rs = append(rs, dek("a", "t", id, fmt.Sprint("w", id)))
	}
	rs = append(rs,
		dek("a", "u", 20, "other scope"),
		dek("b", "t", 30, "other tenant"),
		rec(envelope.KindBranch, "a", "t", 40, "other kind"),
		dek("a", "t", 3, "w3"), // an older id inserted last
	)
	if err := insertAll(ctx, st, rs...); err != nil {
		return err
	}
	got, err := st.Latest(ctx, envelope.KindDEK, "a", "t")
	if err != nil {
		return fmt.Errorf("keystoretest: Latest: %w", err)
	}
	if got.KeyRef != ref(envelope.KindDEK, "a", "t", 9) || string(got.Wrapped) != "w9" {
		return fmt.Errorf("keystoretest: Latest dek of (a, t) returned %+v (Wrapped %q), want id 9 (the highest of that kind, tenant and scope)", got.KeyRef, got.Wrapped)
	}
	return sameRecord("Latest", rs[1], got)
}

func checkReplace(ctx context.Context, st envelope.KeyStore) error {
	r := rec(envelope.KindBranch, "a", "", 1, "old")
	if err := insert(ctx, st, r); err != nil {
		return err
	}
	nr := r
	nr.Wrapped, nr.KEK, nr.Parent = []byte("new"), "kek#2", 8
	nr.Created = created.AddDate(1, 0, 0)
	if err := st.Replace(ctx, r, nr); err != nil {
		return fmt.Errorf("keystoretest: Replace of the stored record: %w", err)
	}
	got, err := st.Get(ctx, r.KeyRef)
	if err != nil {
		return fmt.Errorf("keystoretest: Get after Replace: %w", err)
	}
	want := nr
	want.Created = r.Created
	if err := sameRecord("Get after Replace", want, got); err != nil {
		return fmt.Errorf("%w (Replace sets Wrapped, Parent and KEK, and keeps Created)", err)
	}
	// A second replace from the stale record conflicts, and changes nothing.
	stale := nr
	stale.Wrapped = []byte("newer")
	if err := st.Replace(ctx, r, stale); !errors.Is(err, envelope.ErrConflict) {
		return fmt.Errorf("keystoretest: Replace from a stale record: got %v, want envelope.ErrConflict (compare-and-swap on Wrapped)", err)
	}
	if err := present(ctx, st, r.KeyRef, "new"); err != nil {
		return fmt.Errorf("%w (after a conflicting Replace)", err)
	}
	// A missing record conflicts and is not created.
	missing := rec(envelope.KindBranch, "b", "", 1, "x")
	if err := st.Replace(ctx, missing, missing); !errors.Is(err, envelope.ErrConflict) {
		return fmt.Errorf("keystoretest: Replace of a missing record: got %v, want envelope.ErrConflict", err)
	}
	if err := absent(ctx, st, missing.KeyRef, "Replace of a missing record must not create it"); err != nil {
		return err
	}
	// Replace never moves a record to another KeyRef.
	moved := nr
	moved.ID = 2
	if err := st.Replace(ctx, nr, moved); !errors.Is(err, envelope.ErrConflict) {
		return fmt.Errorf("keystoretest: Replace to another KeyRef: got %v, want envelope.ErrConflict", err)
	}
	return errors.Join(
		absent(ctx, st, moved.KeyRef, "Replace to another KeyRef must not create it"),
		present(ctx, st, r.KeyRef, "new"),
	)
}

func checkForget(ctx context.Context, st envelope.KeyStore) error {
	err := insertAll(ctx, st,
		dek("a", "s:x", 2, "w"), dek("a", "s:x", 5, "w"), dek("a", "s:x", 3, "w"),
		dek("a", "s:y", 1, "other scope"),
		dek("b", "s:x", 7, "other tenant"),
		rec(envelope.KindSearch, "a", "s:x", 9, "other kind"),
	)
	if err != nil {
		return err
	}
	if err := forget(ctx, st, "a", "s:x", 3); err != nil {
		return err
	}
	for _, id := range []uint32{2, 3, 5} {
		if err := absent(ctx, st, ref(envelope.KindDEK, "a", "s:x", id), "forgotten"); err != nil {
			return err
		}
	}
	if r, err := st.Latest(ctx, envelope.KindDEK, "a", "s:x"); !errors.Is(err, envelope.ErrNotFound) {
		return fmt.Errorf("keystoretest: Latest dek of a forgotten scope: got %+v, %v; want envelope.ErrNotFound", r.KeyRef, err)
	}
	if err := wantWatermark(ctx, st, "a", "s:x", 5, "the highest DEK id Forget deleted"); err != nil {
		return err
	}
	err = errors.Join(
		present(ctx, st, ref(envelope.KindDEK, "a", "s:y", 1), "other scope"),
		present(ctx, st, ref(envelope.KindDEK, "b", "s:x", 7), "other tenant"),
		present(ctx, st, ref(envelope.KindSearch, "a", "s:x", 9), "other kind"),
	)
	if err != nil {
		return fmt.Errorf("%w (Forget deletes the DEKs of its tenant and scope only)", err)
	}
	for _, o := range [][2]string{{"b", "s:x"}, {"a", "s:y"}} {
		if r, err := st.Latest(ctx, envelope.KindTombstone, o[0], o[1]); !errors.Is(err, envelope.ErrNotFound) {
			return fmt.Errorf("keystoretest: a Forget of (a, s:x) left a tombstone for (%s, %s): %+v, %v", o[0], o[1], r.KeyRef, err)
		}
	}
	// Forgetting twice deletes nothing and keeps the watermark.
	if err := forget(ctx, st, "a", "s:x", 0); err != nil {
		return err
	}
	return wantWatermark(ctx, st, "a", "s:x", 5, "a second Forget keeps it")
}

func checkForgetGenerations(ctx context.Context, st envelope.KeyStore) error {
	// A scope forgotten before it had keys: watermark 0.
	if err := forget(ctx, st, "a", "s:x", 0); err != nil {
		return err
	}
	if err := wantWatermark(ctx, st, "a", "s:x", 0, "nothing was deleted"); err != nil {
		return err
	}
	// A generation of keys, then another.
	for _, ids := range [][]uint32{{1, 2}, {3, 4, 5}} {
		for _, id := range ids {
			if err := insert(ctx, st, dek("a", "s:x", id, "w")); err != nil {
				return err
			}
		}
		if err := forget(ctx, st, "a", "s:x", len(ids)); err != nil {
			return err
		}
		if err := wantWatermark(ctx, st, "a", "s:x", ids[len(ids)-1], "the highest id of the generation"); err != nil {
			return err
		}
	}
	// The history stays: the first generation's tombstone too.
	got, err := st.Get(ctx, ref(envelope.KindTombstone, "a", "s:x", 2))
	if err != nil || got.KeyRef != ref(envelope.KindTombstone, "a", "s:x", 2) {
		return fmt.Errorf("keystoretest: the tombstone of an earlier generation is gone (%+v, %v): tombstones are never deleted", got.KeyRef, err)
	}
	// A DEK below the watermark (a writer that raced the Forget) does not
	// lower it.
	if err := insert(ctx, st, dek("a", "s:x", 4, "late")); err != nil {
		return err
	}
	if err := forget(ctx, st, "a", "s:x", 1); err != nil {
		return err
	}
	if err := wantWatermark(ctx, st, "a", "s:x", 5, "a late DEK below it does not lower it"); err != nil {
		return err
	}
	// A closing tombstone stays the watermark through later Forgets.
	if err := insert(ctx, st, envelope.Record{KeyRef: ref(envelope.KindTombstone, "a", "s:x", closed), Wrapped: []byte{}, Created: created}); err != nil {
		return err
	}
	if err := insert(ctx, st, dek("a", "s:x", 6, "w")); err != nil {
		return err
	}
	if err := forget(ctx, st, "a", "s:x", 1); err != nil {
		return err
	}
	if err := wantWatermark(ctx, st, "a", "s:x", closed, "a closing tombstone stays"); err != nil {
		return err
	}
	// Forget touches only DEKs: a branch key's id is not a DEK id.
	if err := insert(ctx, st, rec(envelope.KindBranch, "a", "", 9, "branch")); err != nil {
		return err
	}
	if err := forget(ctx, st, "a", "", 0); err != nil {
		return err
	}
	if err := present(ctx, st, ref(envelope.KindBranch, "a", "", 9), "branch"); err != nil {
		return err
	}
	return wantWatermark(ctx, st, "a", "", 0, "a branch id is not a DEK id")
}

// forgetRounds is how many times ForgetRace races an Insert with a Forget.
const forgetRounds = 64

func checkForgetRace(ctx context.Context, st envelope.KeyStore) error {
	for id := uint32(1); id <= forgetRounds; id++ {
		var wg sync.WaitGroup
		var ierr, ferr error
		fgt := func() {
			defer wg.Done()
			_, ferr = st.Forget(ctx, "a", "s:race")
		}
		ins := func() {
			defer wg.Done()
			_, _, ierr = st.Insert(ctx, dek("a", "s:race", id, "w"))
		}
		// Both orders: the goroutine started last often runs first.
		wg.Add(2)
		if id%2 == 0 {
			go fgt()
			go ins()
		} else {
			go ins()
			go fgt()
		}
		wg.Wait()
		if err := errors.Join(ierr, ferr); err != nil {
			return fmt.Errorf("keystoretest: Insert racing Forget: %w", err)
		}
		_, err := st.Get(ctx, ref(envelope.KindDEK, "a", "s:race", id))
		switch {
		case err == nil: // inserted after the Forget: a live DEK
		case errors.Is(err, envelope.ErrNotFound):
			wm, err := watermark(ctx, st, "a", "s:race")
			if err != nil {
				return err
			}
			if wm < id {
				return fmt.Errorf("keystoretest: Forget deleted DEK %d but the watermark is %d: the tombstone must be written with the delete, from exactly the rows deleted", id, wm)
			}
		default:
			return fmt.Errorf("keystoretest: Get: %w", err)
		}
	}
	return nil
}

func checkTenantIsolation(ctx context.Context, st envelope.KeyStore) error {
	// Two tenants share a subject's scope and ids; b's ids run higher.
	err := insertAll(ctx, st,
		dek("a", "s:alice", 1, "a1"), dek("a", "s:alice", 2, "a2"),
		dek("b", "s:alice", 1, "b1"), dek("b", "s:alice", 2, "b2"), dek("b", "s:alice", 5, "b5"),
		dek("", "s:alice", 8, "tenant-less"),
		// Names a careless encoding of (tenant, scope) would confuse.
		dek("a", "b:c", 1, "a|b:c"), dek("a:b", "c", 1, "a:b|c"),
		dek("a", "s:alice2", 9, "another subject"),
	)
	if err != nil {
		return err
	}
	err = errors.Join(
		present(ctx, st, ref(envelope.KindDEK, "a", "s:alice", 1), "a1"),
		present(ctx, st, ref(envelope.KindDEK, "b", "s:alice", 1), "b1"),
		present(ctx, st, ref(envelope.KindDEK, "a", "b:c", 1), "a|b:c"),
		present(ctx, st, ref(envelope.KindDEK, "a:b", "c", 1), "a:b|c"),
		absent(ctx, st, ref(envelope.KindDEK, "a", "s:alice", 5), "only tenant b has id 5"),
	)
	if err != nil {
		return err
	}
	latest := func(tenant, scope string, want uint32) error {
		got, err := st.Latest(ctx, envelope.KindDEK, tenant, scope)
		if err != nil {
			return fmt.Errorf("keystoretest: Latest dek of (%q, %q): %w", tenant, scope, err)
		}
		if got.KeyRef != ref(envelope.KindDEK, tenant, scope, want) {
			return fmt.Errorf("keystoretest: Latest dek of (%q, %q) returned %+v, want id %d of that tenant and scope", tenant, scope, got.KeyRef, want)
		}
		return nil
	}
	if err := errors.Join(latest("a", "s:alice", 2), latest("b", "s:alice", 5), latest("", "s:alice", 8)); err != nil {
		return err
	}
	// The batch methods keep tenants apart too.
	many, err := st.GetMany(ctx, []envelope.KeyRef{ref(envelope.KindDEK, "a", "s:alice", 5), ref(envelope.KindDEK, "a", "s:alice", 1), ref(envelope.KindDEK, "a:b", "c", 1)})
	if err != nil {
		return fmt.Errorf("keystoretest: GetMany: %w", err)
	}
	if err := sameSet("GetMany across tenants", []envelope.Record{dek("a", "s:alice", 1, "a1"), dek("a:b", "c", 1, "a:b|c")}, many); err != nil {
		return err
	}
	many, err = st.LatestMany(ctx, []envelope.ScopeRef{{Kind: envelope.KindDEK, Tenant: "a", Scope: "s:alice"}, {Kind: envelope.KindDEK, Tenant: "a", Scope: "b:c"}, {Kind: envelope.KindDEK, Tenant: "c", Scope: "s:alice"}})
	if err != nil {
		return fmt.Errorf("keystoretest: LatestMany: %w", err)
	}
	if err := sameSet("LatestMany across tenants", []envelope.Record{dek("a", "s:alice", 2, "a2"), dek("a", "b:c", 1, "a|b:c")}, many); err != nil {
		return err
	}
	// Forgetting a's alice leaves b's and the tenant-less alice alone.
	if err := forget(ctx, st, "a", "s:alice", 2); err != nil {
		return err
	}
	err = errors.Join(
		present(ctx, st, ref(envelope.KindDEK, "b", "s:alice", 5), "b5"),
		present(ctx, st, ref(envelope.KindDEK, "", "s:alice", 8), "tenant-less"),
		present(ctx, st, ref(envelope.KindDEK, "a", "s:alice2", 9), "another subject"),
		wantWatermark(ctx, st, "a", "s:alice", 2, "a's own DEKs only"),
	)
	if err != nil {
		return fmt.Errorf("%w (Forget of one tenant's subject touches another tenant's)", err)
	}
	for _, tenant := range []string{"b", ""} {
		if r, err := st.Latest(ctx, envelope.KindTombstone, tenant, "s:alice"); !errors.Is(err, envelope.ErrNotFound) {
			return fmt.Errorf("keystoretest: forgetting (a, s:alice) left a tombstone for (%q, s:alice): %+v, %v", tenant, r.KeyRef, err)
		}
	}
	if err := forget(ctx, st, "a:b", "c", 1); err != nil {
		return err
	}
	if err := present(ctx, st, ref(envelope.KindDEK, "a", "b:c", 1), "a|b:c"); err != nil {
		return fmt.Errorf("%w (a Forget of (a:b, c) deleted (a, b:c))", err)
	}
	// List keeps tenants apart and in order.
	recs, err := st.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 100)
	if err != nil {
		return fmt.Errorf("keystoretest: List: %w", err)
	}
	var got []envelope.KeyRef
	for _, r := range recs {
		got = append(got, r.KeyRef)
	}
	want := []envelope.KeyRef{
		ref(envelope.KindDEK, "", "s:alice", 8),
		ref(envelope.KindDEK, "a", "b:c", 1),
		ref(envelope.KindDEK, "a", "s:alice2", 9),
		ref(envelope.KindDEK, "b", "s:alice", 1), ref(envelope.KindDEK, "b", "s:alice", 2), ref(envelope.KindDEK, "b", "s:alice", 5),
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("keystoretest: List after the Forgets returned %+v, want %+v", got, want)
	}
	return nil
}

func checkListPages(ctx context.Context, st envelope.KeyStore) error {
	var want []envelope.KeyRef
	for _, tenant := range []string{"", "a", "b"} {
		for _, scope := range []string{"", "s:1", "s:2", "t"} {
			for id := uint32(0); id <= 2; id++ {
				r := dek(tenant, scope, id, "w")
				if err := insert(ctx, st, r); err != nil {
					return err
				}
				want = append(want, r.KeyRef)
			}
		}
	}
	if err := insertAll(ctx, st, rec(envelope.KindBranch, "a", "", 1, "not listed"), rec(envelope.KindTombstone, "a", "s:1", 9, "")); err != nil {
		return err
	}
	var got []envelope.KeyRef
	after := envelope.KeyRef{}
	for page := 0; ; page++ {
		if page > len(want) {
			return fmt.Errorf("keystoretest: List did not end after %d pages of 4 for %d records (does it honour after?)", page, len(want))
		}
		recs, err := st.List(ctx, envelope.KindDEK, after, 4)
		if err != nil {
			return fmt.Errorf("keystoretest: List: %w", err)
		}
		if len(recs) > 4 {
			return fmt.Errorf("keystoretest: List with limit 4 returned %d records", len(recs))
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			got = append(got, r.KeyRef)
		}
		after = recs[len(recs)-1].KeyRef
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("keystoretest: List pages returned %d records %+v, want the %d DEKs in (Tenant, Scope, ID) order %+v", len(got), got, len(want), want)
	}
	// A cursor in the middle of a scope starts strictly after it.
	recs, err := st.List(ctx, envelope.KindDEK, ref(envelope.KindDEK, "a", "s:1", 1), 2)
	if err != nil {
		return fmt.Errorf("keystoretest: List: %w", err)
	}
	if len(recs) != 2 || recs[0].KeyRef != ref(envelope.KindDEK, "a", "s:1", 2) || recs[1].KeyRef != ref(envelope.KindDEK, "a", "s:2", 0) {
		return fmt.Errorf("keystoretest: List after (a, s:1, 1) returned %+v, want (a, s:1, 2) then (a, s:2, 0)", recs)
	}
	return nil
}

func checkNoAliasing(ctx context.Context, st envelope.KeyStore) error {
	r := dek("a", "s:x", 1, "wrapped")
	if _, _, err := st.Insert(ctx, r); err != nil {
		return fmt.Errorf("keystoretest: Insert: %w", err)
	}
	copy(r.Wrapped, "XXXXXXX")
	if err := present(ctx, st, r.KeyRef, "wrapped"); err != nil {
		return fmt.Errorf("%w (Insert kept the caller's slice)", err)
	}
	got, err := st.Get(ctx, r.KeyRef)
	if err != nil {
		return fmt.Errorf("keystoretest: Get: %w", err)
	}
	copy(got.Wrapped, "YYYYYYY")
	if err := present(ctx, st, r.KeyRef, "wrapped"); err != nil {
		return fmt.Errorf("%w (Get returned the store's own slice)", err)
	}
	got, err = st.Latest(ctx, envelope.KindDEK, "a", "s:x")
	if err != nil {
		return fmt.Errorf("keystoretest: Latest: %w", err)
	}
	copy(got.Wrapped, "ZZZZZZZ")
	recs, err := st.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 10)
	if err != nil || len(recs) != 1 {
		return fmt.Errorf("keystoretest: List: %d records, %v", len(recs), err)
	}
	copy(recs[0].Wrapped, "LLLLLLL")
	if err := present(ctx, st, r.KeyRef, "wrapped"); err != nil {
		return fmt.Errorf("%w (Latest or List returned the store's own slice)", err)
	}
	recs, err = st.GetMany(ctx, []envelope.KeyRef{r.KeyRef})
	if err != nil || len(recs) != 1 {
		return fmt.Errorf("keystoretest: GetMany: %d records, %v", len(recs), err)
	}
	copy(recs[0].Wrapped, "GGGGGGG")
	recs, err = st.LatestMany(ctx, []envelope.ScopeRef{{Kind: envelope.KindDEK, Tenant: "a", Scope: "s:x"}})
	if err != nil || len(recs) != 1 {
		return fmt.Errorf("keystoretest: LatestMany: %d records, %v", len(recs), err)
	}
	copy(recs[0].Wrapped, "MMMMMMM")
	if err := present(ctx, st, r.KeyRef, "wrapped"); err != nil {
		return fmt.Errorf("%w (GetMany or LatestMany returned the store's own slice)", err)
	}
	many := []envelope.Record{dek("a", "s:y", 1, "batched")}
	stored, _, err := st.InsertMany(ctx, many)
	if err != nil || len(stored) != 1 {
		return fmt.Errorf("keystoretest: InsertMany: %d records, %v", len(stored), err)
	}
	copy(many[0].Wrapped, "IIIIIII")
	copy(stored[0].Wrapped, "JJJJJJJ")
	if err := present(ctx, st, many[0].KeyRef, "batched"); err != nil {
		return fmt.Errorf("%w (InsertMany kept the caller's slice or returned its own)", err)
	}
	nr := dek("a", "s:x", 1, "rewrapped")
	old := dek("a", "s:x", 1, "wrapped")
	if err := st.Replace(ctx, old, nr); err != nil {
		return fmt.Errorf("keystoretest: Replace: %w", err)
	}
	copy(nr.Wrapped, "RRRRRRRRR")
	if err := present(ctx, st, r.KeyRef, "rewrapped"); err != nil {
		return fmt.Errorf("%w (Replace kept the caller's slice)", err)
	}
	return nil
}

func checkCancelled(ctx context.Context, st envelope.KeyStore) error {
	if err := insert(ctx, st, dek("a", "s:x", 1, "w")); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r := dek("a", "s:x", 2, "w")
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := st.Get(cctx, ref(envelope.KindDEK, "a", "s:x", 1)); return err }},
		{"Latest", func() error { _, err := st.Latest(cctx, envelope.KindDEK, "a", "s:x"); return err }},
		{"Insert", func() error { _, _, err := st.Insert(cctx, r); return err }},
		{"Replace", func() error { return st.Replace(cctx, dek("a", "s:x", 1, "w"), dek("a", "s:x", 1, "v")) }},
		{"Forget", func() error { _, err := st.Forget(cctx, "a", "s:x"); return err }},
		{"List", func() error { _, err := st.List(cctx, envelope.KindDEK, envelope.KeyRef{}, 10); return err }},
		{"Reserve", func() error { _, err := st.Reserve(cctx, ref(envelope.KindDEK, "a", "s:x", 1), 1, 10); return err }},
		{"GetMany", func() error {
			_, err := st.GetMany(cctx, []envelope.KeyRef{ref(envelope.KindDEK, "a", "s:x", 1)})
			return err
		}},
		{"LatestMany", func() error {
			_, err := st.LatestMany(cctx, []envelope.ScopeRef{{Kind: envelope.KindDEK, Tenant: "a", Scope: "s:x"}})
			return err
		}},
		{"InsertMany", func() error { _, _, err := st.InsertMany(cctx, []envelope.Record{r}); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("keystoretest: %s with a cancelled context: got %v, want an error matching context.Canceled", c.name, err)
		}
	}
	// Nothing happened.
	return errors.Join(
		present(ctx, st, ref(envelope.KindDEK, "a", "s:x", 1), "w"),
		absent(ctx, st, r.KeyRef, "Insert with a cancelled context"),
		wantUsed(ctx, st, ref(envelope.KindDEK, "a", "s:x", 1), 0, "Reserve with a cancelled context"),
	)
}
