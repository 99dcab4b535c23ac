package tokenize

import (
	"context"
	"database/sql"
	"testing"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

func TestVaultSQLite(t *testing.T) {
	testVault(t, func(t *testing.T) TokenStore {
		return newSQLTestStore(t, testdb.SQLite(t), DialectSQLite)
	})
}

func TestVaultPostgres(t *testing.T) {
	testVault(t, func(t *testing.T) TokenStore {
		db, _ := testdb.Postgres(t)
		return newSQLTestStore(t, db, DialectPostgres)
	})
}

func newSQLTestStore(t *testing.T, db *sql.DB, d Dialect) *SQLStore {
	t.Helper()
	st, err := NewSQLStore(db, d, nil)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	require.NoError(t, st.Migrate(context.Background()), "Migrate is idempotent")
	return st
}

func TestSQLStoreOptions(t *testing.T) {
	db := testdb.SQLite(t)
	_, err := NewSQLStore(db, Dialect(9), nil)
	require.ErrorContains(t, err, "tokenize: unknown SQL dialect")
	st, err := NewSQLStore(db, DialectDetect, nil)
	require.NoError(t, err)
	require.Equal(t, DialectSQLite, st.dialect, "detected from the driver")
	_, err = NewSQLStore(db, DialectSQLite, &SQLStoreOptions{Table: "x; DROP TABLE y"})
	require.Error(t, err)
	st, err = NewSQLStore(db, DialectSQLite, &SQLStoreOptions{Table: "my_tokens"})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM my_tokens`).Scan(&n))
	require.Zero(t, n)
}
