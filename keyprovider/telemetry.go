package keyprovider

import (
	"context"
	"path"
	"reflect"
	"time"

	"github.com/fieldguard/pii/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// clientTelemetry is what a Client reports to OpenTelemetry: a span per
// call ("pii.kms.wrap", of kind client, around its attempts), and per
// call the metrics pii.kms.calls and pii.kms.call.duration, by backend,
// operation and error class.
type clientTelemetry struct {
	tracer   trace.Tracer
	calls    metric.Int64Counter
	duration metric.Float64Histogram
	backend  attribute.KeyValue
}

func newClientTelemetry(kp KeyProvider, o ClientOptions) *clientTelemetry {
	m := telemetry.Meter(o.MeterProvider, "keyprovider")
	return &clientTelemetry{
		tracer:   telemetry.Tracer(o.TracerProvider, "keyprovider"),
		calls:    telemetry.Counter(m, "pii.kms.calls", "Key provider calls, retries included in one call, by backend, operation and error class.", "{call}"),
		duration: telemetry.Histogram(m, "pii.kms.call.duration", "Duration of key provider calls, retries and backoff included."),
		backend:  telemetry.KMSBackend.String(backendName(kp)),
	}
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

func (t *clientTelemetry) end(ctx context.Context, span trace.Span, op string, err error, d time.Duration) {
	class := ClassName(err)
	attrs := []attribute.KeyValue{t.backend, telemetry.KMSOperation.String(op)}
	if class != "" {
		attrs = append(attrs, telemetry.ErrorType.String(class))
	}
	set := metric.WithAttributes(attrs...)
	t.calls.Add(ctx, 1, set)
	t.duration.Record(ctx, d.Seconds(), set)
	telemetry.End(span, err, class)
}
