package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/internal/storetest"
)

// Client has the natural key (tenant, id): its ids repeat across tenants.
type Client struct {
	Tenant    string     `db:"tenant" pii:"tenant"`
	ID        string     `db:"id" pii:"subject"`
	Email     string     `db:"email" pii:"email,retain=1y,from=LastSeen,then=null"`
	Secret    string     `db:"secret" pii:"national_id,encrypt,retain=1y,from=LastSeen,then=shred"`
	Handle    string     `db:"handle" pii:"user.handle,retain=1y,from=LastSeen,then=anonymize"`
	Ref       string     `db:"ref" pii:"user.ref,retain=90d,from=ClosedAt,then=delete"`
	LastSeen  time.Time  `db:"last_seen"`
	ClosedAt  *time.Time `db:"closed_at"`
	CreatedAt time.Time  `db:"created_at"`
}

var clientTable = storetest.Table{
	Prototype: &Client{}, Name: "client", Key: []string{"tenant", "id"},
	DDL: func(pg bool) string {
		ts := "TIMESTAMP"
		if pg {
			ts = "TIMESTAMPTZ"
		}
		return `CREATE TABLE client (tenant TEXT NOT NULL, id TEXT NOT NULL, email TEXT, secret TEXT, handle TEXT, ref TEXT,
			last_seen ` + ts + `, closed_at ` + ts + `, created_at ` + ts + ` NOT NULL, PRIMARY KEY (tenant, id))`
	},
}

const nShared = 250

var tenantNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func sharedID(i int) string { return fmt.Sprintf("c-%03d", i) }

// recorder is a Shredder (with CloseSubject) and TokenDeleter that records its
// calls as "forget:tenant/subject", "close:…", "tokens:…".
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) ForgetSubject(_ context.Context, tenant, subject string) error {
	r.add("forget:" + tenant + "/" + subject)
	return nil
}

func (r *recorder) CloseSubject(_ context.Context, tenant, subject string) error {
	r.add("close:" + tenant + "/" + subject)
	return nil
}

