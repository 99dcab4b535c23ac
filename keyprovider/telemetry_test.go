package keyprovider_test

import (
	"testing"

	"github.com/fieldguard/pii/internal/telemetry/telemetrytest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// TestClientTelemetry: every call is counted and timed by backend,
// operation and error class, inside a client span; no key, wrapped byte
// or associated data reaches the telemetry.
func TestClientTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	f := newFaultyKP(t, "projects/p/keys/secret-key-name")
	opts := fastOpts()
	opts.MeterProvider, opts.TracerProvider = rec.MeterProvider, rec.TracerProvider
	c := keyprovider.NewClient(f, opts)
	dk := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("associated-data-subject-alice")
	f.inject(unavailable()) // one retried attempt: still one call
	w, _, err := c.Wrap(t.Context(), dk, ad)
	require.NoError(t, err)
	_, err = c.Unwrap(t.Context(), w, ad)
	require.NoError(t, err)
	_, err = c.Unwrap(t.Context(), w, []byte("wrong"))
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)

	tests := []struct {
		metric string
		attrs  map[string]string
		want   float64
	}{
		{"pii.kms.calls", map[string]string{"pii.kms.backend": "keyprovider_test", "pii.kms.operation": "wrap"}, 1},
		{"pii.kms.calls", map[string]string{"pii.kms.operation": "unwrap"}, 2},
		{"pii.kms.calls", map[string]string{"pii.kms.operation": "unwrap", "error.type": "authentication"}, 1},
		{"pii.kms.call.duration", map[string]string{"pii.kms.operation": "wrap"}, 1},
		{"pii.kms.call.duration", map[string]string{"pii.kms.operation": "unwrap", "error.type": "authentication"}, 1},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, rec.Sum(t, tt.metric, tt.attrs), "%s %v", tt.metric, tt.attrs)
	}
	for _, p := range rec.Collect(t) {
		if p.Metric == "pii.kms.calls" && p.Attrs["pii.kms.operation"] == "wrap" {
			require.NotContains(t, p.Attrs, "error.type", "a call that succeeded after a retry is a success")
		}
	}

	wraps := rec.Spans("pii.kms.wrap")
	require.Len(t, wraps, 1)
	require.Equal(t, trace.SpanKindClient, wraps[0].SpanKind())
	require.Equal(t, map[string]string{"pii.kms.backend": "keyprovider_test", "pii.kms.operation": "wrap"}, telemetrytest.SpanAttrs(wraps[0]))
	unwraps := rec.Spans("pii.kms.unwrap")
	require.Len(t, unwraps, 2)
	require.Equal(t, "authentication", telemetrytest.SpanAttrs(unwraps[1])["error.type"])
	require.Equal(t, "authentication", unwraps[1].Status().Description)

	rec.RequireClean(t, string(dk), string(ad), "secret-key-name", string(w[:8]))
}
