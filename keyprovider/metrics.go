package keyprovider

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Metrics receives what a [Client] observes. Implementations must be safe
// for concurrent use and fast: they run on the caller's goroutine.
//
// An Observation carries no key bytes, associated data or error text, only
// the operation, the attempt number, the error class name and the latency,
// so a Metrics implementation cannot leak secrets by accident.
//
// # OpenTelemetry
//
// A Client reports to OpenTelemetry by itself (the metrics pii.kms.calls
// and pii.kms.call.duration by backend, operation and error class, and a
// span per call), through ClientOptions.MeterProvider and TracerProvider
// or the global providers. Metrics is for everything else: logs
// ([SlogMetrics]), another metrics system, or per-attempt detail. Keep
// the attributes you derive to these low-cardinality values; never add
// key ids of per-subject keys or anything derived from data.
type Metrics interface {
	// ObserveAttempt is called after every attempt, retries included.
	ObserveAttempt(ctx context.Context, o Observation)
	// ObserveCall is called once per call, after its last attempt.
	ObserveCall(ctx context.Context, o Observation)
	// BreakerChanged is called when the circuit breaker changes state;
	// from and to are "closed" (calls flow), "open" (calls fail fast with
	// ErrUnavailable, class name "circuit_open") or "half-open" (one probe
	// is in flight).
	BreakerChanged(ctx context.Context, from, to string)
}

// Observation is one attempt or call seen by a [Client].
type Observation struct {
	Op      string        // "wrap", "unwrap", "rewrap", "rotate", "versions"
	Attempt int           // 1 for the first attempt; 0 in ObserveCall
	Class   string        // "" on success, else a class name (see ClassName)
	Latency time.Duration // of the attempt, or of the whole call with retries
}

// ClassName returns a short, stable, low-cardinality name for err's class:
// "" for nil, "unavailable", "permission", "key_not_found", "key_disabled",
// "key_destroyed", "authentication", "invalid_argument", "canceled",
// "circuit_open" (a subset of unavailable, reported separately) or "other".
func ClassName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errCircuitOpen):
		return "circuit_open"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrPermission):
		return "permission"
	case errors.Is(err, ErrKeyNotFound):
		return "key_not_found"
	case errors.Is(err, ErrKeyDisabled):
		return "key_disabled"
	case errors.Is(err, ErrKeyDestroyed):
		return "key_destroyed"
	case errors.Is(err, ErrAuthentication):
		return "authentication"
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument"
	}
	return "other"
}

// SlogMetrics returns a [Metrics] that logs to l: attempts and successful
// calls at Debug, failed calls at Warn, breaker changes at Warn (opening)
// or Info (closing, probing). A nil l uses slog.Default().
func SlogMetrics(l *slog.Logger) Metrics {
	if l == nil {
		l = slog.Default()
	}
	return slogMetrics{l}
}

type slogMetrics struct{ l *slog.Logger }

func (m slogMetrics) ObserveAttempt(ctx context.Context, o Observation) {
	m.l.LogAttrs(ctx, slog.LevelDebug, "keyprovider: kms attempt",
		slog.String("op", o.Op), slog.Int("attempt", o.Attempt),
		slog.String("class", o.Class), slog.Duration("latency", o.Latency))
}

func (m slogMetrics) ObserveCall(ctx context.Context, o Observation) {
	level := slog.LevelDebug
	if o.Class != "" {
		level = slog.LevelWarn
	}
	m.l.LogAttrs(ctx, level, "keyprovider: kms call",
		slog.String("op", o.Op), slog.String("class", o.Class), slog.Duration("latency", o.Latency))
}

func (m slogMetrics) BreakerChanged(ctx context.Context, from, to string) {
	level := slog.LevelInfo
	if to == breakerOpen.String() {
		level = slog.LevelWarn
	}
	m.l.LogAttrs(ctx, level, "keyprovider: circuit breaker",
		slog.String("from", from), slog.String("to", to))
}
