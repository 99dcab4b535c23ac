// Package storetest is the conformance suite for what retention users
// implement: a [retention.Store] over their own storage, a
// [retention.Holds] and a [retention.PendingShreds]. It uses only the
// standard testing package.
//
// A store's tests call [Run] with a [Harness] whose NewStore returns an
// empty Store of the suite's fixture type [Record] and a function that
// puts records into it:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) (retention.Store, storetest.PutFunc) {
//			st := mystore.New(db, &storetest.Record{})
//			return st, func(r *storetest.Record, created time.Time) error { return st.Insert(r, created) }
//		}})
//	}
//
// The checks, one subtest each, with a fresh store:
//
//   - ClocksSelectDue: a Clocks query returns exactly the records with a
//     clock at or before its cutoff, in (tenant, id) order, decoded.
//   - Paging: Limit and After page through every record exactly once.
//   - TenantIsolation: two tenants share a record id and a subject id;
//     Subject and Record queries return only the named tenant's records,
//     and a commit or delete in one tenant leaves the other's untouched.
//   - CommitWritesChanges: changes and deletes of claimed records persist.
//   - CommitClaimedOnly: a commit naming a record the claim did not
//     select fails and changes nothing, not even the claimed records.
//   - RollbackChangesNothing: a record changed in memory and rolled back
//     is unchanged in the store, and the claim's lock is released.
//   - ClaimLocks: while a claim is open, a second claim of the same
//     record either skips it (SKIP LOCKED) or waits for the commit; it
//     never returns the record as it was before the commit.
//
// With Harness.NewHolds, Run checks a hold store (HoldsActive: active at
// a time; HoldsReplaceAndDelete: replace by ID, delete), and when the hold
// store also keeps the pending key shreds (retention.PendingShreds), the
// pending shred checks (PendingShreds: kinds only rise, deletion up to a
// kind, paging in ID order).
//
// The suite's own tests run it against deliberately broken stores (one
// that ignores the tenant, one whose commit writes unclaimed records, one
// that does not honour a rollback) and require each to fail.
package storetest
