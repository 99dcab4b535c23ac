package sqltokenstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/sqltokenstore"
	"github.com/fieldguard/pii/tokenize/tokenstoretest"
)

// testRoot is a test key; never hard-code keys in production.
var testRoot = []byte("sqltokenstore test root key, 32!")

type backend struct {
	name    string
	dialect pii.Dialect
	open    func(t *testing.T) *sql.DB
}

var backends = []backend{
	{"sqlite", pii.SQLite, func(t *testing.T) *sql.DB { return testdb.SQLite(t) }},
	{"postgres", pii.Postgres, func(t *testing.T) *sql.DB {
		db, _ := testdb.Postgres(t)
		return db
	}},
}

func newStore(t *testing.T, db *sql.DB, opts *sqltokenstore.Options) *sqltokenstore.Store {
	t.Helper()
	st, err := sqltokenstore.New(db, opts)
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(t.Context()))
	require.NoError(t, st.CreateTables(t.Context()), "CreateTables is idempotent")
	return st
}

// The SQL store passes the public conformance suite on both databases.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			tokenstoretest.Run(t, func(t *testing.T) tokenize.TokenStore {
				return newStore(t, b.open(t), &sqltokenstore.Options{Dialect: b.dialect})
			})
		})
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// A token written under a transaction that rolls back is gone, and nothing
// refers to it afterwards: the Tokenizer neither reverses it nor hands it
// out again from a cache. Committed, the same writes stay; a DeleteSubject
// rolled back deletes nothing.
func TestRollback(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t)
			st := newStore(t, db, nil)
			tk, err := tokenize.New(testRoot, &tokenize.Options{Store: st, Convergent: true})
			require.NoError(t, err)
			s := tokenize.Scope{Tenant: "acme", Field: "Customer.IBAN", Subject: "c-1"}
			const iban = "GB82 WEST 1234 5698 7654 32"

			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() // a failed assertion must not leave the tx holding locks
			txctx := pii.WithExecutor(ctx, tx)
			rolled, err := tk.Tokenize(txctx, tokenize.MethodStored, s, tokenize.IBAN{}, iban)
			require.NoError(t, err)
			again, err := tk.Tokenize(txctx, tokenize.MethodStored, s, tokenize.IBAN{}, iban)
			require.NoError(t, err)
			require.Equal(t, rolled, again, "the transaction sees its own row")
			v, err := tk.Detokenize(txctx, tokenize.MethodStored, s, tokenize.IBAN{}, rolled)
			require.NoError(t, err)
			require.Equal(t, iban, v)
			require.NoError(t, tx.Rollback())

			require.Zero(t, count(t, db, "pii_tokens"), "the rolled-back row is gone")
			_, err = tk.Detokenize(ctx, tokenize.MethodStored, s, tokenize.IBAN{}, rolled)
			require.ErrorIs(t, err, tokenize.ErrNotFound, "a rolled-back token does not reverse")
			kept, err := tk.Tokenize(ctx, tokenize.MethodStored, s, tokenize.IBAN{}, iban)
			require.NoError(t, err)
			require.NotEqual(t, rolled, kept, "a rolled-back token is not handed out again")
			require.Equal(t, 1, count(t, db, "pii_tokens"))

			// Committed: the row stays.
			other := tokenize.Scope{Tenant: "acme", Field: "Customer.IBAN", Subject: "c-2"}
			tx, err = db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			committed, err := tk.Tokenize(pii.WithExecutor(ctx, tx), tokenize.MethodStored, other, tokenize.IBAN{}, iban)
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
			v, err = tk.Detokenize(ctx, tokenize.MethodStored, other, tokenize.IBAN{}, committed)
			require.NoError(t, err)
			require.Equal(t, iban, v)

			// A DeleteSubject rolled back deletes nothing.
			tx, err = db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			n, err := tk.DeleteSubject(pii.WithExecutor(ctx, tx), "acme", "c-1")
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			require.NoError(t, tx.Rollback())
			v, err = tk.Detokenize(ctx, tokenize.MethodStored, s, tokenize.IBAN{}, kept)
			require.NoError(t, err)
			require.Equal(t, iban, v)
			require.Equal(t, 2, count(t, db, "pii_tokens"))
		})
	}
}

func TestOptions(t *testing.T) {
	db := testdb.SQLite(t)
	_, err := sqltokenstore.New(nil, nil)
	require.ErrorContains(t, err, "sqltokenstore: nil *sql.DB")
	_, err = sqltokenstore.New(db, &sqltokenstore.Options{Dialect: pii.Dialect(9)})
	require.ErrorContains(t, err, "sqltokenstore: unknown SQL dialect")
	for _, bad := range []string{"a.b.c", "x; DROP TABLE y", "1tokens", "app.", `"t"`} {
		_, err := sqltokenstore.New(db, &sqltokenstore.Options{Table: bad})
		require.ErrorContains(t, err, "sqltokenstore: invalid token store table name", bad)
		require.ErrorContains(t, err, "letters, digits and underscores")
		_, err = sqltokenstore.DDL(&sqltokenstore.Options{Dialect: pii.SQLite, Table: bad})
		require.ErrorContains(t, err, "sqltokenstore: invalid token store table name", bad)
	}
	// Detected from the driver, default table name.
	st := newStore(t, db, nil)
	require.NoError(t, st.Put(t.Context(), &tokenize.Record{Token: "t", Lookup: []byte{1}, Sealed: []byte{2}}))
	require.Equal(t, 1, count(t, db, "pii_tokens"))
	newStore(t, db, &sqltokenstore.Options{Table: "my_tokens"})
	require.Zero(t, count(t, db, "my_tokens"))
}

