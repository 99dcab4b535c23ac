package envelope_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/plaintextctx"
	"github.com/stretchr/testify/require"
)

// TestAcceptPlaintext: under a context from plaintextctx.With (guard's
// migration reads), Open lets plaintext through and counts it.
func TestAcceptPlaintext(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestSealerT(t)
	half := patron("p-1", "alice@example.com")
	require.NoError(t, s.Seal(ctx, half))
	half.Surname = "Liddell" // written in clear by code that predates the tags
	half.Street = "1 High St"

	require.ErrorIs(t, s.Open(ctx, &Patron{Tenant: "acme", ID: "x", Surname: "clear"}), envelope.ErrNotSealed)
	var n atomic.Int64
	var fields []string
	actx := plaintextctx.With(ctx, func(f *pii.Field) { n.Add(1); fields = append(fields, f.Path) })
	got := *half
	require.NoError(t, s.Open(actx, &got))
	require.Equal(t, int64(2), n.Load())
	require.Equal(t, []string{"Surname", "Street"}, fields)
	require.Equal(t, "Liddell", got.Surname)
	require.Equal(t, "alice@example.com", got.Email)
	require.NoError(t, s.Open(plaintextctx.With(ctx, nil), half))
}
