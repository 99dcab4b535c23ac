package gormpii_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/gormpii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/tokenize"
)

// Customer is a GORM model with personal data: its row key is (tenant,
// id), the e-mail is sealed with a blind index, the card tokenized.
type Customer struct {
	Tenant     string  `gorm:"primaryKey" pii:"tenant"`
	ID         string  `gorm:"primaryKey" pii:"id"`
	Subject    string  `gorm:"index" pii:"subject"`
	Name       string  `pii:"name,encrypt"`
	Email      string  `pii:"email,encrypt,index=EmailIndex"`
	EmailIndex string  `gorm:"index" pii:"-"`
	Card       string  `pii:"card,token=ff1"`
	Nick       *string `pii:"username,encrypt"`
	Plan       string  `pii:"-"`
	CreatedAt  time.Time
}

func cust(tenant, id string) Customer {
	return Customer{Tenant: tenant, ID: id, Subject: "sub-" + id, Name: "Name " + id,
		Email: id + "@example.com", Card: "4111111111111111", Plan: "pro"}
}

var allowAll tokenize.Permit = func(context.Context, *pii.Field, string) error { return nil }

// dbs runs a test on SQLite (github.com/glebarez/sqlite, pure Go) and on
// PostgreSQL (gorm.io/driver/postgres, when PII_POSTGRES_URL is set; under
// CI=true it must be).
func dbs(t *testing.T, fn func(t *testing.T, db *gorm.DB, g *guard.Guard)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(t.TempDir(), "test.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"),
			&gorm.Config{Logger: logger.Discard})
		require.NoError(t, err)
		sqlDB, err := db.DB()
		require.NoError(t, err)
		t.Cleanup(func() { sqlDB.Close() })
		fn(t, db, setup(t, db))
	})
	t.Run("postgres", func(t *testing.T) {
		db := openPostgres(t)
		fn(t, db, setup(t, db))
	})
}

func setup(t *testing.T, db *gorm.DB) *guard.Guard {
	t.Helper()
	ctx := context.Background()
	master, err := local.GenerateMasterKey() // a test key; never hard-code a real one
	require.NoError(t, err)
	kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	g, err := guard.New(kp, sqlDB, nil)
	require.NoError(t, err)
	require.NoError(t, db.Use(gormpii.New(g, nil)))
	require.NoError(t, db.AutoMigrate(&Customer{}))
	_, err = gormpii.Register[Customer](g, db)
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(ctx))
	return g
}

var schemaSeq atomic.Int64

