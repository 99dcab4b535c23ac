// Package retention_test holds retention's OpenTelemetry tests, which need
// the SDK and so live in this nested module.
package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/fieldguard/pii/internal/oteltest"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
	"github.com/stretchr/testify/require"
)

// Customer is retention's example struct (retention/example_test.go): the
// metrics name its type.
type Customer struct {
	ID        string    `pii:"subject"`
	Email     string    `pii:"email,retain=2y,from=LastSeen,then=null"`
	Phone     string    `pii:"phone,retain=2y,from=LastSeen,then=generalize:last4"`
	BirthDate time.Time `pii:"dob,retain=1y,then=generalize:year"`
	IP        string    `pii:"ip,retain=30d,then=generalize:ipv4/24"`
	LastSeen  time.Time `pii:"-"`
	CreatedAt time.Time `pii:"-"`
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// A test key: never hard-code keys in production.
var ledgerKey = []byte("example ledger key, 32 bytes....")

// TestSweepTelemetry: every action a sweep applies (or would, in a dry
// run) is counted by action, outcome and type; sweeps, releases and
// erasure requests have spans; no value, subject or record id appears.
func TestSweepTelemetry(t *testing.T) {
	rec := oteltest.New(t)
	clock := piitest.NewClock(day(2026, 1, 1))
	ledger := retention.NewMemoryLedger()
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: clock, LedgerKey: ledgerKey, Ledger: ledger,
		MeterProvider: rec.MeterProvider, TracerProvider: rec.TracerProvider})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Customer{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store))
	c := &Customer{ID: "subject-c-1", Email: "ada@example.com", Phone: "+44 20 7946 0018", BirthDate: day(1990, 5, 17),
		IP: "203.0.113.77", LastSeen: day(2024, 3, 1), CreatedAt: day(2023, 6, 1)}
	store.Put(c, c.CreatedAt)
	ctx := context.Background()

	_, err = m.Sweep(ctx, &retention.SweepOptions{DryRun: true})
	require.NoError(t, err)
	var seen []retention.Entry
	st, err := m.Sweep(ctx, &retention.SweepOptions{OnAction: func(e retention.Entry) { seen = append(seen, e) }})
	require.NoError(t, err)
	require.Len(t, seen, 2, "the caller's OnAction still gets every entry")
	_, err = m.Forget(ctx, "", "subject-c-1")
	require.NoError(t, err)

	for _, tt := range []struct {
		attrs map[string]string
		want  float64
	}{
		{map[string]string{"pii.retention.action": "generalize:year", "pii.outcome": "applied", "pii.type": "Customer"}, 1},
		{map[string]string{"pii.retention.action": "generalize:ipv4/24", "pii.outcome": "applied"}, 1},
		{map[string]string{"pii.retention.action": "generalize:year", "pii.outcome": "dry-run"}, 1},
	} {
		require.Equal(t, tt.want, rec.Sum(t, "pii.retention.actions", tt.attrs), "%v", tt.attrs)
	}
	sweeps := rec.Spans("pii.retention.sweep")
	require.Len(t, sweeps, 2)
	a := oteltest.SpanAttrs(sweeps[1])
	require.Equal(t, "false", a["pii.retention.dry_run"])
	require.Equal(t, "1", a["pii.retention.scanned"])
	require.Equal(t, "2", a["pii.retention.applied"], "%v (run %+v)", a, st)
	require.Len(t, rec.Spans("pii.retention.forget"), 1)
	rec.RequireClean(t, "subject-c-1", "ada@example.com", "7946", "203.0.113", "1990")
}
