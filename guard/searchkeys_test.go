package guard

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/searchkeys"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention/sqlstore"
)

func TestRotateSearchKeys(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		clk := piitest.NewClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
		g, err := New(testKP(t), db, &Options{Clock: clk})
		require.NoError(t, err)
		members, err := NewTable[tmember](g, &TableOptions{Table: "l14_rsk_members"})
		require.NoError(t, err)
		require.NoError(t, g.CreateTables(ctx))
		for _, tenant := range []string{"acme", "beta"} {
			require.NoError(t, members.InsertMany(ctx, []tmember{
				{Tenant: tenant, ID: "m1", Email: "Alice@Example.com", Login: "Alice@Example.com", Surname: "Smith"},
				{Tenant: tenant, ID: "m2", Email: "bob@example.com", Login: "bob@example.com", Surname: "Jones"},
			}))
		}
		findAll := func() {
			t.Helper()
			for _, tenant := range []string{"acme", "beta"} {
				for field, value := range map[string]string{"Email": "ALICE@example.com", "Login": "alice@EXAMPLE.com", "Surname": "smi"} {
					found, err := members.FindBy(ctx, tenant, field, value)
					require.NoError(t, err)
					require.Len(t, found, 1, "%s %s", tenant, field)
					require.Equal(t, "m1", found[0].ID)
				}
			}
		}
		jobs := &MigrateOptions{JobTable: "l14_rsk_jobs", BatchSize: 1}
		var steps []string
		var reindexed int
		jobs.Progress = func(r MigrateReport) error { reindexed++; return nil }
		for range 10 {
			rot, err := g.RotateSearchKeys(ctx, &SearchRotateOptions{Migrate: jobs})
			require.NoError(t, err)
			require.Equal(t, 2, rot.Tenants)
			steps = append(steps, rot.Step)
			findAll()
			if rot.Step == "done" {
				break
			}
			// Called again too soon, it waits.
			again, err := g.RotateSearchKeys(ctx, &SearchRotateOptions{Migrate: jobs})
			require.NoError(t, err)
			require.Equal(t, rot, again)
			clk.Set(rot.Ready)
			// A row written between the steps is found too.
			r := tmember{Tenant: "acme", ID: "n" + rot.Step, Email: rot.Step + "@example.com", Login: rot.Step, Surname: "x"}
			require.NoError(t, members.Insert(ctx, &r))
		}
		require.Equal(t, []string{"added", "promoted", "done"}, steps)
		require.Positive(t, reindexed)
		for _, tenant := range []string{"acme", "beta"} {
			st, err := searchkeys.Of(g.seal).State(ctx, tenant)
			require.NoError(t, err)
			require.Equal(t, []uint32{2}, st.Lookup)
		}
		for _, step := range []string{"added", "promoted"} {
			found, err := members.FindBy(ctx, "acme", "Email", step+"@EXAMPLE.com")
			require.NoError(t, err)
			require.Len(t, found, 1)
		}
		// The next call starts the next rotation.
		rot, err := g.RotateSearchKeys(ctx, &SearchRotateOptions{Migrate: jobs})
		require.NoError(t, err)
		require.Equal(t, "added", rot.Step)
		findAll()
	})
}

// A store the Guard cannot re-index itself needs SearchRotateOptions.Reindex.
func TestRotateSearchKeysForeignStore(t *testing.T) {
	db := testdb.SQLite(t)
	ctx := context.Background()
	clk := piitest.NewClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	g, err := New(testKP(t), db, &Options{Clock: clk})
	require.NoError(t, err)
	members, err := NewTable[tmember](g, &TableOptions{Table: "l14_rsk_own"})
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(ctx))
	foreign, err := sqlstore.New(db, tmember{}, &sqlstore.Options{Mapping: &sqlstore.Mapping{Table: "l14_rsk_own"}})
	require.NoError(t, err)
	require.NoError(t, g.Register(foreign))
	require.NoError(t, members.Insert(ctx, &tmember{Tenant: "acme", ID: "m1", Email: "a@example.com", Login: "a", Surname: "A"}))
	opts := &SearchRotateOptions{Migrate: &MigrateOptions{JobTable: "l14_rsk_jobs2"}}
	var err2 error
	for range 3 {
		var rot SearchRotation
		rot, err2 = g.RotateSearchKeys(ctx, opts)
		if err2 != nil {
			break
		}
		clk.Set(rot.Ready)
	}
	require.ErrorContains(t, err2, "SearchRotateOptions.Reindex")
	called := false
	opts.Reindex = func(context.Context) error { called = true; return nil }
	rot, err := g.RotateSearchKeys(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, "done", rot.Step)
	require.True(t, called)
	_, err = g.RotateSearchKeys(ctx, &SearchRotateOptions{Migrate: &MigrateOptions{DryRun: true}})
	require.ErrorContains(t, err, "do not apply")
}