// openPostgres opens a fresh schema on the server of PII_POSTGRES_URL,
// dropped at cleanup.
func openPostgres(t *testing.T) *gorm.DB {
	t.Helper()
	url := os.Getenv("PII_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PII_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("PII_POSTGRES_URL not set; skipping PostgreSQL test")
	}
	admin, err := gorm.Open(postgres.Open(url), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	schema := fmt.Sprintf("gormpii_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	require.NoError(t, admin.Exec("CREATE SCHEMA "+schema).Error)
	adminDB, _ := admin.DB()
	sep := "?"
	for _, c := range url {
		if c == '?' {
			sep = "&"
		}
	}
	db, err := gorm.Open(postgres.Open(url+sep+"search_path="+schema), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	t.Cleanup(func() {
		if d, err := db.DB(); err == nil {
			d.Close()
		}
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		adminDB.Close()
	})
	return db
}

func TestCreateAndFind(t *testing.T) {
	dbs(t, func(t *testing.T, db *gorm.DB, g *guard.Guard) {
		nick := "bobby"
		c := cust("acme", "c1")
		c.Nick = &nick
		require.NoError(t, db.Create(&c).Error)
		require.NotEqual(t, "Name c1", c.Name, "the created value is left protected, as written")

		// The table holds no clear value of a protected field.
		var name, email, card, nk string
		require.NoError(t, db.Raw("SELECT name, email, card, nick FROM customers WHERE tenant = ? AND id = ?", "acme", "c1").
			Row().Scan(&name, &email, &card, &nk))
		for _, v := range []string{name, email, card, nk} {
			require.NotContains(t, []string{"Name c1", "c1@example.com", "4111111111111111", "bobby"}, v)
		}

		var got Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("acme")).First(&got, "id = ?", "c1").Error)
		require.Equal(t, "Name c1", got.Name)
		require.Equal(t, "c1@example.com", got.Email)
		require.Equal(t, "bobby", *got.Nick)
		require.Equal(t, "CARD(16):"+c.Card, got.Card, "without a permit the card stays a token (annotated)")

		var all []Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("acme"), gormpii.Permit(allowAll)).Find(&all).Error)
		require.Len(t, all, 1)
		require.Equal(t, "4111111111111111", all[0].Card)

		// Save protects again (idempotently) and updates.
		got.Name = "New Name"
		got.Nick = nil
		require.NoError(t, db.Save(&got).Error)
		var stored string
		require.NoError(t, db.Raw("SELECT name FROM customers WHERE tenant = ? AND id = ?", "acme", "c1").Row().Scan(&stored))
		require.NotEqual(t, "New Name", stored, "Save seals")
		var again Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("acme"), gormpii.Permit(allowAll)).First(&again, "id = ?", "c1").Error)
		require.Equal(t, "New Name", again.Name)
		require.Nil(t, again.Nick)
		require.Equal(t, "4111111111111111", again.Card)

		// Columns stored in clear update as usual; protected ones only
		// through the struct.
		require.NoError(t, db.Model(&again).Update("plan", "basic").Error)
		err := db.Model(&again).Update("name", "Mallory").Error
		require.ErrorContains(t, err, "protected")
		require.NotContains(t, err.Error(), "Mallory")
		err = db.Model(&again).Updates(map[string]any{"Email": "m@example.com"}).Error
		require.ErrorContains(t, err, "protected")
		err = db.Model(&again).Updates(&Customer{Name: "Mallory"}).Error
		require.ErrorContains(t, err, "another record")
	})
}

func TestTenants(t *testing.T) {
	dbs(t, func(t *testing.T, db *gorm.DB, g *guard.Guard) {
		a, b := cust("acme", "c1"), cust("globex", "c1")
		b.Name = "Globex c1"
		require.NoError(t, db.Create(&[]Customer{a, b}).Error)

		var all []Customer
		require.ErrorContains(t, db.Find(&all).Error, "gormpii.Tenant", "a query of a type with a tenant needs the scope")
		for _, tenant := range []string{"acme", "globex"} {
			all = nil
			require.NoError(t, db.Scopes(gormpii.Tenant(tenant)).Find(&all).Error)
			require.Len(t, all, 1)
			require.Equal(t, tenant, all[0].Tenant)

			var found []Customer
			require.NoError(t, db.Scopes(gormpii.FindBy(tenant, "Email", "c1@example.com")).Find(&found).Error)
			require.Len(t, found, 1)
			require.Equal(t, tenant, found[0].Tenant)
			var n int64
			require.NoError(t, db.Model(&Customer{}).Scopes(gormpii.Tenant(tenant)).Count(&n).Error)
			require.EqualValues(t, 1, n)
		}
		var none []Customer
		require.NoError(t, db.Scopes(gormpii.FindBy("acme", "Email", "nobody@example.com")).Find(&none).Error)
		require.Empty(t, none)

		// A row whose blind index matches but whose opened address differs
		// (what a short index does now and then) is dropped.
		d := cust("acme", "c3")
		require.NoError(t, db.Create(&d).Error)
		var idx string
		require.NoError(t, db.Raw("SELECT email_index FROM customers WHERE tenant = ? AND id = ?", "acme", "c1").Row().Scan(&idx))
		require.NoError(t, db.Exec("UPDATE customers SET email_index = ? WHERE tenant = ? AND id = ?", idx, "acme", "c3").Error)
		var found []Customer
		require.NoError(t, db.Scopes(gormpii.FindBy("acme", "Email", "c1@example.com")).Find(&found).Error)
		require.Len(t, found, 1)
		require.Equal(t, "c1", found[0].ID)
		var first Customer
		require.NoError(t, db.Scopes(gormpii.FindBy("acme", "Email", "c1@example.com")).Order("id").First(&first).Error)
		require.Equal(t, "c1", first.ID)

		// An OR condition stays inside the tenant filter.
		all = nil
		require.NoError(t, db.Scopes(gormpii.Tenant("acme")).Where("plan = ?", "none").Or("1 = 1").Find(&all).Error)
		require.Len(t, all, 2)
		for _, c := range all {
			require.Equal(t, "acme", c.Tenant)
		}

		// Creating a record of another tenant under a tenant scope fails.
		c := cust("globex", "c2")
		require.ErrorContains(t, db.Scopes(gormpii.Tenant("acme")).Create(&c).Error, "another tenant")
		// So does a batch with one such record, and then nothing of the
		// batch is protected or written: the rows are checked before the
		// batch's one Protect.
		mixed := []Customer{cust("acme", "c4"), cust("globex", "c4")}
		require.ErrorContains(t, db.Scopes(gormpii.Tenant("acme")).Create(&mixed).Error, "another tenant")
		require.Equal(t, "Name c4", mixed[0].Name, "the acme record of the refused batch is left as it was")
		require.Equal(t, "4111111111111111", mixed[0].Card)
		var n int64
		require.NoError(t, db.Raw("SELECT COUNT(*) FROM customers WHERE id = ?", "c4").Row().Scan(&n))
		require.Zero(t, n)

		// Deleting acme's c1 leaves globex's.
		require.NoError(t, db.Scopes(gormpii.Tenant("acme")).Delete(&Customer{}, "id = ?", "c1").Error)
		require.ErrorContains(t, db.Delete(&Customer{}, "id = ?", "c1").Error, "gormpii.Tenant")
		var left []Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("globex")).Find(&left).Error)
		require.Len(t, left, 1)
		require.Equal(t, "Globex c1", left[0].Name)
	})
}

