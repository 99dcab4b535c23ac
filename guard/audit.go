package guard

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/mask"
)

// auditTable is the default audit sink of a Guard built by New: one row
// per mask.AuditEvent in PREFIX+"audit". Events are written on the
// Guard's *sql.DB, never in the caller's transaction: a reveal that
// happened stays recorded even if the caller's transaction rolls back. (On
// SQLite, a reveal made while the same process holds a write transaction
// waits for it, up to the busy timeout, and then fails without revealing.)
type auditTable struct {
	db    *sql.DB
	d     sqldialect.Dialect
	table string
}

var _ mask.AuditSink = (*auditTable)(nil)

const auditCols = "at_us, kind, viewer, role, channel, tenant, rec_type, record, field, category, reason, reveals, window_us"

func auditDDL(d sqldialect.Dialect, table string) string {
	seq := "seq INTEGER PRIMARY KEY AUTOINCREMENT"
	if d == sqldialect.Postgres {
		seq = "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	` + seq + `,
	at_us BIGINT NOT NULL,
	kind TEXT NOT NULL,
	viewer TEXT NOT NULL,
	role TEXT NOT NULL,
	channel TEXT NOT NULL,
	tenant TEXT NOT NULL,
	rec_type TEXT NOT NULL,
	record TEXT NOT NULL,
	field TEXT NOT NULL,
	category TEXT NOT NULL,
	reason TEXT NOT NULL,
	reveals INTEGER NOT NULL,
	window_us BIGINT NOT NULL
);`
}

func (a *auditTable) create(ctx context.Context) error {
	_, err := a.db.ExecContext(ctx, auditDDL(a.d, a.table))
	return err
}

// Audit implements mask.AuditSink.
func (a *auditTable) Audit(ctx context.Context, ev mask.AuditEvent) error {
	q := a.d.Rebind(`INSERT INTO ` + a.table + ` (` + auditCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	_, err := a.db.ExecContext(ctx, q, ev.Time.UnixMicro(), string(ev.Kind), ev.Viewer, ev.Role, string(ev.Channel),
		ev.Tenant, ev.Type, ev.Record, ev.Field, ev.Category, ev.Reason, ev.Count, ev.Window.Microseconds())
	if err != nil {
		return fmt.Errorf("guard: audit: %w", err)
	}
	return nil
}

// events returns the recorded events in order.
func (a *auditTable) events(ctx context.Context) ([]mask.AuditEvent, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT `+auditCols+` FROM `+a.table+` ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("guard: audit: %w", err)
	}
	defer rows.Close()
	var out []mask.AuditEvent
	for rows.Next() {
		var ev mask.AuditEvent
		var at, win int64
		var kind, ch string
		if err := rows.Scan(&at, &kind, &ev.Viewer, &ev.Role, &ch, &ev.Tenant, &ev.Type, &ev.Record, &ev.Field,
			&ev.Category, &ev.Reason, &ev.Count, &win); err != nil {
			return nil, fmt.Errorf("guard: audit: %w", err)
		}
		ev.Time, ev.Kind, ev.Channel, ev.Window = time.UnixMicro(at).UTC(), mask.EventKind(kind), mask.Channel(ch), time.Duration(win)*time.Microsecond
		out = append(out, ev)
	}
	return out, rows.Err()
}

// memoryAudit is NewMemory's default audit sink.
type memoryAudit struct {
	mu  sync.Mutex
	evs []mask.AuditEvent
}

func (m *memoryAudit) Audit(_ context.Context, ev mask.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evs = append(m.evs, ev)
	return nil
}

func (m *memoryAudit) events(context.Context) ([]mask.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mask.AuditEvent(nil), m.evs...), nil
}

// auditEvents returns the events the Guard's own sink recorded (the audit
// table, or memory for NewMemory); nil when Options.Audit took them.
func (g *Guard) auditEvents(ctx context.Context) ([]mask.AuditEvent, error) {
	switch {
	case g.auditDB != nil:
		return g.auditDB.events(ctx)
	case g.memLog != nil:
		return g.memLog.events(ctx)
	}
	return nil, nil
}
