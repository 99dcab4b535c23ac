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
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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

// points returns every point of metric name.
func points(t *testing.T, rec *oteltest.Recorder, name string) []oteltest.Point {
	t.Helper()
	var out []oteltest.Point
	for _, p := range rec.Collect(t) {
		if p.Metric == name {
			out = append(out, p)
		}
	}
	return out
}

// point is a point of metric name with the client's backend and attrs.
func point(name string, value float64, attrs ...string) oteltest.Point {
	m := map[string]string{"pii.kms.backend": "keyprovider_test"}
	for i := 0; i < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	return oteltest.Point{Metric: name, Attrs: m, Value: value}
}

// events returns a span's events as "name key=value ...", attributes in
// order of their keys.
func events(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		set := attribute.NewSet(e.Attributes...)
		kvs := set.ToSlice()
		line := e.Name
		for _, kv := range kvs {
			line += " " + string(kv.Key) + "=" + kv.Value.Emit()
		}
		out = append(out, line)
	}
	return out
}

// subjectKEK names a KEK after a data subject, as a backend with a key
// per subject would: its id must not reach the telemetry.
const subjectKEK = "tenants/acme/subjects/alice-7f3a"

// TestClientAttemptTelemetry: every attempt is counted and timed by
// backend, operation and error class, and each failed one is an event on
// its call's span with its number; a call the breaker refuses makes no
// attempt. No attribute carries the key id or the backend's error text.
func TestClientAttemptTelemetry(t *testing.T) {
	rec := oteltest.New(t)
	f := newFaultyKP(t, subjectKEK)
	opts := fastOpts()
	opts.MeterProvider, opts.TracerProvider = rec.MeterProvider, rec.TracerProvider
	c := keyprovider.NewClient(f, opts)
	dk := []byte("0123456789abcdef0123456789abcdef")
	ad := []byte("associated-data-subject-alice")

	f.inject(unavailable(), unavailable()) // recovered at the third attempt
	w, _, err := c.Wrap(t.Context(), dk, ad)
	require.NoError(t, err)
	f.inject(unavailable(), unavailable(), unavailable()) // all three attempts fail
	_, err = c.Unwrap(t.Context(), w, ad)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	_, err = c.Unwrap(t.Context(), w, []byte("wrong")) // not retried
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)

	op, class := "pii.kms.operation", "error.type"
	require.ElementsMatch(t, []oteltest.Point{
		point("pii.kms.attempts", 2, op, "wrap", class, "unavailable"),
		point("pii.kms.attempts", 1, op, "wrap"),
		point("pii.kms.attempts", 3, op, "unwrap", class, "unavailable"),
		point("pii.kms.attempts", 1, op, "unwrap", class, "authentication"),
	}, points(t, rec, "pii.kms.attempts"))
	require.ElementsMatch(t, []oteltest.Point{ // a histogram's point counts its measurements
		point("pii.kms.attempt.duration", 2, op, "wrap", class, "unavailable"),
		point("pii.kms.attempt.duration", 1, op, "wrap"),
		point("pii.kms.attempt.duration", 3, op, "unwrap", class, "unavailable"),
		point("pii.kms.attempt.duration", 1, op, "unwrap", class, "authentication"),
	}, points(t, rec, "pii.kms.attempt.duration"))
	require.ElementsMatch(t, []oteltest.Point{
		point("pii.kms.calls", 1, op, "wrap"),
		point("pii.kms.calls", 1, op, "unwrap", class, "unavailable"),
		point("pii.kms.calls", 1, op, "unwrap", class, "authentication"),
	}, points(t, rec, "pii.kms.calls"))

	wraps := rec.Spans("pii.kms.wrap")
	require.Len(t, wraps, 1)
	require.Equal(t, []string{
		"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=1",
		"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=2",
	}, events(wraps[0]))
	unwraps := rec.Spans("pii.kms.unwrap")
	require.Len(t, unwraps, 2)
	require.Equal(t, []string{
		"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=1",
		"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=2",
		"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=3",
	}, events(unwraps[0]))
	require.Equal(t, []string{
		"pii.kms.attempt.failed error.type=authentication pii.kms.attempt.number=1",
	}, events(unwraps[1]))
	require.Empty(t, points(t, rec, "pii.kms.breaker.transitions"), "three failures in a row leave the breaker closed")
	rec.RequireClean(t, string(dk), string(ad), "alice", "acme", "faulty", "503")

	// A call the breaker refuses is a call, not an attempt.
	rec = oteltest.New(t)
	opts.MeterProvider, opts.TracerProvider = rec.MeterProvider, rec.TracerProvider
	opts.BreakerThreshold, opts.MaxAttempts, opts.BreakerCooldown = 1, 1, time.Hour
	c = keyprovider.NewClient(f, opts)
	f.inject(unavailable())
	_, _, err = c.Wrap(t.Context(), dk, ad)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	_, _, err = c.Wrap(t.Context(), dk, ad)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	require.ElementsMatch(t, []oteltest.Point{
		point("pii.kms.attempts", 1, op, "wrap", class, "unavailable"),
	}, points(t, rec, "pii.kms.attempts"))
	require.ElementsMatch(t, []oteltest.Point{
		point("pii.kms.calls", 1, op, "wrap", class, "unavailable"),
		point("pii.kms.calls", 1, op, "wrap", class, "circuit_open"),
	}, points(t, rec, "pii.kms.calls"))

	rec.RequireClean(t, string(dk), string(ad), "alice", "acme", "faulty", "503")
}