func (r *recorder) DeleteSubject(_ context.Context, tenant, subject string) (int64, error) {
	r.add("tokens:" + tenant + "/" + subject)
	return 1, nil
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// tenantEnv is two tenants, north and south, with the same 250 subject
// ids. dueNorth and dueSouth say whether the tenant's clients were last
// seen two years ago (everything due, every tenth closed: deleted) or ten
// days ago (nothing due).
type tenantEnv struct {
	*storetest.Env
	m   *retention.Manager
	rec *recorder
}

func newTenantEnv(t *testing.T, kind storetest.Kind, dueNorth, dueSouth bool) *tenantEnv {
	t.Helper()
	e := &tenantEnv{Env: storetest.Open(t, kind, clientTable), rec: &recorder{}}
	var err error
	e.m, err = retention.New(&retention.Options{Clock: piitest.NewClock(tenantNow), LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
		Shredder: e.rec, Tokens: e.rec, Ledger: e.Ledger, Holds: e.Holds})
	require.NoError(t, err)
	require.NoError(t, e.m.Register(e.Stores...))
	for _, tenant := range []string{"north", "south"} {
		due := dueNorth
		if tenant == "south" {
			due = dueSouth
		}
		for i := 0; i < nShared; i++ {
			c := &Client{Tenant: tenant, ID: sharedID(i), Email: fmt.Sprintf("%s-%d@example.com", tenant, i),
				Secret: fmt.Sprintf("sealed-%s-%d", tenant, i), Handle: fmt.Sprintf("h_%s_%d", tenant, i), Ref: fmt.Sprintf("r-%s-%d", tenant, i),
				LastSeen: tenantNow.AddDate(0, 0, -10), CreatedAt: tenantNow.AddDate(-3, 0, 0)}
			if due {
				c.LastSeen = tenantNow.AddDate(-2, 0, 0)
				if i%10 == 0 {
					closed := tenantNow.AddDate(-1, 0, 0)
					c.ClosedAt = &closed
				}
			}
			e.Put(t, 0, c, c.CreatedAt)
		}
	}
	return e
}

var (
	ledgerKey    = []byte("tenant test ledger key, 32 bytes")
	pseudonymKey = []byte("tenant test pseudonym key, 32 B.")
)

// rowOf returns the dump row of (tenant, id), or "".
func rowOf(rows []string, tenant, id string) string {
	for _, r := range rows {
		if strings.HasPrefix(r, tenant+"|"+id+"|") {
			return r
		}
	}
	return ""
}

// requireLedgerOnly checks that every ledger entry names a subject or
// record of tenant, and none of other.
func requireLedgerOnly(t *testing.T, e *tenantEnv, tenant, other string) {
	t.Helper()
	mine, theirs := map[string]bool{}, map[string]bool{}
	for i := 0; i < nShared; i++ {
		id := sharedID(i)
		mine[e.m.Hash(retention.Subject(tenant, id))] = true
		mine[e.m.Hash(retention.RecordTarget(tenant, "Client", id))] = true
		theirs[e.m.Hash(retention.Subject(other, id))] = true
		theirs[e.m.Hash(retention.RecordTarget(other, "Client", id))] = true
	}
	n := 0
	require.NoError(t, e.Ledger.Scan(context.Background(), func(x retention.Entry) error {
		n++
		require.False(t, theirs[x.Subject] || theirs[x.Record], "a ledger entry names tenant %s", other)
		require.True(t, mine[x.Subject], "a ledger entry for someone else")
		if x.Record != "" {
			require.True(t, mine[x.Record])
		}
		return nil
	}))
	require.Positive(t, n)
}

func TestSweepOfOneTenantLeavesOtherTenantRows(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newTenantEnv(t, kind, true, false)
			southBefore := e.DumpTenant(t, 0, "south")
			northBefore := e.DumpTenant(t, 0, "north")
			require.Len(t, southBefore, nShared)

			st, err := e.m.Sweep(ctx, &retention.SweepOptions{BatchSize: 37})
			require.NoError(t, err)
			require.EqualValues(t, nShared/10, st.Deleted)
			require.EqualValues(t, nShared, st.KeysShredded)
			require.Equal(t, southBefore, e.DumpTenant(t, 0, "south"), "south's rows are byte-identical")
			northAfter := e.DumpTenant(t, 0, "north")
			require.Len(t, northAfter, nShared-nShared/10)
			for _, r := range northAfter {
				require.NotContains(t, northBefore, r, "every north row was swept")
			}
			for _, c := range e.rec.Calls() {
				require.Contains(t, c, ":north/", "keys and tokens of north only")
			}
			require.Len(t, e.rec.Calls(), 2*nShared)
			requireLedgerOnly(t, e, "north", "south")
		})
	}
}

func TestForgetIsTenantScoped(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newTenantEnv(t, kind, false, false)
			before := e.Dump(t, 0)
			rep, err := e.m.Forget(ctx, "south", "c-050")
			require.NoError(t, err)
			require.True(t, rep.KeyShredded)
			require.Equal(t, 1, rep.Applied, "Ref's policy deletes the record")
			require.Equal(t, []string{"forget:south/c-050", "tokens:south/c-050"}, e.rec.Calls())
			after := e.Dump(t, 0)
			var rest []string
			for _, r := range before {
				if !strings.HasPrefix(r, "south|c-050|") {
					rest = append(rest, r)
				}
			}
			require.Len(t, rest, len(before)-1)
			require.Equal(t, rest, after, "only south's c-050 changes (it is deleted)")
			requireLedgerOnly(t, e, "south", "north")
			// Asking for a tenant the subject is not in changes nothing.
			rep, err = e.m.Forget(ctx, "west", "c-051")
			require.NoError(t, err)
			require.Zero(t, rep.Applied)
			require.Equal(t, after, e.Dump(t, 0))
		})
	}
}

