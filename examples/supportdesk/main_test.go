package main

import (
	"bytes"
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/testdb"
)

// TestRun runs the scenario on SQLite and on PostgreSQL (PII_POSTGRES_URL;
// skipped without it, failed under CI=true).
func TestRun(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sql.DB{
		"sqlite":   func(t *testing.T) *sql.DB { return testdb.SQLite(t) },
		"postgres": func(t *testing.T) *sql.DB { db, _ := testdb.Postgres(t); return db },
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			var out bytes.Buffer
			require.NoError(t, run(context.Background(), &out, db, t.TempDir()))
			require.Equal(t, `seeded 1000 customers and 2000 tickets in 2 tenants
lookup by e-mail in acme: acme/cust-0042
agent on direct_message: name "C. C.", e-mail "c***@example.com", phone "+44 ******0042"
agent on public_social: name "C. C.", e-mail "", phone ""
reply on a public post: false
reply in a direct message: true
supervisor reveals the phone: +44 20 7946 0042 (audit events: 1)
sweep Customer: 900 actions applied, 0 records deleted
sweep Ticket: 2000 actions applied, 2000 records deleted
forget acme/cust-0007: keys shredded true; acme name ""; globex name "Customer cust-0007"
access export for globex/cust-0007: 2 values
breach of acme's branch key: tenant acme, 499 subjects, categories [email free_text name]
KMS key rotated; old version disabled
verified: 1000 customers and 99 tickets open
`, out.String())
		})
	}
}
