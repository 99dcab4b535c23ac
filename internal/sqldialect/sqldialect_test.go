package sqldialect_test

import (
	"database/sql"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/testdb"
)

type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return nil, driver.ErrBadConn }

func init() { sql.Register("sqldialect-other", otherDriver{}) }

func TestResolve(t *testing.T) {
	d, err := sqldialect.Resolve(testdb.SQLite(t), 0)
	require.NoError(t, err)
	require.Equal(t, sqldialect.SQLite, d)

	pg, err := sql.Open("pgx", "postgres://127.0.0.1:1/none")
	require.NoError(t, err)
	defer pg.Close()
	d, err = sqldialect.Resolve(pg, 0)
	require.NoError(t, err)
	require.Equal(t, sqldialect.Postgres, d)

	// Explicit values win and need no database.
	d, err = sqldialect.Resolve(nil, pii.Postgres)
	require.NoError(t, err)
	require.Equal(t, sqldialect.Postgres, d)

	other, err := sql.Open("sqldialect-other", "")
	require.NoError(t, err)
	_, err = sqldialect.Resolve(other, 0)
	require.ErrorContains(t, err, "set it explicitly")
	_, err = sqldialect.Resolve(other, pii.Dialect(9))
	require.ErrorContains(t, err, "unknown SQL dialect Dialect(9)")
	_, err = sqldialect.Resolve(nil, 0)
	require.Error(t, err)
}

func TestPlaceholders(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c > ? LIMIT ?"
	require.Equal(t, q, sqldialect.SQLite.Rebind(q))
	require.Equal(t, "SELECT a FROM t WHERE b = $1 AND c > $2 LIMIT $3", sqldialect.Postgres.Rebind(q))
	require.Equal(t, "?", sqldialect.SQLite.Placeholder(7))
	require.Equal(t, "$7", sqldialect.Postgres.Placeholder(7))
	require.Equal(t, "postgres", sqldialect.Postgres.String())
}

func TestIdentifiers(t *testing.T) {
	for _, ok := range []string{"pii_keys", "app.retention_ledger", "_t", "T1", "a_b.c_d"} {
		require.NoError(t, sqldialect.ValidTable("table", ok), ok)
	}
	for _, bad := range []string{"", "1t", "a.b.c", "a.", ".a", "a-b", "a b", "t;drop", `"t"`, "é", "a.1b",
		"x234567890123456789012345678901234567890123456789012345678901234"} {
		err := sqldialect.ValidTable("ledger table", bad)
		require.Error(t, err, bad)
		require.ErrorContains(t, err, "ledger table")
		require.ErrorContains(t, err, "letters, digits and underscores")
	}
	require.NoError(t, sqldialect.ValidColumn("column", "tenant_id"))
	require.Error(t, sqldialect.ValidColumn("column", "app.tenant"))
	require.Equal(t, "ledger", sqldialect.BaseName("app.ledger"))
	require.Equal(t, "ledger", sqldialect.BaseName("ledger"))
}
