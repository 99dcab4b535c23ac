package pglisten

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/shredfeed"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

// signalWatcher tells the test when the feed listens.
type signalWatcher struct {
	shredfeed.Watcher
	listening chan struct{}
}

func (s signalWatcher) Listening() {
	s.Watcher.Listening()
	select {
	case s.listening <- struct{}{}:
	default:
	}
}

// TestFeedDeliversForgets: on PostgreSQL, a Sealer that follows the feed
// refuses a subject's keys once another process forgot the subject, with
// its own clock frozen so that only the notification can tell it; another
// subject's keys are untouched. After its connection is killed the feed
// reconnects, listens again and delivers the next forget.
func TestFeedDeliversForgets(t *testing.T) {
	db, url := testdb.Postgres(t)
	ctx := t.Context()
	keys, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: "r16_listen_keys"})
	require.NoError(t, err)
	require.NoError(t, keys.CreateTables(ctx))
	require.Equal(t, "r16_listen_keys_shred", shredfeed.Channel(keys))
	kp := testkp.New(nil)
	a, err := envelope.New(kp, &envelope.Options{Store: keys})
	require.NoError(t, err)
	frozen := piitest.NewClock(time.Now())
	b, err := envelope.New(kp, &envelope.Options{Store: keys, Clock: frozen})
	require.NoError(t, err)

	failures := make(chan error, 10)
	listening := make(chan struct{}, 1)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- followWith(fctx, b, url+"&application_name=r16_pglisten_test",
			&Options{Interval: 20 * time.Millisecond, OnError: func(err error) { failures <- err }},
			func(w shredfeed.Watcher) shredfeed.Watcher { return signalWatcher{w, listening} })
	}()
	<-listening

	alice := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r1", Subject: "alice"}
	bob := alice
	bob.Subject, bob.Record = "bob", "r2"
	ct, err := a.EncryptString(ctx, "alice's", alice)
	require.NoError(t, err)
	ctBob, err := a.EncryptString(ctx, "bob's", bob)
	require.NoError(t, err)
	_, err = b.DecryptString(ctx, ct, alice)
	require.NoError(t, err)
	_, err = b.DecryptString(ctx, ctBob, bob)
	require.NoError(t, err)

	start := time.Now()
	require.NoError(t, a.ForgetSubject(ctx, "acme", "alice"))
	for {
		_, err = b.DecryptString(ctx, ct, alice)
		if errors.Is(err, envelope.ErrShredded) {
			break
		}
		require.NoError(t, err)
		require.Less(t, time.Since(start), 30*time.Second, "the forget was never delivered") // a failsafe, not a bound
		time.Sleep(time.Millisecond)
	}
	t.Logf("delivered after %v", time.Since(start))
	_, err = b.DecryptString(ctx, ctBob, bob)
	require.NoError(t, err)

	// Kill the feed's connection: it reconnects and listens again.
	_, err = db.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'r16_pglisten_test'")
	require.NoError(t, err)
	require.Error(t, <-failures)
	<-listening
	_, err = b.DecryptString(ctx, ctBob, bob)
	require.NoError(t, err)
	start = time.Now()
	require.NoError(t, a.ForgetSubject(ctx, "acme", "bob"))
	for {
		_, err = b.DecryptString(ctx, ctBob, bob)
		if errors.Is(err, envelope.ErrShredded) {
			break
		}
		require.NoError(t, err)
		require.Less(t, time.Since(start), 30*time.Second, "the forget was never delivered after the reconnection")
		time.Sleep(time.Millisecond)
	}

	cancel()
	require.NoError(t, <-done)
}

// TestFollowRefuses: Follow returns at once, with an error, for a Sealer
// whose key store cannot notify (SQLite, memory), a nil Sealer, or a DSN
// it cannot parse (without quoting it).
func TestFollowRefuses(t *testing.T) {
	// A failsafe, not a bound: a Follow that did not refuse would run
	// until ctx is done and return nil.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	kp := testkp.New(nil)
	db := testdb.SQLite(t)
	keys, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.SQLite})
	require.NoError(t, err)
	onSQLite, err := envelope.New(kp, &envelope.Options{Store: keys})
	require.NoError(t, err)
	require.ErrorContains(t, Follow(ctx, onSQLite, "postgres://u:pw@localhost/db", nil), "not a sqlkeystore store on PostgreSQL")
	inMemory, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	require.ErrorContains(t, Follow(ctx, inMemory, "postgres://u:pw@localhost/db", nil), "not a sqlkeystore store on PostgreSQL")
	require.Error(t, Follow(ctx, nil, "", nil))

	pdb, _ := testdb.Postgres(t)
	pkeys, err := sqlkeystore.New(pdb, &sqlkeystore.Options{Dialect: pii.Postgres})
	require.NoError(t, err)
	onPostgres, err := envelope.New(kp, &envelope.Options{Store: pkeys})
	require.NoError(t, err)
	err = Follow(ctx, onPostgres, "postgres://user:s3cret-pass@[::1", nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pass")
}
