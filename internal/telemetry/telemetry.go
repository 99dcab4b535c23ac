// Package telemetry is the module's OpenTelemetry plumbing, shared by the
// library packages: meters and tracers from the providers a package's
// Options name (nil: the global ones, otel.GetMeterProvider and
// otel.GetTracerProvider, which forward to a provider set later), the
// attribute keys every package uses, instruments that never fail, and
// spans that record an error's class, never its text.
//
// It uses the OpenTelemetry API only. The SDK (exporters, readers,
// samplers) is the application's choice; internal/depcheck keeps it out
// of the library and its go.mod. The tests of what the packages report
// use it, so they live in the nested module internal/oteltest.
//
// No attribute carries a value, a key, a token or a subject or record id:
// only type names, field paths, operations, kinds, roles, channels and
// error classes, all of low cardinality.
package telemetry

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// ScopePrefix is the instrumentation scope of every meter and tracer:
// the module path, then the package ("github.com/fieldguard/pii/envelope").
const ScopePrefix = "github.com/fieldguard/pii"

// Attribute keys. Values are low-cardinality names, never data.
const (
	KMSBackend   = attribute.Key("pii.kms.backend")                // "gcpkms", "vault", "awskms", "local", ...
	KMSOperation = attribute.Key("pii.kms.operation")              // "wrap", "unwrap", "rewrap", "rotate", "versions"
	KMSAttempt   = attribute.Key("pii.kms.attempt.number")         // 1 for a call's first attempt
	BreakerState = attribute.Key("pii.kms.breaker.state")          // "closed", "open", "half_open"
	BreakerFrom  = attribute.Key("pii.kms.breaker.previous_state") // the state a transition left
	ErrorType    = attribute.Key("error.type")                     // an error class ("unavailable", "shredded", ...)
	Operation    = attribute.Key("pii.operation")                  // "encrypt", "decrypt"
	Type         = attribute.Key("pii.type")                       // a schema type name
	Field        = attribute.Key("pii.field")                      // a schema field path ("Contacts[].Phone")
	Format       = attribute.Key("pii.format")                     // "random", "deterministic", "inline"
	CacheResult  = attribute.Key("pii.cache.result")               // "hit", "miss"
	Scope        = attribute.Key("pii.key.scope")                  // "subject", "tenant", "inline"
	Reason       = attribute.Key("pii.reason")                     // why something happened ("first", "limit", "age", "generation")
	Action       = attribute.Key("pii.retention.action")
	Outcome      = attribute.Key("pii.outcome")
	Category     = attribute.Key("pii.category")
	Role         = attribute.Key("pii.mask.role")
	Channel      = attribute.Key("pii.mask.channel")
	Event        = attribute.Key("pii.mask.event")
	Kind         = attribute.Key("pii.mask.kind")
)

// Meter returns the meter of package pkg ("envelope") from mp, or from
// the global provider when mp is nil.
func Meter(mp metric.MeterProvider, pkg string) metric.Meter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(ScopePrefix + "/" + pkg)
}

// Tracer returns the tracer of package pkg from tp, or from the global
// provider when tp is nil.
func Tracer(tp trace.TracerProvider, pkg string) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopePrefix + "/" + pkg)
}

// An instrument that cannot be made (a provider that rejects the name,
// say) is reported to otel.Handle and replaced by a no-op one: telemetry
// never fails the operation it observes.

// Handle reports err, if any, to otel.Handle.
func Handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// Counter returns an Int64Counter.
func Counter(m metric.Meter, name, desc, unit string) metric.Int64Counter {
	c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
	if err != nil || c == nil {
		Handle(err)
		return noop.Int64Counter{}
	}
	return c
}

// Histogram returns a Float64Histogram of durations in seconds.
func Histogram(m metric.Meter, name, desc string) metric.Float64Histogram {
	h, err := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"))
	if err != nil || h == nil {
		Handle(err)
		return noop.Float64Histogram{}
	}
	return h
}

// ObservableCounter registers an Int64ObservableCounter whose values cb
// reports at each collection: the way hot paths are measured, since the
// path itself then only adds to an atomic counter of its own.
func ObservableCounter(m metric.Meter, name, desc, unit string, cb func(context.Context, metric.Int64Observer) error) {
	_, err := m.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit(unit), metric.WithInt64Callback(cb))
	Handle(err)
}

// Start starts a span named name (of kind internal unless opts say
// otherwise).
func Start(ctx context.Context, t trace.Tracer, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, recording class (a short error class, never the error's
// text, which could name a record) when err is not nil.
func End(span trace.Span, err error, class string) {
	if err != nil {
		if class == "" {
			class = "other"
		}
		span.SetAttributes(ErrorType.String(class))
		span.SetStatus(codes.Error, class)
	}
	span.End()
}
