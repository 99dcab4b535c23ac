package guard

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/sqltokenstore"
)

// handParts are the Sealer and Tokenizer an application wires by hand
// without a Guard, for BenchmarkHandInsertGet: keys and stored tokens in
// the same database, as a Guard keeps them.
type handParts struct {
	s   *envelope.Sealer
	tok *tokenize.Tokenizer
}

func newHandParts(t testing.TB, db *sql.DB) *handParts {
	ctx := context.Background()
	ks, err := sqlkeystore.New(db, &sqlkeystore.Options{Table: "hand_keys"})
	require.NoError(t, err)
	require.NoError(t, ks.CreateTables(ctx))
	s, err := envelope.New(testKP(t), &envelope.Options{Store: ks})
	require.NoError(t, err)
	ts, err := sqltokenstore.New(db, &sqltokenstore.Options{Table: "hand_tokens"})
	require.NoError(t, err)
	require.NoError(t, ts.CreateTables(ctx))
	tok, err := tokenize.New(tokenize.GenerateRootKey(), &tokenize.Options{Store: ts})
	require.NoError(t, err)
	return &handParts{s: s, tok: tok}
}

// newTestGuard returns a Guard on db with a test key provider, its tables
// created.
func newTestGuard(t testing.TB, db *sql.DB) *Guard {
	t.Helper()
	g, err := New(testKP(t), db, nil)
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(context.Background()))
	return g
}
