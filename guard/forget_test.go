package guard

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
)

// gticket is a second registered type about the same subjects, with a
// stored token and a field kept by min=.
type gticket struct {
	ID        string    `pii:"id"`
	Customer  string    `pii:"subject"`
	Tenant    string    `pii:"tenant"`
	Body      string    `pii:"free_text,encrypt,mask=fixed"`
	Ref       string    `pii:"user.ref,token=stored"`
	Invoice   string    `pii:"financial,encrypt,retain=10y,min=6y,then=null"`
	CreatedAt time.Time `pii:"-"`
}

// stores registers a customers store and a tickets store with the Guard:
// memory stores, or SQL tables through retention/sqlstore.
type stores struct {
	put  func(t *testing.T, v any)
	get  func(t *testing.T, kind, tenant, id string) any // nil when gone
	dump func(t *testing.T) string                       // every row of both tables, for byte-for-byte comparison
}

func registerStores(t *testing.T, f *gfix) *stores {
	ctx := context.Background()
	if f.db == nil {
		cs, err := retention.NewMemoryStore(&gcust{}, f.g.ledger)
		require.NoError(t, err)
		ts, err := retention.NewMemoryStore(&gticket{}, f.g.ledger)
		require.NoError(t, err)
		require.NoError(t, f.g.Register(cs, ts))
		return &stores{
			put: func(t *testing.T, v any) {
				require.NoError(t, map[bool]*retention.MemoryStore{true: cs, false: ts}[isCust(v)].Put(v, t0))
			},
			get: func(t *testing.T, kind, tenant, id string) any {
				if kind == "c" {
					return cs.Get(tenant, id)
				}
				return ts.Get(tenant, id)
			},
			dump: func(t *testing.T) string {
				var s string
				for _, tn := range []string{"acme", "globex"} {
					for _, id := range []string{"c1", "c2", "t1", "t2"} {
						s += fmt.Sprintf("%+v %+v\n", cs.Get(tn, id), ts.Get(tn, id))
					}
				}
				return s
			},
		}
	}
	ts := "TEXT"
	if f.g.dialect == sqldialect.Postgres {
		ts = "TIMESTAMPTZ"
	}
	for _, ddl := range []string{
		`CREATE TABLE gcust (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT, email TEXT, email_idx TEXT, dob TEXT, phone TEXT, card TEXT, handle TEXT, alt TEXT, seen ` + ts + `, PRIMARY KEY (tenant, id))`,
		`CREATE TABLE gticket (tenant TEXT NOT NULL, id TEXT NOT NULL, customer TEXT, body TEXT, ref TEXT, invoice TEXT, created_at ` + ts + `, PRIMARY KEY (tenant, id))`,
	} {
		if f.g.dialect == sqldialect.SQLite {
			ddl = replaceTS(ddl)
		}
		_, err := f.db.ExecContext(ctx, ddl)
		require.NoError(t, err)
	}
	so := f.g.storeOptions()
	cs, err := sqlstore.New(f.db, &gcust{}, so)
	require.NoError(t, err)
	tso := *so
	tk, err := sqlstore.New(f.db, &gticket{}, &tso)
	require.NoError(t, err)
	require.NoError(t, f.g.Register(cs, tk))
	q := f.g.dialect.Rebind
	return &stores{
		put: func(t *testing.T, v any) {
			var err error
			switch r := v.(type) {
			case *gcust:
				_, err = f.db.ExecContext(ctx, q(`INSERT INTO gcust VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
					r.Tenant, r.ID, r.Name, r.Email, r.EmailIdx, r.DOB, r.Phone, r.Card, r.Handle, r.Alt, r.Seen)
			case *gticket:
				_, err = f.db.ExecContext(ctx, q(`INSERT INTO gticket VALUES (?, ?, ?, ?, ?, ?, ?)`),
					r.Tenant, r.ID, r.Customer, r.Body, r.Ref, r.Invoice, r.CreatedAt)
			}
			require.NoError(t, err)
		},
		get: func(t *testing.T, kind, tenant, id string) any {
			if kind == "c" {
				var c gcust
				var name, email, idx, dob, phone, card, handle, alt sql.NullString
				err := f.db.QueryRowContext(ctx, q(`SELECT tenant, id, name, email, email_idx, dob, phone, card, handle, alt FROM gcust WHERE tenant = ? AND id = ?`), tenant, id).
					Scan(&c.Tenant, &c.ID, &name, &email, &idx, &dob, &phone, &card, &handle, &alt)
				if err == sql.ErrNoRows {
					return nil
				}
				require.NoError(t, err)
				c.Name, c.Email, c.EmailIdx, c.DOB, c.Phone, c.Card, c.Handle, c.Alt = name.String, email.String, idx.String, dob.String, phone.String, card.String, handle.String, alt.String
				return &c
			}
			var k gticket
			var body, ref, inv sql.NullString
			err := f.db.QueryRowContext(ctx, q(`SELECT tenant, id, customer, body, ref, invoice FROM gticket WHERE tenant = ? AND id = ?`), tenant, id).
				Scan(&k.Tenant, &k.ID, &k.Customer, &body, &ref, &inv)
			if err == sql.ErrNoRows {
				return nil
			}
			require.NoError(t, err)
			k.Body, k.Ref, k.Invoice = body.String, ref.String, inv.String
			return &k
		},
		dump: func(t *testing.T) string {
			var s string
			for _, tbl := range []string{"gcust", "gticket"} {
				rows, err := f.db.QueryContext(ctx, `SELECT * FROM `+tbl+` ORDER BY tenant, id`)
				require.NoError(t, err)
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					require.NoError(t, rows.Scan(ptrs...))
					s += fmt.Sprintf("%s %v\n", tbl, vals)
				}
				rows.Close()
			}
			return s
		},
	}
}

func replaceTS(ddl string) string {
	return ddl // SQLite: TEXT columns hold the driver's time format
}

func isCust(v any) bool { _, ok := v.(*gcust); return ok }

// Forget erases one tenant's subject through every registered type: rows,
// blind indexes, keys and stored tokens; another tenant's subject with the
// same id, and another subject of the same tenant, are untouched.
func TestForgetEveryTypeOneTenant(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		st := registerStores(t, f)
		protected := map[string]gcust{}
		tickets := map[string]gticket{}
		for _, tenant := range []string{"acme", "globex"} {
			for _, id := range []string{"c1", "c2"} {
				c := newCust(tenant, id)
				require.NoError(t, f.g.Protect(ctx, &c))
				st.put(t, &c)
				protected[tenant+"/"+id] = c
				k := gticket{ID: "t" + id[1:], Customer: id, Tenant: tenant, Body: "my card was charged twice", Ref: "REF" + id + "ABCD", CreatedAt: t0}
				require.NoError(t, f.g.Protect(ctx, &k))
				st.put(t, &k)
				tickets[tenant+"/"+id] = k
			}
		}
		// The invoice is kept by min=: put it only on globex's c2.
		before := st.dump(t)

		rep, err := f.g.Forget(ctx, "acme", "c1")
		require.NoError(t, err)
		require.True(t, rep.KeyShredded)
		byType := map[string]int{}
		for _, e := range rep.Entries {
			byType[e.Type]++
			require.Equal(t, retention.OutcomeApplied, e.Outcome, "%+v", e)
		}
		require.Greater(t, byType["gcust"], 0, "customers visited")
		require.Greater(t, byType["gticket"], 0, "tickets visited")
		require.Equal(t, 1, byType[""], "one entry for the keys")

		gone := st.get(t, "c", "acme", "c1").(*gcust)
		gone.Seen = time.Time{}
		require.Equal(t, gcust{ID: "c1", Tenant: "acme"}, *gone, "every personal field and the blind index erased")
		tk := st.get(t, "t", "acme", "t1").(*gticket)
		require.Empty(t, tk.Body)
		require.Empty(t, tk.Ref)

		// The keys are shredded: a copy of the row (a backup) no longer opens.
		backup := protected["acme/c1"]
		sealed := backup.Name
		require.ErrorIs(t, f.g.seal.Open(ctx, &backup), envelope.ErrShredded)
		backup = protected["acme/c1"]
		require.NoError(t, f.g.Open(ctx, &backup, permitAll), "Open keeps what it cannot open")
		require.Equal(t, keep(sealed), backup.Name)
		bt := tickets["acme/c1"]
		require.Error(t, f.g.Open(ctx, &bt, permitAll), "stored token deleted with the keys")

		// Every other row is as it was, byte for byte, and opens.
		after := st.dump(t)
		require.NotEqual(t, before, after)
		for _, key := range []string{"globex/c1", "acme/c2", "globex/c2"} {
			c := protected[key]
			got := st.get(t, "c", c.Tenant, c.ID).(*gcust)
			require.Equal(t, c.Name, got.Name, key)
			require.Equal(t, c.EmailIdx, got.EmailIdx, key)
			require.Equal(t, c.Phone, got.Phone, key)
			require.NoError(t, f.g.Open(ctx, &c, permitAll), key)
			require.Equal(t, "Ada Lovelace", c.Name)
			k := tickets[key]
			require.NoError(t, f.g.Open(ctx, &k, permitAll), key)
			require.Equal(t, "REF"+k.Customer+"ABCD", k.Ref)
		}
		// Idempotent.
		_, err = f.g.Forget(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, after, st.dump(t))
	})
}

// A legal hold and min= keep what they cover; the keys wait (pending),
// and the sweep after they lapse completes the erasure.
func TestForgetHonoursHoldsAndMin(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		st := registerStores(t, f)
		c := newCust("acme", "c1")
		require.NoError(t, f.g.Protect(ctx, &c))
		st.put(t, &c)
		k := gticket{ID: "t1", Customer: "c1", Tenant: "acme", Body: "hello", Invoice: "INV-1 EUR 20", CreatedAt: t0}
		require.NoError(t, f.g.Protect(ctx, &k))
		st.put(t, &k)
		other := newCust("globex", "c1")
		require.NoError(t, f.g.Protect(ctx, &other))
		st.put(t, &other)

		m, err := f.g.Retention(ctx)
		require.NoError(t, err)
		_, err = m.Hold(ctx, retention.RecordTarget("acme", "gcust", "c1"), "litigation 2026-17", time.Time{})
		require.NoError(t, err)

		rep, err := f.g.Forget(ctx, "acme", "c1")
		require.NoError(t, err)
		require.False(t, rep.KeyShredded)
		require.True(t, rep.ShredPending)
		outcomes := map[string]retention.Outcome{}
		for _, e := range rep.Entries {
			outcomes[e.Type+"."+e.Field] = e.Outcome
		}
		require.Equal(t, retention.OutcomeHeld, outcomes["gcust.Name"])
		require.Equal(t, retention.OutcomeDeferred, outcomes["gticket.Invoice"])
		require.Equal(t, retention.OutcomeApplied, outcomes["gticket.Body"])
		require.Equal(t, retention.OutcomePending, outcomes["."])
		held := c
		require.NoError(t, f.g.Open(ctx, &held, permitAll), "the held record still opens")

		// The hold is released and min= (6y from creation) ends: the
		// sweep completes the erasure and shreds the keys.
		_, err = m.Release(ctx, retention.RecordTarget("acme", "gcust", "c1"))
		require.NoError(t, err)
		f.clock.Set(t0.AddDate(6, 0, 1))
		ps, err := f.g.Sweep(ctx, nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, ps[len(ps)-1].KeysShredded, "the pending shred completed")
		again := c
		require.ErrorIs(t, f.g.seal.Open(ctx, &again), envelope.ErrShredded)
		o := other
		require.NoError(t, f.g.Open(ctx, &o, permitAll), "globex's c1 untouched")
	})
}
