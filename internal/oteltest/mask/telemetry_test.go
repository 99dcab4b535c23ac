// Package mask_test holds mask's OpenTelemetry tests, which need the SDK
// and so live in this nested module.
package mask_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fieldguard/pii/internal/oteltest"
	"github.com/fieldguard/pii/mask"
	"github.com/stretchr/testify/require"
)

// Customer is mask's example struct (mask/example_test.go): the metrics
// name its type.
type Customer struct {
	ID        string    `pii:"id"`
	Name      string    `pii:"name,mask=initials"`
	Email     string    `pii:"email,mask=email,reveal=supervisor,log=mask"`
	Phone     string    `pii:"phone,reveal=supervisor"`
	Card      string    `pii:"card,mask=card,reveal=fraud"`
	BirthDate time.Time `pii:"dob,mask=date"`
	Plan      string    `pii:"-"`
}

// TestMaskTelemetry: findings are counted by kind, channel refusals by
// channel and kind, audited reveal attempts by event, role, channel, type
// and category; no value, viewer or record id appears.
func TestMaskTelemetry(t *testing.T) {
	rec := oteltest.New(t)
	ctx := context.Background()
	msg := "card 4111 1111 1111 1111, mail ada@example.com, again bob@example.org"
	fs := mask.Scan(msg, &mask.ScanOptions{MeterProvider: rec.MeterProvider})
	require.Len(t, fs, 3)
	err := mask.Check(msg, mask.ChannelPublicSocial, &mask.ScanOptions{MeterProvider: rec.MeterProvider})
	var ce *mask.ChannelError
	require.ErrorAs(t, err, &ce)

	failing := false
	views, err := mask.NewViews(&mask.ViewsOptions{
		MeterProvider: rec.MeterProvider,
		Audit: auditFunc(func(context.Context, mask.AuditEvent) error {
			if failing {
				return errors.New("audit store down")
			}
			return nil
		}),
	})
	require.NoError(t, err)
	c := &Customer{ID: "cus_42", Email: "ada@example.com"}
	_, err = views.Reveal(ctx, mask.Viewer{ID: "agent-7", Role: "agent", Channel: mask.ChannelSecureChat}, c, "Email", "curious")
	require.ErrorIs(t, err, mask.ErrDenied)
	v, err := views.Reveal(ctx, mask.Viewer{ID: "sup-1", Role: "supervisor", Channel: mask.ChannelSecureChat}, c, "Email", "customer asked")
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", v)
	failing = true
	_, err = views.Reveal(ctx, mask.Viewer{ID: "sup-1", Role: "supervisor", Channel: mask.ChannelSecureChat}, c, "Email", "again")
	require.Error(t, err)

	for _, tt := range []struct {
		metric string
		attrs  map[string]string
		want   float64
	}{
		{"pii.mask.scan.findings", map[string]string{"pii.mask.kind": "email"}, 4}, // Scan, then Check's scan
		{"pii.mask.scan.findings", map[string]string{"pii.mask.kind": "card"}, 2},
		{"pii.mask.channel.refusals", map[string]string{"pii.mask.channel": "public_social", "pii.mask.kind": "card"}, 1},
		{"pii.mask.channel.refusals", map[string]string{"pii.mask.kind": "email"}, 1},
		{"pii.mask.reveals", map[string]string{"pii.mask.event": "reveal_denied", "pii.mask.role": "agent", "pii.mask.channel": "secure_chat", "pii.type": "Customer", "pii.category": "email"}, 1},
		{"pii.mask.reveals", map[string]string{"pii.mask.event": "reveal", "pii.mask.role": "supervisor"}, 2},
		{"pii.mask.reveals", map[string]string{"pii.mask.event": "reveal", "error.type": "audit_failed"}, 1},
	} {
		require.Equal(t, tt.want, rec.Sum(t, tt.metric, tt.attrs), "%s %v", tt.metric, tt.attrs)
	}
	rec.RequireClean(t, "4111", "ada@", "bob@", "agent-7", "sup-1", "cus_42", "curious", "customer asked")
}

// auditFunc adapts a function to mask.AuditSink.
type auditFunc func(ctx context.Context, ev mask.AuditEvent) error

func (f auditFunc) Audit(ctx context.Context, ev mask.AuditEvent) error { return f(ctx, ev) }