// TestClientBreakerTelemetry: every change of the breaker's state is
// counted by its two states and is an event on the span of the call that
// made it: opening on a failure, a probe after the cool-down, the probe
// failing (open again) or succeeding (closed).
func TestClientBreakerTelemetry(t *testing.T) {
	rec := oteltest.New(t)
	f := newFaultyKP(t, subjectKEK)
	opts := fastOpts()
	opts.MeterProvider, opts.TracerProvider = rec.MeterProvider, rec.TracerProvider
	opts.BreakerThreshold, opts.MaxAttempts = 1, 1
	opts.BreakerCooldown = time.Nanosecond // the cool-down is over by the next call
	c := keyprovider.NewClient(f, opts)
	dk := []byte("0123456789abcdef0123456789abcdef")

	steps := []struct {
		fault      bool
		wantEvents []string
	}{
		{true, []string{ // closed: the failure opens the breaker
			"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=1",
			"pii.kms.breaker.transition pii.kms.breaker.previous_state=closed pii.kms.breaker.state=open",
		}},
		{true, []string{ // a probe that fails opens it again
			"pii.kms.breaker.transition pii.kms.breaker.previous_state=open pii.kms.breaker.state=half_open",
			"pii.kms.attempt.failed error.type=unavailable pii.kms.attempt.number=1",
			"pii.kms.breaker.transition pii.kms.breaker.previous_state=half_open pii.kms.breaker.state=open",
		}},
		{false, []string{ // a probe that succeeds closes it
			"pii.kms.breaker.transition pii.kms.breaker.previous_state=open pii.kms.breaker.state=half_open",
			"pii.kms.breaker.transition pii.kms.breaker.previous_state=half_open pii.kms.breaker.state=closed",
		}},
		{false, nil}, // closed: nothing changes
	}
	for i, s := range steps {
		if s.fault {
			f.inject(unavailable())
		}
		_, _, err := c.Wrap(t.Context(), dk, nil)
		require.Equal(t, s.fault, err != nil, "step %d: %v", i, err)
		spans := rec.Spans("pii.kms.wrap")
		require.Len(t, spans, i+1)
		require.Equal(t, s.wantEvents, events(spans[i]), "step %d", i)
	}

	from, to := "pii.kms.breaker.previous_state", "pii.kms.breaker.state"
	require.ElementsMatch(t, []oteltest.Point{
		point("pii.kms.breaker.transitions", 1, from, "closed", to, "open"),
		point("pii.kms.breaker.transitions", 2, from, "open", to, "half_open"),
		point("pii.kms.breaker.transitions", 1, from, "half_open", to, "open"),
		point("pii.kms.breaker.transitions", 1, from, "half_open", to, "closed"),
	}, points(t, rec, "pii.kms.breaker.transitions"))

	rec.RequireClean(t, string(dk), "alice", "acme", "faulty", "503")
}