func TestHoldIsTenantScoped(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newTenantEnv(t, kind, true, true)
			_, err := e.m.Hold(ctx, retention.Subject("south", "c-007"), "case 17", time.Time{})
			require.NoError(t, err)
			_, err = e.m.Hold(ctx, retention.RecordTarget("south", "Client", "c-008"), "audit", time.Time{})
			require.NoError(t, err)
			before := e.Dump(t, 0)
			st, err := e.m.Sweep(ctx, &retention.SweepOptions{BatchSize: 50})
			require.NoError(t, err)
			require.EqualValues(t, 6, st.Held, "three due actions on each held row")
			after := e.Dump(t, 0)
			for _, id := range []string{"c-007", "c-008"} {
				require.Equal(t, rowOf(before, "south", id), rowOf(after, "south", id), "south's %s is held", id)
				require.NotEqual(t, rowOf(before, "north", id), rowOf(after, "north", id), "north's %s is not", id)
			}
			require.NotContains(t, e.rec.Calls(), "forget:south/c-007")
			require.Contains(t, e.rec.Calls(), "forget:north/c-007")

			// A hold in one tenant does not keep the other's erasure pending.
			_, err = e.m.Hold(ctx, retention.Subject("north", "c-009"), "case 18", time.Time{})
			require.NoError(t, err)
			rep, err := e.m.Forget(ctx, "south", "c-009")
			require.NoError(t, err)
			require.True(t, rep.KeyShredded)
			require.False(t, rep.ShredPending)
			rep, err = e.m.Forget(ctx, "south", "c-007")
			require.NoError(t, err)
			require.False(t, rep.KeyShredded, "south's c-007 is held")
			require.True(t, rep.ShredPending)

			// Releasing north's hold leaves south's in force.
			_, err = e.m.Release(ctx, retention.Subject("north", "c-007"))
			require.NoError(t, err)
			require.Equal(t, rowOf(before, "south", "c-007"), rowOf(e.Dump(t, 0), "south", "c-007"))
		})
	}
}

func TestReplayIsTenantScoped(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newTenantEnv(t, kind, true, false)
			backup := e.Backup(t, 0)
			_, err := e.m.Sweep(ctx, nil)
			require.NoError(t, err)
			_, err = e.m.Forget(ctx, "south", "c-050")
			require.NoError(t, err)
			want := e.Dump(t, 0)

			// North is restored from the backup taken before the sweep.
			e.Restore(t, backup, "north")
			require.NotEqual(t, want, e.Dump(t, 0))
			southBefore := e.DumpTenant(t, 0, "south")
			calls := len(e.rec.Calls())

			st, err := e.m.Replay(ctx, e.Ledger)
			require.NoError(t, err)
			require.Positive(t, st.Applied)
			require.Equal(t, want, e.Dump(t, 0), "replay brings north back to the erased state")
			require.Equal(t, southBefore, e.DumpTenant(t, 0, "south"), "and leaves south byte-identical")
			var north int
			for _, c := range e.rec.Calls()[calls:] {
				require.Contains(t, c, ":north/", "south was not restored: none of its keys is shredded again")
				north++
			}
			require.Equal(t, 2*nShared, north, "the restored north subjects' keys are shredded again")
		})
	}
}

func TestLedgerHashCoversTenant(t *testing.T) {
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: ledgerKey})
	require.NoError(t, err)
	distinct := []string{
		m.Hash(retention.Subject("north", "c-001")), m.Hash(retention.Subject("south", "c-001")), m.Hash(retention.Subject("", "c-001")),
		// Length prefixes: moving bytes between the parts changes the hash.
		m.Hash(retention.Subject("a", "bc")), m.Hash(retention.Subject("ab", "c")), m.Hash(retention.Subject("", "abc")), m.Hash(retention.Subject("abc", "")),
		m.Hash(retention.Subject("a\x00", "b")), m.Hash(retention.Subject("a", "\x00b")),
		m.Hash(retention.RecordTarget("north", "Client", "c-001")), m.Hash(retention.RecordTarget("south", "Client", "c-001")),
		m.Hash(retention.RecordTarget("a", "bC", "x")), m.Hash(retention.RecordTarget("ab", "C", "x")), m.Hash(retention.RecordTarget("a", "b", "Cx")),
		// A record hash never equals a subject hash of the same text.
		m.Hash(retention.RecordTarget("", "north", "c-001")),
	}
	seen := map[string]bool{}
	for i, h := range distinct {
		require.Len(t, h, 32)
		require.False(t, seen[h], "hash %d collides", i)
		seen[h] = true
	}
	require.Equal(t, m.Hash(retention.Subject("north", "c-001")), distinct[0], "deterministic")
	other, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: []byte("another ledger key, 32 bytes...")})
	require.NoError(t, err)
	require.NotEqual(t, distinct[0], other.Hash(retention.Subject("north", "c-001")), "keyed")
}

