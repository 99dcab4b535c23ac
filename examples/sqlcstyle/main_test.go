package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, t.TempDir()))
	require.Equal(t, `stored name is sealed: true
opened: Ada Lovelace <ada@example.com>, plan gold
card without a permit stays a token: true
card for billing: 4111111111111111
found by e-mail in acme: c1 (Ada Lovelace)
`, out.String())
}