// lyingPool answers every query with its own, as a broken or compromised
// database (or a view) would.
type lyingPool struct {
	*sql.DB
	query string
	args  []any
}

func (l lyingPool) QueryContext(ctx context.Context, _ string, _ ...any) (*sql.Rows, error) {
	return l.DB.QueryContext(ctx, l.query, l.args...)
}

// TestRowCheck: rows a query returns that do not match what was asked are
// refused before they are opened, and none is left in the destination.
func TestRowCheck(t *testing.T) {
	dbs(t, func(t *testing.T, db *gorm.DB, g *guard.Guard) {
		require.NoError(t, db.Create(&[]Customer{cust("acme", "c1"), cust("acme", "c2"), cust("globex", "c1")}).Error)
		sqlDB, err := db.DB()
		require.NoError(t, err)
		lie := func(tenant, id string) *gorm.DB {
			tx := db.Session(&gorm.Session{})
			q := "SELECT * FROM customers WHERE tenant = ? AND id = ?"
			if db.Dialector.Name() == "postgres" {
				q = "SELECT * FROM customers WHERE tenant = $1 AND id = $2"
			}
			tx.Statement.ConnPool = lyingPool{DB: sqlDB, query: q, args: []any{tenant, id}}
			return tx
		}
		var all []Customer
		err = lie("globex", "c1").Scopes(gormpii.Tenant("acme")).Find(&all).Error
		require.ErrorContains(t, err, "another tenant")
		require.Empty(t, all)

		var one Customer
		err = lie("globex", "c1").Scopes(gormpii.Tenant("acme")).First(&one).Error
		require.ErrorContains(t, err, "another tenant")
		require.Zero(t, one, "nothing of the other tenant is left in the destination")

		var found []Customer
		err = lie("acme", "c2").Scopes(gormpii.FindBy("acme", "Email", "c1@example.com")).Find(&found).Error
		require.ErrorContains(t, err, "does not match")
		require.Empty(t, found)
		require.NotContains(t, err.Error(), "c1@example.com")
	})
}