// DDL returns exactly what CreateTables runs: applied by hand (as a
// migration tool would), the store works and CreateTables finds nothing to
// do.
func TestDDL(t *testing.T) {
	_, err := sqltokenstore.DDL(nil)
	require.ErrorContains(t, err, "sqltokenstore: DDL needs Options.Dialect set to SQLite or Postgres")
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t)
			ddl, err := sqltokenstore.DDL(&sqltokenstore.Options{Dialect: b.dialect, Table: "app_tokens"})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(ddl, "CREATE TABLE IF NOT EXISTS app_tokens ("), ddl)
			blob := map[pii.Dialect]string{pii.SQLite: "BLOB", pii.Postgres: "BYTEA"}[b.dialect]
			require.Contains(t, ddl, "lookup "+blob+" NOT NULL")
			stmts := strings.Split(strings.TrimSuffix(ddl, ";\n"), ";\n")
			require.Len(t, stmts, 4)
			for _, q := range stmts {
				_, err := db.ExecContext(ctx, q)
				require.NoError(t, err, q)
			}
			st, err := sqltokenstore.New(db, &sqltokenstore.Options{Dialect: b.dialect, Table: "app_tokens"})
			require.NoError(t, err)
			tk, err := tokenize.New(testRoot, &tokenize.Options{Store: st})
			require.NoError(t, err)
			s := tokenize.Scope{Tenant: "acme", Field: "Customer.Card"}
			tok, err := tk.Tokenize(ctx, tokenize.MethodStored, s, tokenize.Card{}, "4111111111111111")
			require.NoError(t, err)
			require.NoError(t, st.CreateTables(ctx), "nothing left to create")
			v, err := tk.Detokenize(ctx, tokenize.MethodStored, s, tokenize.Card{}, tok)
			require.NoError(t, err)
			require.Equal(t, "4111111111111111", v)
		})
	}
}

func TestSchemaQualifiedTable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) tokenize.TokenStore
	}{
		{"sqlite", func(t *testing.T) tokenize.TokenStore {
			db := testdb.SQLite(t)
			st := newStore(t, db, &sqltokenstore.Options{Dialect: pii.SQLite, Table: "main.app_tokens"})
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('app_tokens_lookup', 'app_tokens_subject', 'app_tokens_expires')`).Scan(&n))
			require.Equal(t, 3, n)
			return st
		}},
		{"postgres", func(t *testing.T) tokenize.TokenStore {
			db, _ := testdb.Postgres(t)
			var schema string
			require.NoError(t, db.QueryRow(`SELECT current_schema()`).Scan(&schema))
			st := newStore(t, db, &sqltokenstore.Options{Dialect: pii.Postgres, Table: schema + ".app_tokens"})
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname IN ('app_tokens_lookup', 'app_tokens_subject', 'app_tokens_expires')`, schema).Scan(&n))
			require.Equal(t, 3, n)
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			tk, err := tokenize.New(testRoot, &tokenize.Options{Store: st})
			require.NoError(t, err)
			s := tokenize.Scope{Tenant: "acme", Field: "Customer.Card", Subject: "c-1"}
			tok, err := tk.Tokenize(ctx, tokenize.MethodStored, s, tokenize.Card{}, "4111111111111111")
			require.NoError(t, err)
			v, err := tk.Detokenize(ctx, tokenize.MethodStored, s, tokenize.Card{}, tok)
			require.NoError(t, err)
			require.Equal(t, "4111111111111111", v)
		})
	}
}

// CreateTables under a caller's transaction (pii.WithExecutor) runs in it:
// rolled back, it leaves no table; outside one it commits its own.
func TestCreateTablesJoinsTransaction(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t)
			st, err := sqltokenstore.New(db, &sqltokenstore.Options{Table: "joined_tokens"})
			require.NoError(t, err)
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			require.NoError(t, st.CreateTables(pii.WithExecutor(ctx, tx)))
			var n int
			require.NoError(t, tx.QueryRow(`SELECT count(*) FROM joined_tokens`).Scan(&n), "the transaction sees its table")
			require.NoError(t, tx.Rollback())
			require.Error(t, db.QueryRow(`SELECT count(*) FROM joined_tokens`).Scan(&n), "rolled back with the transaction")

			require.NoError(t, st.CreateTables(ctx))
			require.Zero(t, count(t, db, "joined_tokens"))
		})
	}
}
