package storetest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
)

// myStore stands for a retention.Store of your own (here it delegates to
// the in-memory one). Its tests call
//
//	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) (retention.Store, storetest.PutFunc) { ... }})
//
// and a Manager sweeps it like any other store.
type myStore struct{ *retention.MemoryStore }

// A store that passes the suite is swept by retention.
func Example() {
	type Visitor struct {
		ID        string    `pii:"subject"`
		IP        string    `pii:"ip,retain=30d,then=generalize:ipv4/24"`
		CreatedAt time.Time `pii:"-"`
	}
	ms, err := retention.NewMemoryStore(&Visitor{}, nil)
	if err != nil {
		panic(err)
	}
	store := myStore{ms}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	store.Put(&Visitor{ID: "v-1", IP: "198.51.100.23", CreatedAt: now.AddDate(0, -2, 0)}, now.AddDate(0, -2, 0))

	// A test key: never hard-code keys in production.
	m, err := retention.New(&retention.Options{Clock: piitest.NewClock(now), LedgerKey: []byte("example ledger key, not for prod"),
		Holds: retention.NewMemoryHolds(), Ledger: retention.NewMemoryLedger()})
	if err != nil {
		panic(err)
	}
	if err := m.Register(store); err != nil {
		panic(err)
	}
	p, err := m.Sweep(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("applied", p.Applied, store.Get("", "v-1").(*Visitor).IP)
	// Output:
	// applied 1 198.51.100.0
}
