package guard

import (
	"context"
	"database/sql"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/testdb"
)

// bcustomer is the six-field customer of the table benchmarks: tenant, id,
// a sealed name, a sealed and indexed e-mail, a tokenized card and a plain
// plan.
type bcustomer struct {
	Tenant   string `pii:"tenant"`
	ID       string `pii:"subject"`
	Name     string `pii:"name,encrypt"`
	Email    string `pii:"email,encrypt,index=EmailIdx"`
	EmailIdx string `pii:"-"`
	Card     string `pii:"card,token=ff1"`
	Plan     string `pii:"-"`
}

const bcustomerDDL = `CREATE TABLE bench_customers (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT, email TEXT,
	email_idx TEXT, card TEXT, plan TEXT, PRIMARY KEY (tenant, id))`

func bcust(i int) bcustomer {
	id := "c" + strconv.Itoa(i)
	return bcustomer{Tenant: "acme", ID: id, Name: "Name " + id, Email: id + "@example.com", Card: "4111111111111111", Plan: "pro"}
}

// BenchmarkTableInsertGet inserts and gets one customer through Table on
// SQLite: protect, INSERT, SELECT, open (the card's token reversed).
func BenchmarkTableInsertGet(b *testing.B) {
	ctx := context.Background()
	db := testdb.SQLite(b)
	customers := newTestTable[bcustomer](b, db, &TableOptions{Table: "bench_customers"})
	customers = customers.WithPermit(allowAll)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := bcust(i)
		if err := customers.Insert(ctx, &c); err != nil {
			b.Fatal(err)
		}
		got, err := customers.Get(ctx, "acme", c.ID)
		if err != nil || got.Card != "4111111111111111" {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandInsertGet is BenchmarkTableInsertGet written by hand with
// Apply, Seal, Open, Reverse and database/sql.
func BenchmarkHandInsertGet(b *testing.B) {
	ctx := context.Background()
	db := testdb.SQLite(b)
	h := newHandParts(b, db)
	_, err := db.ExecContext(ctx, bcustomerDDL)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := bcust(i)
		if err := h.tok.Apply(ctx, &c); err != nil {
			b.Fatal(err)
		}
		if err := h.s.Seal(ctx, &c); err != nil {
			b.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO bench_customers (tenant, id, name, email, email_idx, card, plan) VALUES (?, ?, ?, ?, ?, ?, ?)",
			c.Tenant, c.ID, c.Name, c.Email, c.EmailIdx, c.Card, c.Plan); err != nil {
			b.Fatal(err)
		}
		var got bcustomer
		var name, email, idx, card, plan sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT tenant, id, name, email, email_idx, card, plan FROM bench_customers WHERE tenant = ? AND id = ?", "acme", c.ID).
			Scan(&got.Tenant, &got.ID, &name, &email, &idx, &card, &plan); err != nil {
			b.Fatal(err)
		}
		got.Name, got.Email, got.EmailIdx, got.Card, got.Plan = name.String, email.String, idx.String, card.String, plan.String
		if err := h.s.Open(ctx, &got); err != nil {
			b.Fatal(err)
		}
		if err := h.tok.Reverse(ctx, &got, allowAll); err != nil || got.Card != "4111111111111111" {
			b.Fatal(err)
		}
	}
}
