// Package keystoretest is the conformance suite every envelope.KeyStore
// must pass: envelope.NewMemoryStore and sqlkeystore (SQLite and
// PostgreSQL) do, and so must a store you write.
//
//	func TestConformance(t *testing.T) {
//		keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
//			return newStore(t) // empty, fresh for each call
//		})
//	}
//
// newStore is called once per subtest, so every check starts from an
// empty store. Run the suite under -race: some checks drive the store from
// several goroutines at once.
//
// # What is checked
//
//   - GetMissing: Get and Latest of what is not there fail with
//     envelope.ErrNotFound.
//   - InsertGet: Insert stores a record and returns it as stored; Get
//     returns it with every field (Created to the microsecond); Insert of
//     an existing KeyRef changes nothing and returns the stored record.
//   - InsertConcurrent: of eight goroutines inserting one KeyRef, exactly
//     one inserts, and all get the same record back.
//   - Latest: the highest ID of the kind in (tenant, scope), not of
//     another kind, scope or tenant, whatever the insertion order.
//   - Replace: compare-and-swap on Wrapped: a stale or missing record, or
//     a KeyRef that changes, is envelope.ErrConflict and changes nothing;
//     Created is kept.
//   - Forget: deletes the DEKs of (tenant, scope) and nothing else, returns
//     how many, and inserts a tombstone whose ID is the highest DEK id it
//     deleted (the watermark); forgetting again deletes nothing and keeps
//     the watermark.
//   - ForgetGenerations: tombstones are a history that is never deleted,
//     so the watermark (the highest tombstone) never goes down: not when a
//     scope is forgotten before it had keys (watermark 0), not for a DEK
//     inserted below the watermark after a Forget, not past a closing
//     tombstone (the largest DEK id).
//   - ForgetRace: Forget is atomic with its tombstone: with DEKs inserted
//     while Forget runs, every DEK it deleted is at or below the
//     watermark.
//   - TenantIsolation: two tenants sharing scopes and ids, and names that
//     a careless key encoding would confuse ("a" + "b:c" and "a:b" + "c"),
//     never see each other's records in Get, Latest, Forget or List.
//   - ListPages: List pages through one kind in (Tenant, Scope, ID) order,
//     strictly after the cursor, at most limit records a page.
//   - NoAliasing: the store keeps no slice the caller passed and returns
//     none it keeps.
//   - CancelledContext: every method fails with an error matching
//     context.Canceled.
//   - Sealer: two envelope.Sealers on the store seal and open each
//     other's values; ForgetSubject shreds one tenant's subject and not
//     another tenant's with the same id; a new key generation serves new
//     values; CloseSubject refuses them.
//   - GetMany, LatestMany: the records asked for that exist, each once
//     (asked twice or not), none other (another kind, tenant, scope or
//     id), with every field; LatestMany the highest ID of each scope;
//     1,500 at once (more than one SQL statement's worth).
//   - InsertMany: insert-if-absent record by record, results in the order
//     of the records asked, existing records kept and returned as stored;
//     1,500 at once.
//   - InsertManyConcurrent: four writers inserting the same 200 KeyRefs at
//     once, in opposite orders, insert each exactly once between them and
//     all get the stored record back.
//   - SealerBatch: two Sealers sealing slices of the same new subjects at
//     once end with one DEK per subject that both used; cold Sealers open
//     every record and seal new values under the stored DEKs; a forgotten
//     subject's record is envelope.ErrShredded, the same id in another
//     tenant is not. TenantIsolation, NoAliasing and CancelledContext
//     cover the batch methods too.
//   - Reserve: Insert keeps Record.Used; Reserve adds within the limit and
//     returns the new count, refuses past it with envelope.ErrLimit and
//     changes nothing, a missing or forgotten DEK is envelope.ErrNotFound,
//     two tenants' DEKs with the same scope and id count apart, Replace
//     keeps Used.
//   - ReserveConcurrent: eight goroutines reserving one message at a time
//     against a limit of 200 get 200 distinct counts, 1 to 200 (an atomic
//     update), and no more.
//   - SealerFleetLimit: two Sealers at once, with a cap of 40 messages per
//     DEK reserved 7 at a time, seal 200 values of one subject: no DEK id
//     appears in more than 40 ciphertexts, and every value opens in both.
//
// The suite's own tests run every check against deliberately broken
// stores (one that ignores the tenant in Forget, one whose Latest returns
// a lower id, a Replace without the compare, a Forget whose tombstone is
// not atomic with its delete, a Reserve that reads and then writes...),
// and each must fail.
package keystoretest
