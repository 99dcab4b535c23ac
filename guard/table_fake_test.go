package guard

// Temporary (g2): a stand-in for the Guard core until it lands, so the
// Table can be tested. Delete with table_glue.go.

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
	"github.com/fieldguard/pii/tokenize"
)

type fakeGuard struct {
	db     *sql.DB
	d      Dialect
	s      *envelope.Sealer
	tok    *tokenize.Tokenizer
	stores []retention.Store
}

func newFakeGuard(t testing.TB, db *sql.DB) *fakeGuard {
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
	require.NoError(t, err)
	d, err := sqldialect.Resolve(db, 0)
	require.NoError(t, err)
	ks, err := sqlkeystore.New(db, nil)
	require.NoError(t, err)
	require.NoError(t, ks.CreateTables(context.Background()))
	s, err := envelope.New(kp, &envelope.Options{Store: ks})
	require.NoError(t, err)
	tok, err := tokenize.New(tokenize.GenerateRootKey(), &tokenize.Options{Store: tokenize.NewMemoryStore()})
	require.NoError(t, err)
	return &fakeGuard{db: db, d: d, s: s, tok: tok}
}

func (f *fakeGuard) Protect(ctx context.Context, ptr any) error {
	// Apply is not idempotent (the core's Protect is): a value read back
	// without a permit holds tokens already.
	if err := f.tok.Apply(ctx, ptr); err != nil && !strings.Contains(err.Error(), "already a token") {
		return err
	}
	return f.s.Seal(ctx, ptr)
}

func (f *fakeGuard) Open(ctx context.Context, ptr any, permit Permit) error {
	if err := f.s.Open(ctx, ptr); err != nil {
		return err
	}
	if permit == nil {
		return nil
	}
	return f.tok.Reverse(ctx, ptr, permit)
}

func (f *fakeGuard) Register(stores ...retention.Store) error {
	f.stores = append(f.stores, stores...)
	return nil
}

func (f *fakeGuard) createTables(ctx context.Context) error {
	for _, s := range f.stores {
		if c, ok := s.(interface{ createTable(context.Context) error }); ok {
			if err := c.createTable(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeGuard) sqlDB() *sql.DB           { return f.db }
func (f *fakeGuard) sqlDialect() Dialect      { return f.d }
func (f *fakeGuard) sealer() *envelope.Sealer { return f.s }
func (f *fakeGuard) storeOptions() *sqlstore.Options {
	return &sqlstore.Options{Dialect: f.d, LedgerTable: "pii_ledger", HoldsTable: "pii_holds", PendingTable: "pii_pending"}
}

func (f *fakeGuard) Lookup(ctx context.Context, tenant string, typ any, field, value string) (Lookup, error) {
	return lookup(ctx, f.s, tenant, typ, field, value)
}
