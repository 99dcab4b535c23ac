package mask

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestViewAnyIsViewOf(t *testing.T) {
	ctx := context.Background()
	v, err := NewViews(&ViewsOptions{Audit: auditFunc(func(context.Context, AuditEvent) error { return nil })})
	require.NoError(t, err)
	for _, viewer := range []Viewer{
		{ID: "a", Role: "agent", Channel: ChannelDirectMessage},
		{ID: "s", Role: "supervisor", Channel: ChannelSecureChat},
		{ID: "p", Role: "agent", Channel: ChannelPublicSocial},
	} {
		c := newCustomer()
		want, err := ViewOf(ctx, v, viewer, c)
		require.NoError(t, err)
		got, err := v.ViewAny(ctx, viewer, any(c))
		require.NoError(t, err)
		require.Equal(t, want, got.(*testCustomer))
		require.Equal(t, newCustomer(), c, "the original is untouched")
	}
	_, err = v.ViewAny(ctx, Viewer{}, testCustomer{})
	require.Error(t, err, "needs a pointer")
}
