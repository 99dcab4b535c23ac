package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
	"github.com/fieldguard/pii/retention/storetest"
)

// TestConformance runs the public conformance suite (retention/storetest)
// against Table, Holds and the pending shreds table, on SQLite and
// PostgreSQL.
func TestConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ts := "TIMESTAMP"
			if b.pg {
				ts = "TIMESTAMPTZ"
			}
			storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) (retention.Store, storetest.PutFunc) {
				ctx := context.Background()
				db, _ := b.open(t)
				_, err := db.ExecContext(ctx, `CREATE TABLE record (tenant TEXT NOT NULL, id TEXT NOT NULL, subject TEXT NOT NULL,
					email TEXT, phone TEXT, seen `+ts+`, created_at `+ts+` NOT NULL, PRIMARY KEY (tenant, id))`)
				require.NoError(t, err)
				st, err := sqlstore.New(db, &storetest.Record{}, nil)
				require.NoError(t, err)
				ledger, err := sqlstore.NewLedger(db, nil) // the one st appends to
				require.NoError(t, err)
				require.NoError(t, ledger.CreateTables(ctx))
				q := "INSERT INTO record (tenant, id, subject, email, phone, seen, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
				if b.pg {
					q = "INSERT INTO record (tenant, id, subject, email, phone, seen, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
				}
				return st, func(r *storetest.Record, created time.Time) error {
					var seen any
					if !r.Seen.IsZero() {
						seen = r.Seen.UTC()
					}
					_, err := db.ExecContext(ctx, q, r.Tenant, r.ID, r.Subject, r.Email, r.Phone, seen, created.UTC())
					return err
				}
			}, NewHolds: func(t *testing.T) retention.Holds {
				db, _ := b.open(t)
				createTables(t, db, nil)
				h, err := sqlstore.NewHolds(db, nil)
				require.NoError(t, err)
				return h
			}})
		})
	}
}
