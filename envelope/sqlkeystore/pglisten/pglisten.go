// Package pglisten delivers the forgets of a PostgreSQL key store
// (sqlkeystore) to a Sealer as they commit, so that every process sharing
// the key store stops using a forgotten subject's keys within
// milliseconds rather than within Cache.ShredCheck, and reads no key row
// to confirm its cached keys while it keeps up.
//
//	keys, _ := sqlkeystore.New(db, nil)                    // db: PostgreSQL
//	sealer, _ := envelope.New(kp, &envelope.Options{Store: keys})
//	go func() {
//		err := pglisten.Follow(ctx, sealer, dsn, nil)      // dsn: the same database; until ctx is done
//		...
//	}()
//
// sqlkeystore's Forget runs pg_notify(channel, bucket) in its
// transaction (the notification is delivered when the forget commits,
// never for one that rolls back); the payload is the scope's bucket (one
// of 4096), not the tenant or the subject, since any role that can
// connect may LISTEN. Follow holds one connection of its own, opened with
// pgx from dsn (database/sql's pool cannot hold a LISTEN), and:
//
//   - LISTENs on the channel of the Sealer's key store (see sqlkeystore's
//     "Shred notifications"), then tells the Sealer it is listening;
//   - passes every notification's bucket to the Sealer, which drops its
//     cached keys of that bucket's subjects;
//   - every Options.Interval (200 ms), makes a round trip on the
//     connection and then tells the Sealer it is in sync up to the start
//     of the round trip before it: PostgreSQL delivers a listener's
//     pending notifications before it answers, and the one interval of
//     slack covers a NOTIFY whose signal raced the round trip. So a
//     Sealer that follows trusts its cache for at most about two
//     intervals past the last forget it could have missed;
//   - reconnects after a failure (backing off up to one second), and,
//     since forgets may have been missed meanwhile, tells the Sealer it
//     listens anew: keys cached before are confirmed by a read again.
//
// It is a library package that links pgx; a service on PostgreSQL with
// pgx as its driver compiles nothing new. Errors never contain the DSN.
package pglisten

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/shredfeed"
	_ "github.com/fieldguard/pii/envelope/sqlkeystore" // tells shredfeed its stores' channels
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configure Follow; nil means the defaults.
type Options struct {
	// Interval is how often the feed confirms it is in sync with a round
	// trip on its connection (default 200 ms). Keep it well under the
	// Sealers' Cache.ShredCheck: a Sealer trusts the feed for ShredCheck
	// past its last confirmation, and each confirmation vouches for what
	// was committed one Interval before it.
	Interval time.Duration
	// OnError, if set, is told of every connection failure before the
	// feed reconnects (for logs and metrics; the error holds no DSN).
	OnError func(error)
}

// feed delivers a key store's forgets from PostgreSQL LISTEN/NOTIFY.
type feed struct {
	cfg      *pgx.ConnConfig
	channel  string
	interval time.Duration
	onError  func(error)
}

// Follow delivers the forgets made by every process sharing sealer's key
// store, which must be a sqlkeystore store on PostgreSQL, to sealer as
// they commit, over a connection of its own made with dsn (a pgx
// connection string or URL naming the database the key store is on). Run
// it in a goroutine of its own, one per Sealer: it runs until ctx is done,
// then returns nil, reconnecting after every failure (Options.OnError
// hears of each). It returns an error at once for a key store that is not
// on PostgreSQL, a dsn it cannot parse, or a Sealer that already follows
// a feed. While it runs and keeps up, sealer reads no key row to confirm
// the keys it holds; when it stops, Cache.ShredCheck applies again.
func Follow(ctx context.Context, sealer *envelope.Sealer, dsn string, opts *Options) error {
	return followWith(ctx, sealer, dsn, opts, nil)
}

// followWith is Follow; watch, when not nil (tests), wraps what the feed
// reports to.
func followWith(ctx context.Context, sealer *envelope.Sealer, dsn string, opts *Options, watch func(shredfeed.Watcher) shredfeed.Watcher) error {
	if sealer == nil {
		return errors.New("pglisten: nil Sealer")
	}
	return shredfeed.Follow(ctx, sealer, func(ctx context.Context, store any, w shredfeed.Watcher) error {
		f, err := newFeed(store, dsn, opts)
		if err != nil {
			return err
		}
		if watch != nil {
			w = watch(w)
		}
		return f.follow(ctx, w)
	})
}

// newFeed returns the feed of the key store store (a Sealer's), which
// must be a sqlkeystore store on PostgreSQL, connecting with dsn.
func newFeed(store any, dsn string, opts *Options) (*feed, error) {
	ch := shredfeed.Channel(store)
	if ch == "" {
		return nil, errors.New("pglisten: the Sealer's key store is not a sqlkeystore store on PostgreSQL (SQLite has no notifications; Cache.ShredCheck bounds its shreds)")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pglisten: cannot parse the connection string") // its text may hold a password
	}
	f := &feed{cfg: cfg, channel: ch, interval: 200 * time.Millisecond}
	if opts != nil {
		if opts.Interval > 0 {
			f.interval = opts.Interval
		}
		f.onError = opts.OnError
	}
	return f, nil
}

// follow reports to w until ctx is done, then returns nil, reconnecting
// after every failure.
func (f *feed) follow(ctx context.Context, w shredfeed.Watcher) error {
	backoff := 50 * time.Millisecond
	for {
		err := f.session(ctx, w)
		if ctx.Err() != nil {
			return nil
		}
		if f.onError != nil {
			f.onError(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// sessionError says what ended a session without the driver's message,
// which may name the host, user and database.
func sessionError(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		return fmt.Errorf("pglisten: %s: server error SQLSTATE %s", op, pgErr.Code)
	case pgconn.Timeout(err):
		return fmt.Errorf("pglisten: %s: timeout", op)
	}
	return fmt.Errorf("pglisten: %s: connection failed", op)
}

// session listens on one connection until it fails or ctx is done.
func (f *feed) session(ctx context.Context, w shredfeed.Watcher) error {
	cfg := f.cfg.Copy()
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		if n.Channel != f.channel {
			return
		}
		// A payload that is not a bucket was not sent by sqlkeystore:
		// ignore it rather than let whoever can NOTIFY purge every cache
		// (the Sealer ignores numbers of 4096 and more, see
		// shredfeed.Watcher).
		b, err := strconv.ParseUint(n.Payload, 10, 16)
		if err != nil {
			return
		}
		w.Shredded(uint16(b))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return sessionError("connect", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{f.channel}.Sanitize()); err != nil {
		return sessionError("listen", err)
	}
	w.Listening()
	prev := time.Now()
	for {
		start := time.Now()
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			return sessionError("round trip", err)
		}
		w.Synced(prev)
		prev = start
		// Notifications are passed on as they arrive (OnNotification)
		// until the next round trip is due.
		due := start.Add(f.interval)
		for {
			wctx, cancel := context.WithDeadline(ctx, due)
			err := conn.PgConn().WaitForNotification(wctx)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				continue
			}
			if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
				break
			}
			return sessionError("wait", err)
		}
	}
}
