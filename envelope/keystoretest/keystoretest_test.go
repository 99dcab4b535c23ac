package keystoretest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

func TestReferenceStoreConforms(t *testing.T) {
	Run(t, func(t *testing.T) envelope.KeyStore { return newRef(flaws{}) })
}

// brokenStores pairs each deliberate flaw with a check that must catch it.
var brokenStores = []struct {
	name  string
	flaws flaws
	check string
	want  string
}{
	{"missing records are not errors", flaws{missingNoError: true}, "GetMissing", "want envelope.ErrNotFound"},
	{"Forget ignores the tenant", flaws{forgetIgnoresTenant: true}, "Forget", "reported 4 DEKs deleted, want 3 (the DEKs of that tenant and scope"},
	{"Forget ignores the tenant: shared subject id", flaws{forgetIgnoresTenant: true}, "TenantIsolation", `Forget ("a", "s:alice") reported 6 DEKs deleted, want 2`},
	{"Forget ignores the tenant: sealers", flaws{forgetIgnoresTenant: true}, "Sealer", "the same subject id in another tenant"},
	{"Forget deletes other kinds", flaws{forgetDeletesAllKinds: true}, "Forget", "no other kind"},
	{"Forget deletes other kinds: branch keys", flaws{forgetDeletesAllKinds: true}, "ForgetGenerations", `Forget ("a", "") reported 1 DEKs deleted, want 0`},
	{"Forget not atomic with its tombstone", flaws{forgetNotAtomic: true}, "ForgetRace", "the tombstone must be written with the delete"},
	{"watermark is a count", flaws{forgetCountWatermark: true}, "Forget", "the highest DEK id Forget deleted"},
	{"Forget drops the history", flaws{forgetDropsHistory: true}, "ForgetGenerations", "tombstones are never deleted"},
	{"Forget drops the history: a second Forget", flaws{forgetDropsHistory: true}, "Forget", "a second Forget keeps it"},
	{"Latest returns a lower id", flaws{latestLower: true}, "Latest", "want id 9"},
	{"Latest returns a lower id: watermark", flaws{latestLower: true}, "ForgetGenerations", "watermark"},
	{"Latest ignores the scope", flaws{latestAnyScope: true}, "Latest", "want id 9"},
	{"Replace without compare", flaws{replaceNoCompare: true}, "Replace", "want envelope.ErrConflict (compare-and-swap on Wrapped)"},
	{"Replace creates", flaws{replaceCreates: true}, "Replace", "Replace of a missing record"},
	{"Get ignores the tenant", flaws{getIgnoresTenant: true}, "TenantIsolation", "keystoretest: Get {Kind:dek Tenant:"},
	{"tenant and scope joined into one key", flaws{joinedKeys: true}, "TenantIsolation", "into an empty slot reported not inserted"},
	{"Insert overwrites", flaws{insertOverwrites: true}, "InsertGet", "insert-if-absent"},
	{"Insert returns the caller's record", flaws{insertReturnsArg: true}, "InsertGet", "it must return the stored record"},
	{"Insert not atomic", flaws{insertNotAtomic: true}, "InsertConcurrent", "returned different records"},
	{"KEK dropped", flaws{dropsKEK: true}, "InsertGet", "KEK"},
	{"Created kept to the second", flaws{createdSeconds: true}, "InsertGet", "to the microsecond"},
	{"aliases the caller's slices", flaws{aliases: true}, "NoAliasing", "Insert kept the caller's slice"},
	{"ignores the context", flaws{ignoresCtx: true}, "CancelledContext", "want an error matching context.Canceled"},
	{"List ignores the cursor", flaws{listIgnoresAfter: true}, "ListPages", "does it honour after?"},
	{"List unsorted", flaws{listUnsorted: true}, "ListPages", "(Tenant, Scope, ID) order"},
	{"Reserve not atomic", flaws{reserveNotAtomic: true}, "ReserveConcurrent", "each block must be handed out once"},
	{"Reserve not atomic: sealers", flaws{reserveNotAtomic: true}, "SealerFleetLimit", "fleet limit"},
	{"Reserve without a limit", flaws{reserveNoLimit: true}, "Reserve", "20 used: 30 would pass the limit"},
	{"Reserve without a limit: sealers", flaws{reserveNoLimit: true}, "SealerFleetLimit", "fleet limit"},
	{"Reserve ignores the tenant", flaws{reserveIgnoresTenant: true}, "Reserve", "keystoretest: Reserve"},
	{"Reserve of a missing DEK is ErrLimit", flaws{reserveMissingIsLimit: true}, "Reserve", "no such DEK"},
	{"Insert drops Used", flaws{insertDropsUsed: true}, "Reserve", "Insert stores Used as given"},
	{"Replace resets Used", flaws{replaceResetsUsed: true}, "Reserve", "Replace keeps the messages reserved"},
	{"GetMany repeats records", flaws{getManyRepeats: true}, "GetMany", "twice (each record once)"},
	{"GetMany ignores the tenant", flaws{getManyAnyTenant: true}, "TenantIsolation", "GetMany across tenants returned"},
	{"GetMany ignores the tenant: sealers", flaws{getManyAnyTenant: true}, "SealerBatch", "cold cache"},
	{"GetMany missing records are not left out", flaws{missingNoError: true}, "GetMany", "which was not asked for"},
	{"LatestMany returns the lowest id", flaws{latestManyLower: true}, "LatestMany", "want id 9 of the DEKs of (a, t)"},
	{"LatestMany ignores the tenant", flaws{latestManyAnyTenant: true}, "TenantIsolation", "LatestMany across tenants returned"},
	{"LatestMany ignores the tenant: sealers", flaws{latestManyAnyTenant: true}, "SealerBatch", "key store returned a record other than the one asked for"},
	{"InsertMany misaligned", flaws{insertManyMisaligned: true}, "InsertMany", "in the order of recs"},
	{"InsertMany reports all inserted", flaws{insertManyReportsAll: true}, "InsertMany", "inserted=true, want false"},
	{"InsertMany reports all inserted: racing writers", flaws{insertManyReportsAll: true}, "InsertManyConcurrent", "want exactly 1"},
	{"InsertMany overwrites", flaws{insertManyOverwrites: true}, "InsertMany", "want false"},
	{"InsertMany not atomic", flaws{insertManyNotAtomic: true}, "InsertManyConcurrent", "want exactly 1"},
	{"InsertMany not atomic: sealers", flaws{insertManyNotAtomic: true}, "SealerBatch", "keystoretest: SealerBatch: "}, // caught where the race lands: the seal, or the open of what the loser sealed
	{"ignores the context: batch methods", flaws{ignoresCtx: true}, "CancelledContext", "with a cancelled context"},
}

