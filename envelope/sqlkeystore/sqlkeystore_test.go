package sqlkeystore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/envelope/keystoretest"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

func newSQLite(t *testing.T) (*sql.DB, *sqlkeystore.Store) {
	db := testdb.SQLite(t)
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.SQLite})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(context.Background()))
	require.NoError(t, st.CreateTables(context.Background()), "CreateTables is idempotent")
	return db, st
}

func newPostgres(t *testing.T, table string) (*sql.DB, *sqlkeystore.Store) {
	db, _ := testdb.Postgres(t)
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: table})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(context.Background()))
	return db, st
}

func TestSQLiteConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
		_, st := newSQLite(t)
		return st
	})
}

func TestPostgresConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
		_, st := newPostgres(t, "envelope_keys")
		return st
	})
}

// onConn runs every call of a Store on the executor its context names, as
// pii.WithExecutor lets an application do: reads and writes must go
// through it (Forget in a transaction begun on it).
type onConn struct {
	*sqlkeystore.Store
	conn pii.Executor
}

func (c onConn) ctx(ctx context.Context) context.Context { return pii.WithExecutor(ctx, c.conn) }

func (c onConn) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	return c.Store.Get(c.ctx(ctx), ref)
}

func (c onConn) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	return c.Store.Latest(c.ctx(ctx), kind, tenant, scope)
}

func (c onConn) Insert(ctx context.Context, rec envelope.Record) (envelope.Record, bool, error) {
	return c.Store.Insert(c.ctx(ctx), rec)
}

func (c onConn) GetMany(ctx context.Context, refs []envelope.KeyRef) ([]envelope.Record, error) {
	return c.Store.GetMany(c.ctx(ctx), refs)
}

func (c onConn) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	return c.Store.LatestMany(c.ctx(ctx), scopes)
}

func (c onConn) InsertMany(ctx context.Context, recs []envelope.Record) ([]envelope.Record, []bool, error) {
	return c.Store.InsertMany(c.ctx(ctx), recs)
}

func (c onConn) Replace(ctx context.Context, old, rec envelope.Record) error {
	return c.Store.Replace(c.ctx(ctx), old, rec)
}

func (c onConn) Reserve(ctx context.Context, ref envelope.KeyRef, n, limit uint64) (uint64, error) {
	return c.Store.Reserve(c.ctx(ctx), ref, n, limit)
}

func (c onConn) Forget(ctx context.Context, tenant, scope string) (int, error) {
	return c.Store.Forget(c.ctx(ctx), tenant, scope)
}

func (c onConn) List(ctx context.Context, kind envelope.Kind, after envelope.KeyRef, limit int) ([]envelope.Record, error) {
	return c.Store.List(c.ctx(ctx), kind, after, limit)
}

// TestConformanceThroughExecutor: the Store passes the suite with every
// call on another database than its own *sql.DB, named by the context:
// had any statement gone to its own db, the rows would be missing there.
// Then the same on a *sql.Conn (one goroutine: a connection serves one
// statement at a time), Forget included, which begins its transaction on
// the connection.
func TestConformanceThroughExecutor(t *testing.T) {
	open := func(t *testing.T, dialect string) (other *sql.DB, st *sqlkeystore.Store) {
		if dialect == "sqlite" {
			other, _ = newSQLite(t)
			_, st = newSQLite(t)
		} else {
			other, _ = newPostgres(t, "pii_keys")
			_, st = newPostgres(t, "pii_keys")
		}
		return other, st
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
				other, st := open(t, dialect)
				return onConn{st, other}
			})
			t.Run("Conn", func(t *testing.T) {
				ctx := context.Background()
				other, st := open(t, dialect)
				conn, err := other.Conn(ctx)
				require.NoError(t, err)
				defer conn.Close()
				c := onConn{st, conn}
				ref := envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:alice", ID: 3}
				_, inserted, err := c.Insert(ctx, envelope.Record{KeyRef: ref, Wrapped: []byte("w")})
				require.NoError(t, err)
				require.True(t, inserted)
				_, err = st.Get(ctx, ref)
				require.ErrorIs(t, err, envelope.ErrNotFound, "not in the Store's own database")
				n, err := c.Forget(ctx, "acme", "s:alice")
				require.NoError(t, err)
				require.Equal(t, 1, n)
				tomb, err := c.Latest(ctx, envelope.KindTombstone, "acme", "s:alice")
				require.NoError(t, err)
				require.Equal(t, uint32(3), tomb.ID)
				_, err = c.Get(ctx, ref)
				require.ErrorIs(t, err, envelope.ErrNotFound)
			})
		})
	}
}

// TestPostgresSchemaQualifiedTable: a schema-qualified table name works
// end to end (the shared validator accepts schema.table).
func TestPostgresSchemaQualifiedTable(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
		db, url := testdb.Postgres(t)
		_, schema, ok := strings.Cut(url, "search_path=")
		require.True(t, ok)
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: schema + ".pii_keys"})
		require.NoError(t, err)
		require.NoError(t, st.CreateTables(context.Background()))
		return st
	})
}