// TestOpenFailure: a row whose sealed value does not open fails the query
// and leaves nothing in the destination.
func TestOpenFailure(t *testing.T) {
	dbs(t, func(t *testing.T, db *gorm.DB, g *guard.Guard) {
		a, b := cust("acme", "c1"), cust("acme", "c2")
		require.NoError(t, db.Create(&[]Customer{a, b}).Error)
		var sealed string
		require.NoError(t, db.Raw("SELECT name FROM customers WHERE tenant = ? AND id = ?", "acme", "c1").Row().Scan(&sealed))
		require.NoError(t, db.Exec("UPDATE customers SET name = ? WHERE tenant = ? AND id = ?", sealed, "acme", "c2").Error)
		var all []Customer
		err := db.Scopes(gormpii.Tenant("acme")).Find(&all).Error
		require.Error(t, err)
		require.Empty(t, all)
		require.NotContains(t, err.Error(), sealed)

		// A clear value in a sealed column (written around the plugin) is
		// refused, not returned as if it had been opened.
		require.NoError(t, db.Exec("UPDATE customers SET name = ? WHERE tenant = ? AND id = ?", "Clear Name", "acme", "c2").Error)
		var one Customer
		err = db.Scopes(gormpii.Tenant("acme")).First(&one, "id = ?", "c2").Error
		require.ErrorIs(t, err, envelope.ErrNotSealed)
		require.Zero(t, one)
		require.NotContains(t, err.Error(), "Clear Name")
	})
}

func TestTransaction(t *testing.T) {
	dbs(t, func(t *testing.T, db *gorm.DB, g *guard.Guard) {
		// A first create makes the Guard's own secrets (outside any
		// transaction, by design); then count the keys.
		warm := cust("globex", "w1")
		require.NoError(t, db.Create(&warm).Error)
		keys := func() (n int64) {
			require.NoError(t, db.Raw("SELECT COUNT(*) FROM pii_keys").Row().Scan(&n))
			return n
		}
		before := keys()
		rollback := errors.New("roll back")
		err := db.Transaction(func(tx *gorm.DB) error {
			c := cust("acme", "c1")
			require.NoError(t, tx.Create(&c).Error)
			var got Customer
			require.NoError(t, tx.Scopes(gormpii.Tenant("acme")).First(&got, "id = ?", "c1").Error)
			require.Equal(t, "Name c1", got.Name)
			return rollback
		})
		require.ErrorIs(t, err, rollback)
		require.Equal(t, before, keys(), "the keys the create made rolled back with its row")
		var all []Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("acme")).Find(&all).Error)
		require.Empty(t, all)
		c := cust("acme", "c1")
		require.NoError(t, db.Create(&c).Error, "a new subject key after the rollback")
		var got Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("acme")).First(&got, "id = ?", "c1").Error)
		require.Equal(t, "Name c1", got.Name)
	})
}

var _ = sql.ErrNoRows

// TestForget: Register makes GORM's rows part of the Guard's erasure: one
// tenant's customer is forgotten, the other tenant's customer with the
// same id is untouched.
func TestForget(t *testing.T) {
	dbs(t, func(t *testing.T, db *gorm.DB, g *guard.Guard) {
		ctx := context.Background()
		require.NoError(t, db.Create(&[]Customer{cust("acme", "c1"), cust("globex", "c1")}).Error)
		rep, err := g.Forget(ctx, "acme", "sub-c1")
		require.NoError(t, err)
		require.NotEmpty(t, rep.Entries)

		var gone Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("acme")).First(&gone, "id = ?", "c1").Error)
		require.Empty(t, gone.Name, "erased")
		require.Empty(t, gone.Email)
		require.Empty(t, gone.EmailIndex, "its blind index goes with it")
		var found []Customer
		require.NoError(t, db.Scopes(gormpii.FindBy("acme", "Email", "c1@example.com")).Find(&found).Error)
		require.Empty(t, found)

		var kept Customer
		require.NoError(t, db.Scopes(gormpii.Tenant("globex"), gormpii.Permit(allowAll)).First(&kept, "id = ?", "c1").Error)
		require.Equal(t, "Name c1", kept.Name)
		require.Equal(t, "4111111111111111", kept.Card)
	})
}
