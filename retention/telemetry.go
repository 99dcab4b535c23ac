package retention

import (
	"context"
	"errors"

	"github.com/fieldguard/pii/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// managerTelemetry is what a Manager reports to OpenTelemetry: the
// metric pii.retention.actions (every ledger entry a sweep writes, or
// would write in a dry run, by action, outcome and type) and the spans
// pii.retention.sweep, pii.retention.release and pii.retention.forget.
// Sweeps are not a hot path: the instruments are called directly.
type managerTelemetry struct {
	tracer  trace.Tracer
	actions metric.Int64Counter
}

func newTelemetry(o *Options) *managerTelemetry {
	m := telemetry.Meter(o.MeterProvider, "retention")
	return &managerTelemetry{
		tracer:  telemetry.Tracer(o.TracerProvider, "retention"),
		actions: telemetry.Counter(m, "pii.retention.actions", "Retention actions of sweeps (ledger entries), by action, outcome and type.", "{action}"),
	}
}

// counting returns onAction preceded by the count of each entry.
func (t *managerTelemetry) counting(onAction func(Entry)) func(Entry) {
	return func(e Entry) {
		t.actions.Add(context.Background(), 1, metric.WithAttributes(
			telemetry.Action.String(e.Action), telemetry.Outcome.String(string(e.Outcome)), telemetry.Type.String(e.Type)))
		if onAction != nil {
			onAction(e)
		}
	}
}

func (t *managerTelemetry) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "pii.retention."+name, trace.WithAttributes(attrs...))
}

// endSweep ends a sweep's span with its counts.
func endSweep(span trace.Span, p Progress, err error) {
	span.SetAttributes(
		attribute.Int64("pii.retention.scanned", p.Scanned), attribute.Int64("pii.retention.applied", p.Applied),
		attribute.Int64("pii.retention.deleted", p.Deleted), attribute.Int64("pii.retention.held", p.Held),
		attribute.Int64("pii.retention.deferred", p.Deferred), attribute.Int64("pii.retention.keys_shredded", p.KeysShredded),
		attribute.Int64("pii.retention.shreds_pending", p.ShredsPending))
	telemetry.End(span, err, errorClass(err))
}

// errorClass names err's class for error.type, never its text.
func errorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	return "other"
}
