// Package oteltest records what the library reports to OpenTelemetry,
// for tests: a MeterProvider on the SDK's ManualReader and a
// TracerProvider on its SpanRecorder, with helpers that find metric
// points and spans by name and attributes, and one that fails a test when
// any attribute, span name, status or event holds a string it must not
// (a value, a subject id, a key).
//
// It imports the OpenTelemetry SDK, which the library never does, so it
// lives in this nested module (its own go.mod) with the tests that use it
// (one directory per instrumented package: envelope, keyprovider, mask,
// retention, guard): the library's go.mod lists only the OpenTelemetry
// API, and users never download the SDK for the library's sake. Run them
// with
//
//	cd internal/oteltest && go test -race ./...
//
// (./test.sh runs every nested module).
package oteltest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Recorder holds the providers to pass to the code under test.
type Recorder struct {
	MeterProvider  *sdkmetric.MeterProvider
	TracerProvider *sdktrace.TracerProvider
	reader         *sdkmetric.ManualReader
	spans          *tracetest.SpanRecorder
}

// New returns a Recorder whose providers shut down at the test's end.
func New(t testing.TB) *Recorder {
	r := &Recorder{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	r.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() {
		r.MeterProvider.Shutdown(context.Background())
		r.TracerProvider.Shutdown(context.Background())
	})
	return r
}

// Point is one data point: its attributes and its value (a sum's value,
// or a histogram's count).
type Point struct {
	Metric string
	Attrs  map[string]string
	Value  float64
}

func attrs(s attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range s.ToSlice() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// Collect returns every data point of every metric now.
func (r *Recorder) Collect(t testing.TB) []Point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	var out []Point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, Point{m.Name, attrs(p.Attributes), float64(p.Value)})
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out = append(out, Point{m.Name, attrs(p.Attributes), p.Value})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, Point{m.Name, attrs(p.Attributes), float64(p.Count)})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, Point{m.Name, attrs(p.Attributes), float64(p.Value)})
				}
			default:
				t.Fatalf("oteltest: metric %s has data of type %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// Sum adds up the points of metric name whose attributes include want.
// It fails the test when the metric has no such point.
func (r *Recorder) Sum(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	var sum float64
	found := false
	var seen []string
	for _, p := range r.Collect(t) {
		if p.Metric != name {
			continue
		}
		seen = append(seen, fmt.Sprint(p.Attrs))
		if matches(p.Attrs, want) {
			sum += p.Value
			found = true
		}
	}
	require.True(t, found, "oteltest: no point of %s with %v; points: %v", name, want, seen)
	return sum
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// Spans returns the ended spans named name.
func (r *Recorder) Spans(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// SpanAttrs returns a span's attributes.
func SpanAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	return attrs(attribute.NewSet(s.Attributes()...))
}

// RequireClean fails t if any metric attribute, span name, span
// attribute, status description or event of what was recorded so far
// contains one of secrets.
func (r *Recorder) RequireClean(t testing.TB, secrets ...string) {
	t.Helper()
	var texts []string
	for _, p := range r.Collect(t) {
		texts = append(texts, p.Metric)
		for k, v := range p.Attrs {
			texts = append(texts, k, v)
		}
	}
	for _, s := range r.spans.Ended() {
		texts = append(texts, s.Name(), s.Status().Description)
		for k, v := range SpanAttrs(s) {
			texts = append(texts, k, v)
		}
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, string(kv.Key), kv.Value.Emit())
			}
		}
	}
	require.NotEmpty(t, texts, "oteltest: nothing was recorded")
	for _, secret := range secrets {
		require.NotEmpty(t, secret)
		for _, x := range texts {
			require.NotContains(t, x, secret, "oteltest: recorded telemetry holds a secret")
		}
	}
}
