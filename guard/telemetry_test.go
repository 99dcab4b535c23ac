package guard

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/fieldguard/pii/internal/telemetry/telemetrytest"
)

// TestRotateSpan: Rotate runs in a pii.guard.rotate span (on the global
// TracerProvider), under which the Sealer's rotation spans report.
func TestRotateSpan(t *testing.T) {
	rec := telemetrytest.New(t)
	otel.SetTracerProvider(rec.TracerProvider)
	t.Cleanup(func() { otel.SetTracerProvider(tracenoop.NewTracerProvider()) })
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		seedRotation(t, f)
		require.NoError(t, f.g.Rotate(context.Background(), nil))
	})
	spans := rec.Spans("pii.guard.rotate")
	require.NotEmpty(t, spans)
	for _, s := range spans {
		require.Empty(t, s.Status().Description)
	}
}
