package mask

import (
	"context"
	"log/slog"
	"time"
)

// EventKind says what an [AuditEvent] records.
type EventKind string

// Kinds of audit events.
const (
	EventReveal         EventKind = "reveal"          // a clear value was returned
	EventRevealDenied   EventKind = "reveal_denied"   // a reveal was refused by policy
	EventBudgetExceeded EventKind = "budget_exceeded" // the breach signal: a viewer went over the reveal budget
	// EventExport: a clear value left in a subject access export (an
	// application's own export, such as guard's); audited like a reveal.
	EventExport EventKind = "export"
)

// AuditEvent records a reveal attempt: who, which field of which record,
// why and when. It never holds the value.
type AuditEvent struct {
	Time    time.Time
	Kind    EventKind
	Viewer  string
	Role    string
	Channel Channel
	// Tenant is the record's tenant, from its `pii:"tenant"` field; "" for
	// types without one. Record ids repeat across tenants: (Tenant, Type,
	// Record) names the record.
	Tenant   string
	Type     string // schema name of the record's type
	Record   string // record id (or subject id when the type has no id field)
	Field    string // concrete field path
	Category string
	Reason   string
	// Count and Window are set on EventBudgetExceeded: reveals by this
	// viewer in the window, this attempt included.
	Count  int
	Window time.Duration
}

// AuditSink receives audit events. An error from Audit stops the reveal.
type AuditSink interface {
	Audit(ctx context.Context, ev AuditEvent) error
}

// auditFunc adapts a function to AuditSink.
type auditFunc func(ctx context.Context, ev AuditEvent) error

func (f auditFunc) Audit(ctx context.Context, ev AuditEvent) error { return f(ctx, ev) }

// SlogAudit returns a sink writing audit events to l (nil: slog.Default()
// at the time of each event): reveals at Info, denials and budget alerts at
// Warn. It is the sink [NewViews] uses when none is given.
func SlogAudit(l *slog.Logger) AuditSink { return slogAudit{l: l} }

type slogAudit struct{ l *slog.Logger }

func (s slogAudit) Audit(ctx context.Context, ev AuditEvent) error {
	l := s.l
	if l == nil {
		l = slog.Default()
	}
	level := slog.LevelInfo
	if ev.Kind != EventReveal && ev.Kind != EventExport {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("event", string(ev.Kind)),
		slog.Time("at", ev.Time),
		slog.String("viewer", ev.Viewer),
		slog.String("role", ev.Role),
		slog.String("channel", string(ev.Channel)),
		slog.String("tenant", ev.Tenant),
		slog.String("type", ev.Type),
		slog.String("record", ev.Record),
		slog.String("field", ev.Field),
		slog.String("category", ev.Category),
		slog.String("reason", ev.Reason),
	}
	if ev.Kind == EventBudgetExceeded {
		attrs = append(attrs, slog.Int("count", ev.Count), slog.Duration("window", ev.Window))
	}
	l.LogAttrs(ctx, level, "mask: "+string(ev.Kind), attrs...)
	return nil
}
