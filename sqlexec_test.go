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
	require.Nil(t, pii.ExecutorFrom(ctx, nil))

	tx := &sql.Tx{}
	txctx := pii.WithExecutor(ctx, tx)
	require.Same(t, tx, pii.ExecutorFrom(txctx, def))
	require.NotNil(t, pii.ExecutorFrom(txctx, nil))

	// A nil interface is no executor.
	nilctx := pii.WithExecutor(ctx, nil)
	require.Same(t, def, pii.ExecutorFrom(nilctx, def))
	require.Nil(t, pii.ExecutorFrom(nilctx, nil))
}
