package guard

import (
	"context"
	"errors"

	"github.com/fieldguard/pii/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Spans around a Guard's long jobs: pii.guard.migrate.seal and
// .unseal (Migration, with its counts) and pii.guard.rotate (Rotate),
// on the global TracerProvider. The Sealer, key provider, retention and
// mask calls they make report under them through their own providers
// (see envelope's doc, # Telemetry).

func startJob(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return telemetry.Tracer(nil, "guard").Start(ctx, "pii.guard."+name, trace.WithAttributes(attrs...))
}

func endJob(span trace.Span, err error) {
	class := ""
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		class = "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		class = "deadline_exceeded"
	default:
		class = "other"
	}
	telemetry.End(span, err, class)
}

func endMigration(span trace.Span, r MigrateReport, err error) {
	span.SetAttributes(attribute.String("pii.guard.migrate.phase", r.Phase),
		attribute.Int64("pii.guard.migrate.scanned", r.Scanned), attribute.Int64("pii.guard.migrate.changed", r.Changed),
		attribute.Int64("pii.guard.migrate.stragglers", r.Stragglers), attribute.Bool("pii.guard.migrate.dry_run", r.DryRun))
	endJob(span, err)
}
