package piitest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
)

// Example drives a retention sweep with a fake clock: the sweep runs
// once on the day the record is made and once a month later, past the
// 30-day retention of its IP address, without the test waiting a month.
func Example() {
	type Session struct {
		ID        string    `pii:"subject"`
		IP        string    `pii:"ip,retain=30d,then=null"`
		CreatedAt time.Time `pii:"-"`
	}
	ctx := context.Background()
	clock := piitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ledger := retention.NewMemoryLedger()
	m, err := retention.New(&retention.Options{
		// Every Options that takes a pii.Clock takes this one.
		Clock: clock,
		// A test key: never hard-code a real one.
		LedgerKey: []byte("example ledger key, 32 bytes...."),
		Holds:     retention.NewMemoryHolds(),
		Ledger:    ledger,
	})
	if err != nil {
		log.Fatal(err)
	}
	store, err := retention.NewMemoryStore(&Session{}, ledger)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Register(store); err != nil {
		log.Fatal(err)
	}
	if err := store.Put(&Session{ID: "s-1", IP: "203.0.113.77", CreatedAt: clock.Now()}, clock.Now()); err != nil {
		log.Fatal(err)
	}

	sweep := func() {
		p, err := m.Sweep(ctx, nil)
		if err != nil {
			log.Fatal(err)
		}
		s := store.Get("", "s-1").(*Session)
		fmt.Printf("%s: applied %d, IP %q\n", clock.Now().Format(time.DateOnly), p.Applied, s.IP)
	}
	sweep()
	clock.AddDate(0, 0, 31)
	sweep()
	// Output:
	// 2026-01-01: applied 0, IP "203.0.113.77"
	// 2026-02-01: applied 1, IP ""
}