func TestTableNames(t *testing.T) {
	db := testdb.SQLite(t)
	_, err := sqlkeystore.New(nil, nil)
	require.EqualError(t, err, "sqlkeystore: nil db")
	for _, name := range []string{"a;drop", "1abc", "a.b.c", "x y", "a.", ".a", `"keys"`, strings.Repeat("k", 64)} {
		_, err := sqlkeystore.New(db, &sqlkeystore.Options{Table: name})
		require.ErrorContains(t, err, "sqlkeystore: invalid key table name", name)
		require.ErrorContains(t, err, "letters, digits and underscores", name)
		_, err = sqlkeystore.DDL(&sqlkeystore.Options{Dialect: pii.SQLite, Table: name})
		require.ErrorContains(t, err, "sqlkeystore: invalid key table name", name)
	}
	for _, name := range []string{"keys", "app_keys", "main.pii_keys"} {
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Table: name})
		require.NoError(t, err, name)
		require.NoError(t, st.CreateTables(context.Background()), name)
	}
}

// TestDDL: DDL needs an explicit dialect and returns what CreateTables
// runs: a database migrated with it serves a Store, and CreateTables on
// it changes nothing.
func TestDDL(t *testing.T) {
	for _, o := range []*sqlkeystore.Options{nil, {}, {Dialect: pii.Dialect(0)}, {Dialect: 9}} {
		ddl, err := sqlkeystore.DDL(o)
		require.ErrorContains(t, err, "sqlkeystore: DDL needs Options.Dialect set to SQLite or Postgres")
		require.Empty(t, ddl)
	}
	sqliteDDL, err := sqlkeystore.DDL(&sqlkeystore.Options{Dialect: pii.SQLite, Table: "keys"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sqliteDDL, "CREATE TABLE IF NOT EXISTS keys (\n"), sqliteDDL)
	require.True(t, strings.HasSuffix(sqliteDDL, ");\n"), sqliteDDL)
	require.Contains(t, sqliteDDL, "wrapped BLOB NOT NULL")
	pgDDL, err := sqlkeystore.DDL(&sqlkeystore.Options{Dialect: pii.Postgres, Table: "app.keys"})
	require.NoError(t, err)
	require.Contains(t, pgDDL, "CREATE TABLE IF NOT EXISTS app.keys (")
	require.Contains(t, pgDDL, `kind TEXT COLLATE "C" NOT NULL`)
	require.Contains(t, pgDDL, "wrapped BYTEA NOT NULL")

	migrate := func(t *testing.T, db *sql.DB, d pii.Dialect) {
		ctx := context.Background()
		ddl, err := sqlkeystore.DDL(&sqlkeystore.Options{Dialect: d})
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, ddl)
		require.NoError(t, err)
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d})
		require.NoError(t, err)
		require.NoError(t, st.CreateTables(ctx))
		s, err := envelope.New(testkp.New(nil), &envelope.Options{Store: st})
		require.NoError(t, err)
		b := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r", Subject: "alice"}
		ct, err := s.EncryptString(ctx, "v", b)
		require.NoError(t, err)
		pt, err := s.DecryptString(ctx, ct, b)
		require.NoError(t, err)
		require.Equal(t, "v", pt)
	}
	t.Run("sqlite", func(t *testing.T) { migrate(t, testdb.SQLite(t), pii.SQLite) })
	t.Run("postgres", func(t *testing.T) {
		db, _ := testdb.Postgres(t)
		migrate(t, db, pii.Postgres)
	})
}

// TestForgetAtomic: the delete and the tombstone commit together: when the
// tombstone cannot be written, Forget fails and the DEKs are still there
// (on the Store's own database, and on a connection the context names).
func TestForgetAtomic(t *testing.T) {
	ctx := context.Background()
	db, st := newSQLite(t)
	_, err := db.ExecContext(ctx, `CREATE TRIGGER no_tombstones BEFORE INSERT ON pii_keys
		WHEN NEW.kind = 'tombstone' BEGIN SELECT RAISE(ABORT, 'no tombstones here'); END`)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	for _, x := range []envelope.KeyStore{st, onConn{st, conn}} {
		ref := envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:alice", ID: 1}
		_, _, err := x.Insert(ctx, envelope.Record{KeyRef: ref, Wrapped: []byte("w")})
		require.NoError(t, err)
		_, err = x.Forget(ctx, "acme", "s:alice")
		require.ErrorContains(t, err, "no tombstones here")
		got, err := x.Get(ctx, ref)
		require.NoError(t, err, "the delete rolled back with the failed tombstone")
		require.Equal(t, "w", string(got.Wrapped))
	}
}

// CreateTables under a caller's transaction (pii.WithExecutor) runs in it:
// rolled back, it leaves no table; outside one it runs on the *sql.DB.
func TestCreateTablesJoinsTransaction(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) *sql.DB
	}{
		{"sqlite", func(t *testing.T) *sql.DB { return testdb.SQLite(t) }},
		{"postgres", func(t *testing.T) *sql.DB { db, _ := testdb.Postgres(t); return db }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			db := b.open(t)
			st, err := sqlkeystore.New(db, &sqlkeystore.Options{Table: "joined_keys"})
			require.NoError(t, err)
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			require.NoError(t, st.CreateTables(pii.WithExecutor(ctx, tx)))
			var n int
			require.NoError(t, tx.QueryRow(`SELECT count(*) FROM joined_keys`).Scan(&n), "the transaction sees its table")
			require.NoError(t, tx.Rollback())
			require.Error(t, db.QueryRow(`SELECT count(*) FROM joined_keys`).Scan(&n), "rolled back with the transaction")

			require.NoError(t, st.CreateTables(ctx))
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM joined_keys`).Scan(&n))
			require.Zero(t, n)
		})
	}
}
