package guard

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/testdb"
)

// tcustomer has every kind of column a Table handles: a tenant and id
// (the row key), a subject, random and deterministic encryption, a blind
// index with its companion, a token, a nullable sealed pointer and plain
// nullable columns.
type tcustomer struct {
	Tenant     string  `pii:"tenant"`
	ID         string  `pii:"id"`
	Subject    string  `pii:"subject"`
	Name       string  `pii:"name,encrypt"`
	Email      string  `pii:"email,encrypt,index=EmailIndex"`
	EmailIndex string  `pii:"-"`
	TaxID      string  `pii:"national_id,encrypt=det"`
	Card       string  `pii:"card,token=ff1"`
	Nick       *string `pii:"username,encrypt"`
	Plan       string  `pii:"-"`
	Visits     int     `pii:"-"`
	Note       sql.NullString
	CreatedAt  time.Time `pii:"-"`
}

// tnotenant has no tenant field: its rows belong to the tenant "".
type tnotenant struct {
	ID    int64  `pii:"id" db:"note_id"`
	Owner string `pii:"subject"`
	Body  string `pii:"free_text,encrypt"`
}

func tcust(tenant, id string) tcustomer {
	return tcustomer{Tenant: tenant, ID: id, Subject: "sub-" + id, Name: "Name " + id,
		Email: id + "@example.com", TaxID: "TAX-" + id, Card: "4111111111111111", Plan: "pro",
		Note:      sql.NullString{String: "note " + id, Valid: true},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

var allowAll = permitAll

// dbs runs a test on SQLite and on PostgreSQL.
func dbs(t *testing.T, fn func(t *testing.T, db *sql.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, testdb.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, _ := testdb.Postgres(t)
		fn(t, db)
	})
}

func newTestTable[T any](t testing.TB, db *sql.DB, opts *TableOptions) *Table[T] {
	t.Helper()
	tb, err := NewTable[T](newTestGuard(t, db), opts)
	require.NoError(t, err)
	require.NoError(t, tb.createTable(context.Background()))
	return tb
}

func TestTableRoundTrip(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		nick := "bobby"
		c := tcust("acme", "c1")
		c.Nick = &nick
		require.NoError(t, customers.Insert(ctx, &c))
		// Insert leaves what it wrote in c: sealed, tokenized, indexed.
		require.NotEqual(t, "Name c1", c.Name)
		require.NotEqual(t, "bobby", *c.Nick)
		require.NotEmpty(t, c.EmailIndex)
		require.NotEqual(t, "4111111111111111", c.Card)

		// The database holds no clear value of a protected field.
		var name, email, tax, card, nk string
		var plan sql.NullString
		require.NoError(t, db.QueryRowContext(ctx, customers.rebind("SELECT name, email, tax_id, card, nick, plan FROM customers WHERE tenant = ? AND id = ?"), "acme", "c1").
			Scan(&name, &email, &tax, &card, &nk, &plan))
		for _, v := range []string{name, email, tax, card, nk} {
			require.NotContains(t, []string{"Name c1", "c1@example.com", "TAX-c1", "4111111111111111", "bobby"}, v)
		}
		require.Equal(t, "pro", plan.String)

		got, err := customers.Get(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, "Name c1", got.Name)
		require.Equal(t, "c1@example.com", got.Email)
		require.Equal(t, "TAX-c1", got.TaxID)
		require.Equal(t, "bobby", *got.Nick)
		require.Equal(t, "CARD(16):"+c.Card, got.Card, "without a permit the token stays a token (annotated)")
		require.Equal(t, c.CreatedAt, got.CreatedAt)
		require.Zero(t, got.Visits)
		require.Equal(t, "note c1", got.Note.String)

		got, err = customers.WithPermit(allowAll).Get(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, "4111111111111111", got.Card)
		got, err = customers.Protected().WithPermit(allowAll).Get(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, "Name c1", got.Name, "WithPermit opens, even after Protected")

		// Protected reads return what is stored.
		raw, err := customers.Protected().Get(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, c, *raw)

		// Update protects and writes; NULL and zero values round trip.
		got.Name, got.Nick, got.Plan, got.Visits, got.Note = "New Name", nil, "", 3, sql.NullString{}
		require.NoError(t, customers.Update(ctx, got))
		got, err = customers.Get(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, "New Name", got.Name)
		require.Nil(t, got.Nick)
		require.Equal(t, "", got.Plan)
		require.Equal(t, 3, got.Visits)
		require.False(t, got.Note.Valid)
		require.NoError(t, db.QueryRowContext(ctx, customers.rebind("SELECT plan FROM customers WHERE tenant = ? AND id = ?"), "acme", "c1").Scan(&plan))
		require.False(t, plan.Valid, "an empty string is stored as NULL")

		require.NoError(t, customers.Delete(ctx, "acme", "c1"))
		_, err = customers.Get(ctx, "acme", "c1")
		require.ErrorIs(t, err, sql.ErrNoRows)
		require.ErrorIs(t, customers.Delete(ctx, "acme", "c1"), sql.ErrNoRows)
		c2 := tcust("acme", "c2")
		require.ErrorIs(t, customers.Update(ctx, &c2), sql.ErrNoRows)
		requireNoSecrets(t, err, "c1")
	})
}

