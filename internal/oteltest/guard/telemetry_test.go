// Package guard_test holds guard's OpenTelemetry tests, which need the SDK
// and so live in this nested module. They use guard's public API only.
package guard_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/internal/oteltest"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/piitest"
)

// gcust and gticket are the structs of guard's core tests
// (guard/core_test.go, guard/forget_test.go).
type gcust struct {
	ID       string    `pii:"subject"`
	Tenant   string    `pii:"tenant"`
	Name     string    `pii:"name,encrypt,mask=initials"`
	Email    string    `pii:"email,encrypt,index=EmailIdx,mask=email,reveal=supervisor"`
	EmailIdx string    `pii:"-"`
	DOB      string    `pii:"dob,encrypt,retain=1y,from=Seen,then=null"`
	Phone    string    `pii:"phone,token=ff1,mask=phone,reveal=supervisor"`
	Card     string    `pii:"card,token=ff1,mask=card"`
	Handle   string    `pii:"username,token=hmac"`
	Alt      string    `pii:"email,token=ff1,mask=email"`
	Seen     time.Time `pii:"-"`
}

type gticket struct {
	ID        string    `pii:"id"`
	Customer  string    `pii:"subject"`
	Tenant    string    `pii:"tenant"`
	Body      string    `pii:"free_text,encrypt,mask=fixed"`
	Ref       string    `pii:"user.ref,token=stored"`
	Invoice   string    `pii:"financial,encrypt,retain=10y,min=6y,then=null"`
	CreatedAt time.Time `pii:"-"`
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// eachGuard runs fn on a Guard in memory, on SQLite and on PostgreSQL,
// with a local keyset provider whose master key is generated for the test
// and never leaves it. On a database, put stores a record in its table
// (NewTable); in memory, where a Guard has no tables, it only protects it.
func eachGuard(t *testing.T, fn func(t *testing.T, g *guard.Guard, put func(t *testing.T, v any))) {
	mk := func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		master, err := local.GenerateMasterKey()
		require.NoError(t, err)
		kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
		require.NoError(t, err)
		opts := &guard.Options{Clock: piitest.NewClock(t0)}
		var g *guard.Guard
		put := func(t *testing.T, v any) {
			switch r := v.(type) {
			case *gcust:
				require.NoError(t, g.Protect(ctx, r))
			case *gticket:
				require.NoError(t, g.Protect(ctx, r))
			}
		}
		if db == nil {
			g, err = guard.NewMemory(kp, opts)
			require.NoError(t, err)
		} else {
			g, err = guard.New(kp, db, opts)
			require.NoError(t, err)
			custs, err := guard.NewTable[gcust](g, &guard.TableOptions{Table: "gcust"})
			require.NoError(t, err)
			tickets, err := guard.NewTable[gticket](g, &guard.TableOptions{Table: "gticket"})
			require.NoError(t, err)
			put = func(t *testing.T, v any) {
				switch r := v.(type) {
				case *gcust:
					require.NoError(t, custs.Insert(ctx, r))
				case *gticket:
					require.NoError(t, tickets.Insert(ctx, r))
				}
			}
		}
		require.NoError(t, g.CreateTables(ctx))
		fn(t, g, put)
	}
	t.Run("memory", func(t *testing.T) { mk(t, nil) })
	t.Run("sqlite", func(t *testing.T) { mk(t, testdb.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, _ := testdb.Postgres(t)
		mk(t, db)
	})
}

// seedRotation protects and stores customers and tickets of two tenants.
func seedRotation(t *testing.T, put func(t *testing.T, v any)) {
	for _, tenant := range []string{"acme", "globex"} {
		for _, id := range []string{"c1", "c2", "c3"} {
			put(t, &gcust{ID: id, Tenant: tenant, Name: "Ada Lovelace", Email: id + "@example.com", DOB: "1815-12-10",
				Phone: "+44 20 7946 0958", Card: "4111 1111 1111 1111", Handle: "ada_" + id, Alt: "ada.alt@example.org", Seen: t0})
			put(t, &gticket{ID: "t" + id[1:], Customer: id, Tenant: tenant, Body: "hello " + id, Ref: "REF" + id + "XYZ", CreatedAt: t0})
		}
	}
}

// TestRotateSpan: Rotate runs in a pii.guard.rotate span (on the global
// TracerProvider), under which the Sealer's rotation spans report.
func TestRotateSpan(t *testing.T) {
	rec := oteltest.New(t)
	otel.SetTracerProvider(rec.TracerProvider)
	t.Cleanup(func() { otel.SetTracerProvider(tracenoop.NewTracerProvider()) })
	eachGuard(t, func(t *testing.T, g *guard.Guard, put func(t *testing.T, v any)) {
		seedRotation(t, put)
		require.NoError(t, g.Rotate(context.Background(), nil))
	})
	spans := rec.Spans("pii.guard.rotate")
	require.NotEmpty(t, spans)
	for _, s := range spans {
		require.Empty(t, s.Status().Description)
	}
}