// TestClaimWritesOnlyClaimedRows: a commit refuses a change to a row its
// claim did not select, such as another tenant's row with the same id.
func TestClaimWritesOnlyClaimedRows(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newTenantEnv(t, kind, false, false)
			before := e.Dump(t, 0)
			cl, err := e.Stores[0].Claim(ctx, retention.Query{Tenant: "north", Record: "c-001", Limit: 10})
			require.NoError(t, err)
			require.Len(t, cl.Records(), 1)
			rec := cl.Records()[0]
			require.Equal(t, "north", rec.Tenant)
			err = cl.Commit(ctx, []retention.Change{{Tenant: "south", Key: "c-001", Pos: rec.Pos, Delete: true, Value: rec.Value}}, nil)
			require.ErrorContains(t, err, "did not select")
			require.Equal(t, before, e.Dump(t, 0))
		})
	}
}

// Visit has no pii:"tenant" field: its records belong to the tenant "".
type Visit struct {
	ID        int64     `db:"id" pii:"id"`
	Subject   string    `db:"subject" pii:"subject"`
	IP        string    `db:"ip" pii:"ip,retain=30d,then=null"`
	CreatedAt time.Time `db:"created_at"`
}

var visitTable = storetest.Table{Prototype: &Visit{}, Name: "visit", Key: []string{"id"}, DDL: func(pg bool) string {
	ts := "TIMESTAMP"
	if pg {
		ts = "TIMESTAMPTZ"
	}
	return `CREATE TABLE visit (id BIGINT PRIMARY KEY, subject TEXT NOT NULL, ip TEXT, created_at ` + ts + ` NOT NULL)`
}}

// TestTenantlessTypeBelongsToEmptyTenant: a type without a tenant field is
// the tenant "": asked for in another tenant, its subject has no records.
func TestTenantlessTypeBelongsToEmptyTenant(t *testing.T) {
	for _, kind := range storetest.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := storetest.Open(t, kind, visitTable)
			m, err := retention.New(&retention.Options{Clock: piitest.NewClock(tenantNow), LedgerKey: ledgerKey, Ledger: e.Ledger, Holds: e.Holds})
			require.NoError(t, err)
			require.NoError(t, m.Register(e.Stores...))
			e.Put(t, 0, &Visit{ID: 1, Subject: "s-1", IP: "198.51.100.7", CreatedAt: tenantNow}, tenantNow)
			e.Put(t, 0, &Visit{ID: 2, Subject: "s-2", IP: "198.51.100.8", CreatedAt: tenantNow}, tenantNow)
			before := e.Dump(t, 0)
			rep, err := m.Forget(ctx, "acme", "s-1")
			require.NoError(t, err)
			require.Zero(t, rep.Applied)
			require.Nil(t, e.Get(t, 0, "acme", "1"))
			require.Equal(t, before, e.Dump(t, 0))
			rep, err = m.Forget(ctx, "", "s-1")
			require.NoError(t, err)
			require.Equal(t, 1, rep.Applied)
			require.Empty(t, e.Get(t, 0, "", "1").(*Visit).IP)
			require.Equal(t, "198.51.100.8", e.Get(t, 0, "", "2").(*Visit).IP)
		})
	}
}