// requireNoSecrets fails when an error names any of secrets.
func requireNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		require.NotContains(t, err.Error(), s)
	}
}

func TestTableTenants(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		a, b := tcust("acme", "c1"), tcust("globex", "c1")
		b.Name = "Globex c1"
		require.NoError(t, customers.InsertMany(ctx, []tcustomer{a, b}))

		got, err := customers.Get(ctx, "acme", "c1")
		require.NoError(t, err)
		require.Equal(t, "Name c1", got.Name)
		got, err = customers.Get(ctx, "globex", "c1")
		require.NoError(t, err)
		require.Equal(t, "Globex c1", got.Name)
		_, err = customers.Get(ctx, "initech", "c1")
		require.ErrorIs(t, err, sql.ErrNoRows)

		// Same id, same e-mail, two tenants: each sees its own.
		for _, tenant := range []string{"acme", "globex"} {
			found, err := customers.FindBy(ctx, tenant, "Email", "c1@example.com")
			require.NoError(t, err)
			require.Len(t, found, 1)
			require.Equal(t, tenant, found[0].Tenant)
			found, err = customers.FindBy(ctx, tenant, "TaxID", "TAX-c1")
			require.NoError(t, err)
			require.Len(t, found, 1)
			require.Equal(t, tenant, found[0].Tenant)
			q, err := customers.Query(ctx, tenant, "")
			require.NoError(t, err)
			require.Len(t, q, 1)
			require.Equal(t, tenant, q[0].Tenant)
		}

		// Updating and deleting acme's c1 leaves globex's alone.
		got, err = customers.Get(ctx, "acme", "c1")
		require.NoError(t, err)
		got.Name = "Changed"
		require.NoError(t, customers.Update(ctx, got))
		require.NoError(t, customers.Delete(ctx, "acme", "c1"))
		got, err = customers.Get(ctx, "globex", "c1")
		require.NoError(t, err)
		require.Equal(t, "Globex c1", got.Name)
	})
}

// TestTableQueryEscape: a where clause that slips out of its parentheses
// reads other tenants' rows from the database, and Query refuses them.
func TestTableQueryEscape(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		require.NoError(t, customers.InsertMany(ctx, []tcustomer{tcust("acme", "c1"), tcust("globex", "c2")}))
		q, err := customers.Query(ctx, "globex", "plan = ?", "pro")
		require.NoError(t, err)
		require.Len(t, q, 1)
		_, err = customers.Query(ctx, "globex", "1=1) OR (1=1")
		require.ErrorContains(t, err, "another tenant")
		requireNoSecrets(t, err, "acme", "c1")
		_, err = customers.Query(ctx, "globex", "plan = ?) OR (plan = ?", "pro", "pro")
		require.ErrorContains(t, err, "another tenant")
	})
}

// lyingDB answers every query with its own query text, as a broken or
// compromised database (or view) would.
type lyingDB struct {
	*sql.DB
	query string
	args  []any
}

func (l lyingDB) QueryContext(ctx context.Context, _ string, _ ...any) (*sql.Rows, error) {
	return l.DB.QueryContext(ctx, l.query, l.args...)
}

// TestTableRowCheck: rows the database returns that the request did not
// ask for are refused, never opened or returned.
func TestTableRowCheck(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		require.NoError(t, customers.InsertMany(ctx, []tcustomer{tcust("acme", "c1"), tcust("globex", "c1"), tcust("acme", "c2")}))
		sel := "SELECT " + customers.m.SelectList + " FROM customers WHERE tenant = ? AND id = ?"
		lie := func(tenant, id string) context.Context {
			return pii.WithExecutor(ctx, lyingDB{DB: db, query: customers.rebind(sel), args: []any{tenant, id}})
		}
		for _, tc := range []struct {
			name string
			row  [2]string // the row the database returns
			run  func(ctx context.Context) error
			want string
		}{
			{"Get, another tenant's row with the same id", [2]string{"globex", "c1"}, func(ctx context.Context) error {
				_, err := customers.Get(ctx, "acme", "c1")
				return err
			}, "another tenant"},
			{"Get, another record of the tenant", [2]string{"acme", "c1"}, func(ctx context.Context) error {
				_, err := customers.Get(ctx, "acme", "c2")
				return err
			}, "another record"},
			{"Query, another tenant's row", [2]string{"acme", "c1"}, func(ctx context.Context) error {
				_, err := customers.Query(ctx, "globex", "")
				return err
			}, "another tenant"},
			{"FindBy, a row of the tenant with another index", [2]string{"acme", "c1"}, func(ctx context.Context) error {
				_, err := customers.Protected().FindBy(ctx, "acme", "Email", "c2@example.com")
				return err
			}, "does not match"},
			{"FindBy det, a row of the tenant with another ciphertext", [2]string{"acme", "c1"}, func(ctx context.Context) error {
				_, err := customers.Protected().FindBy(ctx, "acme", "TaxID", "TAX-c2")
				return err
			}, "does not match"},
			{"FindBy, another tenant's row with the same e-mail", [2]string{"acme", "c1"}, func(ctx context.Context) error {
				_, err := customers.Protected().FindBy(ctx, "globex", "Email", "c1@example.com")
				return err
			}, "another tenant"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run(lie(tc.row[0], tc.row[1]))
				require.ErrorContains(t, err, tc.want)
				requireNoSecrets(t, err, "c1", "c2", "acme@", "example.com")
			})
		}
	})
}

