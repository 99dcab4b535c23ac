package sqlkeystore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope/internal/shredfeed"
)

// Shred notifications (PostgreSQL): Forget runs pg_notify(channel, bucket)
// in its transaction, so the notification is delivered exactly when the
// forget commits (and never for one that rolls back). The payload is the
// scope's bucket (internal/shredfeed.Bucket: one of 4096) in decimal,
// never the tenant or the subject: any role that can connect to the
// database may LISTEN. envelope/sqlkeystore/pglisten delivers them to a
// Sealer.

const defaultChannelSuffix = "_shred"

// shredChannel names the notification channel of a key table: the table
// name (as configured, schema included) with "_shred", or, when that
// would pass PostgreSQL's 63-byte limit on names, "pii_shred_" and a hash
// of it.
func shredChannel(table string) string {
	if table == "" {
		table = defaultTable
	}
	if c := table + defaultChannelSuffix; len(c) <= 63 {
		return c
	}
	sum := sha256.Sum256([]byte(table))
	return "pii_shred_" + hex.EncodeToString(sum[:12])
}

// The channel of a store, for pglisten: "" on SQLite, which has no
// notifications. Stores on the same table share it.
func init() {
	shredfeed.Channel = func(store any) string {
		if s, ok := store.(*Store); ok && s != nil {
			return s.channel
		}
		return ""
	}
}

func (s *Store) notify(ctx context.Context, ex pii.Executor, tenant, scope string) error {
	if s.channel == "" {
		return nil
	}
	_, err := ex.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.channel, strconv.Itoa(int(shredfeed.Bucket(tenant, scope))))
	return err
}
