package guard

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/guardtool"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention/sqlstore"
)

func TestVerify(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		st, _ := seedRotation(t, f)
		var progress []VerifyReport
		rep, err := f.g.Verify(ctx, &VerifyOptions{BatchSize: 4, Progress: func(r VerifyReport) error {
			progress = append(progress, r)
			return nil
		}})
		require.NoError(t, err)
		// 6 customers (Name, Email, DOB sealed; Phone, Card, Alt reversed;
		// Handle a pseudonym) and 6 tickets (Body sealed, Ref stored token).
		require.Equal(t, VerifyReport{Records: 12, Sealed: 6*3 + 6, Tokens: 6*3 + 6}, rep)
		require.NotEmpty(t, progress)
		require.Equal(t, "gcust", progress[0].Type)
		require.Equal(t, int64(4), progress[0].Records)

		// A forgotten subject's values count as verified: a ticket sealed
		// before the erasure and restored after it (from a backup).
		old := gticket{ID: "t7", Customer: "c1", Tenant: "acme", Body: "hello", Ref: "REF7XYZ", CreatedAt: t0}
		require.NoError(t, f.g.Protect(ctx, &old))
		fr, err := f.g.Forget(ctx, "acme", "c1")
		require.NoError(t, err)
		require.True(t, fr.KeyShredded)
		st.put(t, &old)
		rep, err = f.g.Verify(ctx, nil)
		require.NoError(t, err)
		require.Zero(t, rep.Failed)
		require.Equal(t, int64(2), rep.Shredded, "the restored ticket's sealed body and stored token")

		// A value sealed for another field does not open; a clear value in
		// an encrypt field is counted, not failed.
		bad := newCust("acme", "c9")
		require.NoError(t, f.g.Protect(ctx, &bad))
		bad.Name = bad.Email
		st.put(t, &bad)
		odd := newCust("acme", "c8")
		require.NoError(t, f.g.Protect(ctx, &odd))
		odd.Phone = "not a phone token"
		st.put(t, &odd)
		k := gticket{ID: "t9", Customer: "c9", Tenant: "acme", Body: "still in clear", CreatedAt: t0}
		st.put(t, &k)
		rep, err = f.g.Verify(ctx, nil)
		require.ErrorIs(t, err, ErrVerify)
		require.Equal(t, int64(2), rep.Failed)
		require.Equal(t, int64(1), rep.Plaintext)
		require.Len(t, rep.Failures, 2)
		fields := map[string]string{}
		for _, fl := range rep.Failures {
			require.Equal(t, "gcust", fl.Type)
			require.NotContains(t, fl.Error, "@example.com")
			fields[fl.Field] = fl.Error
		}
		require.Contains(t, fields, "Name")
		require.Contains(t, fields, "Phone")
	})
}

// Verify uses cold caches: a branch key the Guard's own Sealer has cached
// but the key store no longer holds intact fails.
func TestVerifyCold(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	f := &gfix{kp: testKP(t), db: db, name: "sqlite"}
	g, err := New(f.kp, db, nil)
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(ctx))
	f.g = g
	seedRotation(t, f)
	_, err = g.Verify(ctx, nil)
	require.NoError(t, err)
	// The Guard's own Sealer opens from its caches...
	c := newCust("acme", "c1")
	require.NoError(t, g.Protect(ctx, &c))
	require.NoError(t, g.Open(ctx, &c, permitAll))
	_, err = db.Exec(`UPDATE pii_keys SET wrapped = X'00' WHERE kind = 'branch' AND tenant = 'acme'`)
	require.NoError(t, err)
	c = newCust("acme", "c1")
	require.NoError(t, g.Protect(ctx, &c))
	require.NoError(t, g.Open(ctx, &c, permitAll))
	// ...Verify goes to the key store and the KMS.
	rep, err := g.Verify(ctx, nil)
	require.ErrorIs(t, err, ErrVerify)
	require.Equal(t, int64(6), rep.Failed, "acme's three customers and three tickets")
}

// rtcust is written by a typed program through NewTable; the test then
// rebuilds it at run time as a tool without the Go type would.
type rtcust struct {
	Tenant     string `pii:"tenant"`
	ID         string `pii:"id"`
	Subject    string `pii:"subject"`
	Name       string `pii:"name,encrypt"`
	Email      string `pii:"email,encrypt,index=EmailIndex"`
	EmailIndex string `pii:"-"`
	Card       string `pii:"card,token=ff1"`
	Plan       string `pii:"-"`
}

