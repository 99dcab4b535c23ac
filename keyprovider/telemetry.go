package keyprovider

import (
	"context"
	"path"
	"reflect"
	"time"

	"github.com/fieldguard/pii/internal/kmsclass"
	"github.com/fieldguard/pii/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// clientTelemetry is what a Client reports to OpenTelemetry (see the
// Client's Telemetry section): a span per call ("pii.kms.wrap", of kind
// client, around its attempts) with an event per failed attempt and per
// breaker transition; per call pii.kms.calls and pii.kms.call.duration,
// per attempt pii.kms.attempts and pii.kms.attempt.duration, by backend,
// operation and error class; pii.kms.breaker.transitions by backend and
// the two states.
type clientTelemetry struct {
	tracer      trace.Tracer
	calls       metric.Int64Counter
	duration    metric.Float64Histogram
	attempts    metric.Int64Counter
	attemptDur  metric.Float64Histogram
	transitions metric.Int64Counter
	backend     attribute.KeyValue
	ok          map[string]metric.MeasurementOption // by operation: the attributes of a success, made once
}

var operations = []string{"wrap", "unwrap", "rewrap", "rotate", "versions"}

func newClientTelemetry(kp KeyProvider, o ClientOptions) *clientTelemetry {
	m := telemetry.Meter(o.MeterProvider, "keyprovider")
	t := &clientTelemetry{
		tracer:   telemetry.Tracer(o.TracerProvider, "keyprovider"),
		calls:    telemetry.Counter(m, "pii.kms.calls", "Key provider calls, retries included in one call, by backend, operation and error class.", "{call}"),
		duration: telemetry.Histogram(m, "pii.kms.call.duration", "Duration of key provider calls, retries and backoff included."),
		attempts: telemetry.Counter(m, "pii.kms.attempts",
			"Key provider attempts, the first of each call, its retries and half-open probes, by backend, operation and error class.", "{attempt}"),
		attemptDur: telemetry.Histogram(m, "pii.kms.attempt.duration", "Duration of each key provider attempt, without backoff."),
		transitions: telemetry.Counter(m, "pii.kms.breaker.transitions",
			"Changes of state of a key provider client's circuit breaker, by backend, previous state and new state.", "{transition}"),
		backend: telemetry.KMSBackend.String(backendName(kp)),
		ok:      make(map[string]metric.MeasurementOption, len(operations)),
	}
	for _, op := range operations {
		t.ok[op] = metric.WithAttributeSet(attribute.NewSet(t.backend, telemetry.KMSOperation.String(op)))
	}
	return t
}

// backendName names a backend by its Go package ("gcpkms", "vault",
// "awskms", "local"): low-cardinality and free of key names.
func backendName(kp KeyProvider) string {
	t := reflect.TypeOf(kp)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := t.PkgPath(); p != "" {
		return path.Base(p)
	}
	return "other"
}

func (t *clientTelemetry) start(ctx context.Context, op string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "pii.kms."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(t.backend, telemetry.KMSOperation.String(op)))
}

// measured returns the attributes of a call's or an attempt's metrics:
// backend, operation and, on failure, the error's class.
func (t *clientTelemetry) measured(op, class string) metric.MeasurementOption {
	if set, ok := t.ok[op]; ok && class == "" {
		return set
	}
	if class == "" {
		return metric.WithAttributes(t.backend, telemetry.KMSOperation.String(op))
	}
	return metric.WithAttributes(t.backend, telemetry.KMSOperation.String(op), telemetry.ErrorType.String(class))
}

// end ends a call's span and counts the call.
func (t *clientTelemetry) end(ctx context.Context, span trace.Span, op string, err error, d time.Duration) {
	class := kmsclass.Name(err)
	set := t.measured(op, class)
	t.calls.Add(ctx, 1, set)
	t.duration.Record(ctx, d.Seconds(), set)
	telemetry.End(span, err, class)
}

// attempt counts attempt number n of a call and, when it failed, adds an
// event to the call's span.
func (t *clientTelemetry) attempt(ctx context.Context, op string, n int, err error, d time.Duration) {
	class := kmsclass.Name(err)
	set := t.measured(op, class)
	t.attempts.Add(ctx, 1, set)
	t.attemptDur.Record(ctx, d.Seconds(), set)
	if span := trace.SpanFromContext(ctx); err != nil && span.IsRecording() {
		span.AddEvent("pii.kms.attempt.failed", trace.WithAttributes(
			telemetry.KMSAttempt.Int(n), telemetry.ErrorType.String(class)))
	}
}

// breakerChanged counts a change of the breaker's state and adds an event
// to the span of the call that made it.
func (t *clientTelemetry) breakerChanged(ctx context.Context, from, to breakerState) {
	states := []attribute.KeyValue{telemetry.BreakerFrom.String(from.String()), telemetry.BreakerState.String(to.String())}
	t.transitions.Add(ctx, 1, metric.WithAttributes(t.backend, states[0], states[1]))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("pii.kms.breaker.transition", trace.WithAttributes(states...))
	}
}
