// Package keyprovider_test holds keyprovider's OpenTelemetry tests, which
// need the SDK and so live in this nested module.
package keyprovider_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/internal/oteltest"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// faultyKP is an in-memory AES-GCM KeyProvider whose next calls can be
// made to fail (the part of keyprovider's own faultyKP these tests use).
// The client names its backend after this package: "keyprovider_test".
type faultyKP struct {
	name string
	aead cipher.AEAD

	mu     sync.Mutex
	faults []error // consumed one per call
}

func newFaultyKP(t testing.TB, name string) *faultyKP {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	b, err := aes.NewCipher(k)
	require.NoError(t, err)
	a, err := cipher.NewGCM(b)
	require.NoError(t, err)
	return &faultyKP{name: name, aead: a}
}

func (f *faultyKP) inject(errs ...error) {
	f.mu.Lock()
	f.faults = append(f.faults, errs...)
	f.mu.Unlock()
}

func (f *faultyKP) fault(ctx context.Context) error {
	f.mu.Lock()
	var err error
	if len(f.faults) > 0 {
		err, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if err == nil {
		return ctx.Err()
	}
	return err
}

func (f *faultyKP) Wrap(ctx context.Context, dk, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if err := f.fault(ctx); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	nonce := make([]byte, f.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return f.aead.Seal(nonce, nonce, dk, ad), keyprovider.KeyID{Key: f.name, Version: "1"}, nil
}

func (f *faultyKP) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	if err := f.fault(ctx); err != nil {
		return nil, err
	}
	if len(w) < f.aead.NonceSize() {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("faulty: short"))
	}
	pt, err := f.aead.Open(nil, w[:f.aead.NonceSize()], w[f.aead.NonceSize():], ad)
	if err != nil {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("faulty: open failed"))
	}
	return pt, nil
}

func unavailable() error {
	return keyprovider.Classify("wrap", keyprovider.ErrUnavailable, errors.New("faulty: 503"))
}

// fastOpts keeps backoff tiny so tests run quickly.
func fastOpts() *keyprovider.ClientOptions {
	return &keyprovider.ClientOptions{BaseBackoff: time.Microsecond, MaxBackoff: time.Millisecond}
}

// TestClientTelemetry: every call is counted and timed by backend,
// operation and error class, inside a client span; no key, wrapped byte
// or associated data reaches the telemetry.
func TestClientTelemetry(t *testing.T) {
	rec := oteltest.New(t)
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
	require.Equal(t, map[string]string{"pii.kms.backend": "keyprovider_test", "pii.kms.operation": "wrap"}, oteltest.SpanAttrs(wraps[0]))
	unwraps := rec.Spans("pii.kms.unwrap")
	require.Len(t, unwraps, 2)
	require.Equal(t, "authentication", oteltest.SpanAttrs(unwraps[1])["error.type"])
	require.Equal(t, "authentication", unwraps[1].Status().Description)

	rec.RequireClean(t, string(dk), string(ad), "secret-key-name", string(w[:8]))
}
