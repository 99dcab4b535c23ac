package sqlkeystore_test

import (
	"context"
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

func TestNewRejectsBadTable(t *testing.T) {
	for _, name := range []string{"", "a;drop", "1abc", "a.b.c", "x y"} {
		if name == "" {
			continue
		}
		_, err := sqlkeystore.New(nil, nil)
		require.Error(t, err)
		db := testdb.SQLite(t)
		_, err = sqlkeystore.New(db, &sqlkeystore.Options{Table: name})
		require.Error(t, err, name)
	}
}