func TestTableFindBy(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		var all []tcustomer
		for i := range 20 {
			all = append(all, tcust("acme", fmt.Sprintf("c%02d", i)))
		}
		all[7].Email = all[3].Email // two customers share an address
		require.NoError(t, customers.InsertMany(ctx, all))
		found, err := customers.FindBy(ctx, "acme", "Email", "c03@example.com")
		require.NoError(t, err)
		require.Len(t, found, 2)
		require.Equal(t, []string{"c03", "c07"}, []string{found[0].ID, found[1].ID})
		require.Equal(t, "Name c03", found[0].Name)
		found, err = customers.FindBy(ctx, "acme", "TaxID", "TAX-c11")
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, "c11", found[0].ID)
		// A row whose index matches but whose opened value differs (what a
		// short blind index does now and then) is dropped.
		_, err = db.ExecContext(ctx, customers.rebind("UPDATE customers SET email_index = ? WHERE tenant = ? AND id = ?"), all[3].EmailIndex, "acme", "c05")
		require.NoError(t, err)
		found, err = customers.FindBy(ctx, "acme", "Email", "c03@example.com")
		require.NoError(t, err)
		require.Len(t, found, 2)
		require.Equal(t, []string{"c03", "c07"}, []string{found[0].ID, found[1].ID})
		raw, err := customers.Protected().FindBy(ctx, "acme", "Email", "c03@example.com")
		require.NoError(t, err)
		require.Len(t, raw, 3, "Protected does not open, so it cannot tell")
		found, err = customers.FindBy(ctx, "acme", "Email", "nobody@example.com")
		require.NoError(t, err)
		require.Empty(t, found)

		for field, want := range map[string]string{
			"Name":    "not searchable",
			"Card":    "not searchable",
			"Missing": "no tagged field",
		} {
			_, err := customers.FindBy(ctx, "acme", field, "x")
			require.ErrorContains(t, err, want, field)
			requireNoSecrets(t, err, "x@")
		}
		_, err = customers.FindBy(ctx, "acme", "Email", "")
		require.ErrorContains(t, err, "empty value")
	})
}

func TestTableNoTenant(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		notes := newTestTable[tnotenant](t, db, nil)
		require.Equal(t, "tnotenant", notes.m.Table, "the default table name")
		require.NoError(t, notes.Insert(ctx, &tnotenant{ID: 7, Owner: "bob", Body: "hello"}))
		got, err := notes.Get(ctx, "", "7")
		require.NoError(t, err)
		require.Equal(t, "hello", got.Body)
		_, err = notes.Get(ctx, "acme", "7")
		require.ErrorIs(t, err, sql.ErrNoRows, "a type without a tenant holds only the tenant \"\"")
		q, err := notes.Query(ctx, "acme", "")
		require.NoError(t, err)
		require.Empty(t, q)
		q, err = notes.Query(ctx, "", "note_id > ?", 1)
		require.NoError(t, err)
		require.Len(t, q, 1)
		require.ErrorIs(t, notes.Delete(ctx, "acme", "7"), sql.ErrNoRows)
		require.NoError(t, notes.Delete(ctx, "", "7"))
	})
}

func TestTableInsertMany(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		const n = 2500 // several batches
		all := make([]tcustomer, n)
		for i := range all {
			all[i] = tcust("acme", fmt.Sprintf("c%05d", i))
		}
		require.NoError(t, customers.InsertMany(ctx, all))
		q, err := customers.Query(ctx, "acme", "")
		require.NoError(t, err)
		require.Len(t, q, n)
		require.Equal(t, "Name c01234", q[1234].Name)

		// A failing batch (a duplicate key in the last one) inserts
		// nothing: the batches share one transaction.
		more := make([]tcustomer, n)
		for i := range more {
			more[i] = tcust("globex", fmt.Sprintf("c%05d", i))
		}
		more[n-1] = tcust("globex", "c00000")
		require.Error(t, customers.InsertMany(ctx, more))
		q, err = customers.Query(ctx, "globex", "")
		require.NoError(t, err)
		require.Empty(t, q)
	})
}

