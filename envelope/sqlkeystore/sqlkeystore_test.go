package sqlkeystore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/keystoretest"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

func TestSQLiteConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
		st, err := sqlkeystore.New(testdb.SQLite(t), &sqlkeystore.Options{Dialect: sqlkeystore.SQLite})
		require.NoError(t, err)
		require.NoError(t, st.CreateTable(context.Background()))
		require.NoError(t, st.CreateTable(context.Background()), "CreateTable is idempotent")
		return st
	})
}

func TestPostgresConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
		db, _ := testdb.Postgres(t)
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: sqlkeystore.Postgres, Table: "envelope_keys"})
		require.NoError(t, err)
		require.NoError(t, st.CreateTable(context.Background()))
		return st
	})
}

// TestPostgresSchemaQualifiedTable: a schema-qualified table name works
// end to end (the shared validator accepts schema.table).
func TestPostgresSchemaQualifiedTable(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
		db, url := testdb.Postgres(t)
		_, schema, ok := strings.Cut(url, "search_path=")
		require.True(t, ok)
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: sqlkeystore.Postgres, Table: schema + ".pii_keys"})
		require.NoError(t, err)
		require.NoError(t, st.CreateTable(context.Background()))
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
	}
	for _, name := range []string{"keys", "app_keys", "main.pii_keys"} {
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Table: name})
		require.NoError(t, err, name)
		require.NoError(t, st.CreateTable(context.Background()), name)
	}
}
