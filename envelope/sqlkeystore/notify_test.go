package sqlkeystore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/shredfeed"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestForgetNotifies: on PostgreSQL, Forget notifies the store's channel
// with the scope's shred bucket when it commits, and not when the
// caller's transaction rolls back (the first notification a listener
// gets is the committed one's, though the rolled-back forget ran first).
// The payload names no tenant or subject.
func TestForgetNotifies(t *testing.T) {
	db, url := testdb.Postgres(t)
	// A failsafe, not a bound: a notification on another channel would
	// never arrive.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: "r16_notify_keys"})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(ctx))
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{shredfeed.Channel(st)}.Sanitize())
	require.NoError(t, err)

	rolled, committed := "s:rolled-back", "s:committed"
	require.NotEqual(t, shredfeed.Bucket("acme", rolled), shredfeed.Bucket("acme", committed))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = st.Forget(pii.WithExecutor(ctx, tx), "acme", rolled)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	_, err = st.Forget(ctx, "acme", committed)
	require.NoError(t, err)

	n, err := conn.WaitForNotification(ctx)
	require.NoError(t, err)
	require.Equal(t, shredfeed.Channel(st), n.Channel)
	require.Equal(t, strconv.Itoa(int(shredfeed.Bucket("acme", committed))), n.Payload)
	require.False(t, strings.Contains(n.Payload, "acme") || strings.Contains(n.Payload, "committed"))
}

// TestShredChannel: the channel is the table's name with "_shred", or a
// hash when that would pass PostgreSQL's 63-byte names; none on SQLite.
func TestShredChannel(t *testing.T) {
	db := testdb.SQLite(t) // New with an explicit dialect runs no SQL
	long := strings.Repeat("k", 60)
	for _, tt := range []struct {
		table, want string
	}{
		{"", "pii_keys_shred"},
		{"app.keys", "app.keys_shred"},
		{long, ""},
	} {
		st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: tt.table})
		require.NoError(t, err)
		got := shredfeed.Channel(st)
		require.LessOrEqual(t, len(got), 63)
		if tt.want != "" {
			require.Equal(t, tt.want, got)
		} else {
			require.True(t, strings.HasPrefix(got, "pii_shred_"), got)
			other, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: long[:59] + "j"})
			require.NoError(t, err)
			require.NotEqual(t, got, shredfeed.Channel(other))
		}
	}
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.SQLite})
	require.NoError(t, err)
	require.Empty(t, shredfeed.Channel(st), "SQLite has no notifications")
}