// TestChecksCatchBrokenStores runs each check against a store with one
// deliberate flaw, and against the correct reference, so a check that
// passes everything cannot hide here.
func TestChecksCatchBrokenStores(t *testing.T) {
	for _, tt := range brokenStores {
		t.Run(tt.name, func(t *testing.T) {
			err := runCheck(t.Context(), tt.check, newRef(tt.flaws))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NoError(t, runCheck(t.Context(), tt.check, newRef(flaws{})), "the correct reference must pass %s", tt.check)
		})
	}
}

// TestEveryCheckIsExercised: every check is named once and catches at
// least one broken store.
func TestEveryCheckIsExercised(t *testing.T) {
	require.Len(t, checks, 21)
	seen := map[string]bool{}
	for _, c := range checks {
		require.False(t, seen[c.name], "duplicate check %s", c.name)
		seen[c.name] = true
	}
	require.Error(t, runCheck(context.Background(), "NoSuchCheck", nil))
	caught := map[string]bool{}
	for _, b := range brokenStores {
		require.True(t, seen[b.check], "no check named %s", b.check)
		caught[b.check] = true
	}
	for _, c := range checks {
		require.True(t, caught[c.name], "no broken store for check %s", c.name)
	}
}

// TestRunFailsOnBrokenStore runs the whole suite, in a child process,
// against a store whose Forget ignores the tenant, and checks that Run
// fails the subtests that should catch it and passes the others.
func TestRunFailsOnBrokenStore(t *testing.T) {
	if os.Getenv("KEYSTORETEST_BROKEN_CHILD") == "1" {
		Run(t, func(t *testing.T) envelope.KeyStore { return newRef(flaws{forgetIgnoresTenant: true}) })
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunFailsOnBrokenStore$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "KEYSTORETEST_BROKEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the suite must fail a store whose Forget ignores the tenant; output:\n%s", out)
	for _, name := range []string{"Forget", "TenantIsolation", "Sealer"} {
		require.Contains(t, string(out), "--- FAIL: TestRunFailsOnBrokenStore/"+name+" ")
	}
	for _, name := range []string{"InsertGet", "Latest", "Replace", "ListPages"} {
		require.Contains(t, string(out), "--- PASS: TestRunFailsOnBrokenStore/"+name+" ")
	}
}
