package retention_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
)

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

// Test keys: never hard-code keys in production.
var (
	ledgerKey    = []byte("example ledger key, 32 bytes....")
	pseudonymKey = []byte("example pseudonym key, 32 bytes.")
)

func Example() {
	clock := piitest.NewClock(day(2026, 1, 1))
	ledger := retention.NewMemoryLedger()
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: clock, LedgerKey: ledgerKey, Ledger: ledger})
	if err != nil {
		panic(err)
	}
	store, _ := retention.NewMemoryStore(&Customer{}, ledger)
	if err := m.Register(store); err != nil {
		panic(err)
	}
	c := &Customer{ID: "c-1", Email: "ada@example.com", Phone: "+44 20 7946 0018", BirthDate: day(1990, 5, 17),
		IP: "203.0.113.77", LastSeen: day(2024, 3, 1), CreatedAt: day(2023, 6, 1)}
	store.Put(c, c.CreatedAt)

	next, _, _ := m.Next(clock.Now(), c)
	fmt.Println("next event:", next.Format(time.DateOnly))
	items, _ := m.Due(clock.Now(), c)
	for _, it := range items {
		fmt.Println("due:", it.Path, it.Action, it.State)
	}

	st, err := m.Sweep(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("scanned", st.Scanned, "applied", st.Applied)
	got := store.Get("", "c-1").(*Customer)
	fmt.Printf("%q %q %s %q\n", got.Email, got.Phone, got.BirthDate.Format(time.DateOnly), got.IP)
	n := 0
	ledger.Scan(context.Background(), func(retention.Entry) error { n++; return nil })
	fmt.Println("ledger entries:", n)

	// Past the e-mail's retention, reads fail even before the next sweep.
	clock.Set(day(2026, 3, 2))
	s, _ := pii.SchemaOf(got)
	err = m.ReadCheck(context.Background(), s, s.Field("Email"), got)
	fmt.Println("email:", errors.Is(err, retention.ErrExpired))
	// Output:
	// next event: 2026-03-01
	// due: BirthDate generalize:year due
	// due: IP generalize:ipv4/24 due
	// scanned 1 applied 2
	// "ada@example.com" "+44 20 7946 0018" 1990-01-01 "203.0.113.0"
	// ledger entries: 2
	// email: true
}