// TestTableTx: under pii.WithExecutor(ctx, tx), rows commit or roll back
// with the caller's transaction, however many InsertMany writes.
func TestTableTx(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		for _, commit := range []bool{false, true} {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			txctx := pii.WithExecutor(ctx, tx)
			c := tcust("acme", "c1")
			require.NoError(t, customers.Insert(txctx, &c))
			got, err := customers.Get(txctx, "acme", "c1")
			require.NoError(t, err, "the transaction sees its own row")
			require.Equal(t, "Name c1", got.Name)
			// More rows than one batch (maxBatch): InsertMany joins the
			// caller's transaction rather than begin its own.
			many := make([]tcustomer, maxBatch+1)
			for i := range many {
				many[i] = tcust("acme", fmt.Sprintf("m%05d", i))
			}
			require.NoError(t, customers.InsertMany(txctx, many))
			if commit {
				require.NoError(t, tx.Commit())
			} else {
				require.NoError(t, tx.Rollback())
			}
			q, err := customers.Query(ctx, "acme", "")
			require.NoError(t, err)
			if commit {
				require.Len(t, q, 1+len(many))
			} else {
				require.Empty(t, q)
			}
		}
	})
}

// TestTableOpenFailure: a row whose sealed value does not open is an
// error, and no part of it (sealed text included) is returned.
func TestTableOpenFailure(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		a, b := tcust("acme", "c1"), tcust("acme", "c2")
		nick := "bobby"
		a.Nick = &nick
		require.NoError(t, customers.InsertMany(ctx, []tcustomer{a, b}))
		// c2's nick becomes c1's sealed nick: bound to c1, it does not
		// open as c2's.
		_, err := db.ExecContext(ctx, customers.rebind("UPDATE customers SET nick = ? WHERE tenant = ? AND id = ?"), *a.Nick, "acme", "c2")
		require.NoError(t, err)
		got, err := customers.Get(ctx, "acme", "c2")
		require.Error(t, err)
		require.Nil(t, got)
		q, err := customers.Query(ctx, "acme", "")
		require.Error(t, err)
		require.Nil(t, q)
		requireNoSecrets(t, err, "bobby", *a.Nick)
		found, err := customers.FindBy(ctx, "acme", "Email", "c2@example.com")
		require.Error(t, err)
		require.Nil(t, found)

		// A clear value in a sealed column (written around the Table) is
		// refused, not returned as if it had been opened.
		_, err = db.ExecContext(ctx, customers.rebind("UPDATE customers SET nick = NULL, name = ? WHERE tenant = ? AND id = ?"), "Clear Name", "acme", "c2")
		require.NoError(t, err)
		got, err = customers.Get(ctx, "acme", "c2")
		require.ErrorIs(t, err, envelope.ErrNotSealed)
		require.Nil(t, got)
		requireNoSecrets(t, err, "Clear Name")
		raw, err := customers.Protected().Get(ctx, "acme", "c2")
		require.ErrorIs(t, err, envelope.ErrNotSealed)
		require.Nil(t, raw)
	})
}

func TestTableDDL(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		customers := newTestTable[tcustomer](t, db, &TableOptions{Table: "customers"})
		ddl := customers.DDL()
		require.Contains(t, ddl, "PRIMARY KEY (tenant, id)")
		require.Contains(t, ddl, "tenant TEXT NOT NULL")
		for _, idx := range []string{"(tenant, subject)", "(tenant, email_index)", "(tenant, tax_id)", "(created_at)"} {
			require.Contains(t, ddl, idx)
		}
		require.Equal(t, len(customers.ddl()), strings.Count(ddl, ";"))
		require.NoError(t, customers.createTable(ctx), "idempotent")
	})
}

func TestNewTableErrors(t *testing.T) {
	db := testdb.SQLite(t)
	g, err := New(testKP(t), db, nil)
	require.NoError(t, err)
	_, err = NewTable[tcustomer](g, &TableOptions{Table: "bad-name"})
	require.ErrorContains(t, err, "letters, digits and underscores")
	_, err = NewTable[int](g, nil)
	require.ErrorContains(t, err, "not a struct")
	_, err = NewTable[tcustomer](nil, nil)
	require.Error(t, err)
	mem, err := NewMemory(testKP(t), nil)
	require.NoError(t, err)
	_, err = NewTable[tcustomer](mem, nil)
	require.ErrorContains(t, err, "NewMemory")
}