// runtimeType rebuilds rtcust with reflect.StructOf, leaving out Plan (a
// tool need not know every column), and names it as the program does.
// (Types of different names differ in a db tag: one Go type has one name.)
func runtimeType(t *testing.T, name string) reflect.Type {
	src := reflect.TypeFor[rtcust]()
	var fields []reflect.StructField
	for i := range src.NumField() {
		f := src.Field(i)
		if f.Name == "Plan" {
			continue
		}
		if f.Name == "Subject" && name != "rtcust" {
			f.Tag += ` db:"subject"`
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
	}
	rt := reflect.StructOf(fields)
	require.NoError(t, pii.Register(reflect.New(rt).Interface(), name))
	return rt
}

func TestRegisterTable(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		kp := testKP(t)
		app, err := New(kp, db, nil)
		require.NoError(t, err)
		customers, err := NewTable[rtcust](app, &TableOptions{Table: "rt_customers"})
		require.NoError(t, err)
		require.NoError(t, app.CreateTables(ctx))
		for _, id := range []string{"c1", "c2"} {
			c := rtcust{Tenant: "acme", ID: id, Subject: "s-" + id, Name: "Ada " + id, Email: id + "@example.com", Card: "4111111111111111", Plan: "pro"}
			require.NoError(t, customers.Insert(ctx, &c))
		}
		viewer := mask.Viewer{ID: "dpo", Role: "dpo"}
		want, err := app.Export(ctx, viewer, "acme", "s-c1")
		require.NoError(t, err)

		// Another Guard on the same database, with the type rebuilt.
		tool, err := New(kp, db, nil)
		require.NoError(t, err)
		rt := runtimeType(t, "rtcust")
		require.ErrorContains(t, guardtool.RegisterTable(tool, rt, sqlstore.Mapping{}), "needs a table name")
		require.ErrorContains(t, guardtool.RegisterTable(tool, 42, sqlstore.Mapping{}), "not a struct")
		require.NoError(t, guardtool.RegisterTable(tool, rt, sqlstore.Mapping{Table: "rt_customers"}))
		rep, err := tool.Verify(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, VerifyReport{Records: 2, Sealed: 4, Tokens: 2}, rep)
		got, err := tool.Export(ctx, viewer, "acme", "s-c1")
		require.NoError(t, err)
		var a, b Export
		require.NoError(t, json.Unmarshal(want, &a))
		require.NoError(t, json.Unmarshal(got, &b))
		a.GeneratedAt, b.GeneratedAt = time.Time{}, time.Time{}
		require.Equal(t, a, b)
		require.Len(t, b.Items, 3)

		fr, err := tool.Forget(ctx, "acme", "s-c2")
		require.NoError(t, err)
		require.True(t, fr.KeyShredded)
		var plan sql.NullString
		require.NoError(t, db.QueryRowContext(ctx, `SELECT plan FROM rt_customers WHERE id = 'c2'`).Scan(&plan))
		require.Equal(t, "pro", plan.String, "a column the tool does not know is left alone")

		// A name the program's data was not sealed under does not open.
		other, err := New(kp, db, nil)
		require.NoError(t, err)
		require.NoError(t, guardtool.RegisterTable(other, runtimeType(t, "RenamedCustomer"), sqlstore.Mapping{Table: "rt_customers"}))
		rep, err = other.Verify(ctx, nil)
		require.ErrorIs(t, err, ErrVerify)
		require.Equal(t, int64(1), rep.Failed, "c2 was forgotten: its values count as shredded")

		mem, err := NewMemory(kp, nil)
		require.NoError(t, err)
		require.ErrorContains(t, guardtool.RegisterTable(mem, rt, sqlstore.Mapping{Table: "rt_customers"}), "needs a Guard built by New")
	})
}

// A Migration's Unseal opens values, which runs the retention read check
// and loads the Guard's secrets outside the batch's transaction: on a pool
// of one connection (SQLite as the pii command opens it) a fresh Guard
// must load them before the first batch, or wait for itself.
func TestMigrateUnsealFreshGuardOneConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a deadlock fails instead of hanging
	defer cancel()
	db := testdb.OpenSQLite(t, filepath.Join(t.TempDir(), "one.db"))
	db.SetMaxOpenConns(1)
	kp := testKP(t)
	g1, err := New(kp, db, nil)
	require.NoError(t, err)
	_, err = NewTable[tlegacy](g1, &TableOptions{Table: "one_conn"})
	require.NoError(t, err)
	require.NoError(t, g1.CreateTables(ctx))
	mg, err := NewMigration(g1, tlegacy{}, &TableOptions{Table: "one_conn"})
	require.NoError(t, err)
	insertClear(t, db, mg.m, sqldialect.SQLite, legacyRow("acme", 1), legacyRow("acme", 2))
	_, err = mg.Seal(ctx, nil)
	require.NoError(t, err)

	g2, err := New(kp, db, nil)
	require.NoError(t, err)
	mg2, err := NewMigration(g2, reflect.TypeFor[tlegacy](), &TableOptions{Table: "one_conn"})
	require.NoError(t, err)
	rep, err := mg2.Unseal(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), rep.Changed)
	for _, r := range rawRows(t, db, mg.m) {
		require.True(t, noneSealed(r))
	}
}
