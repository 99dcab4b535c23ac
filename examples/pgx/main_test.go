package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/testdb"
)

// TestRun runs the example against PostgreSQL (PII_POSTGRES_URL; skipped
// without it, failed under CI=true) in a schema of its own.
func TestRun(t *testing.T) {
	_, url := testdb.Postgres(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, url, t.TempDir()))
	require.Equal(t, `stored name is sealed: true
opened for billing: Ada Lovelace <ada@example.com>, card 4111111111111111
found by e-mail in acme: c1 (Ada Lovelace)
`, out.String())
}
