package pii_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
)

func TestExecutorFrom(t *testing.T) {
	ctx := context.Background()
	def := &sql.DB{}
	require.Same(t, def, pii.ExecutorFrom(ctx, def))
	require.False(t, pii.InExecutor(ctx))

	tx := &sql.Tx{}
	txctx := pii.WithExecutor(ctx, tx)
	require.Same(t, tx, pii.ExecutorFrom(txctx, def))
	require.True(t, pii.InExecutor(txctx))

	// A nil interface is no executor.
	nilctx := pii.WithExecutor(ctx, nil)
	require.Same(t, def, pii.ExecutorFrom(nilctx, def))
	require.False(t, pii.InExecutor(nilctx))
}
