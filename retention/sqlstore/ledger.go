package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
	"github.com/fieldguard/pii/retention"
)

// Ledger is the erasure ledger in its own table. A row is one event: the
// actions taken on one record at one time with one outcome, listed in the
// actions column as a JSON array of [field, action, policy, reason] (n
// counts them), so that a record's ids, type and time are written once per
// event rather than once per field. Scan returns one retention.Entry per
// action. In SQL:
//
//	SELECT l.at, l.record_hash, a.value ->> 0 AS field, a.value ->> 1 AS action
//	FROM retention_ledger l, json_each(l.actions) a                  -- SQLite
//	FROM retention_ledger l, json_array_elements(l.actions) a(value)  -- PostgreSQL
//
// Rows are only ever inserted: triggers refuse UPDATE and DELETE, so even
// the application's own database user cannot rewrite history without
// dropping them.
type Ledger struct {
	db    *sql.DB
	d     sqldialect.Dialect
	names names
	table string
}

var _ retention.Ledger = (*Ledger)(nil)

// NewLedger returns the ledger in db. It runs no SQL: call
// [Ledger.CreateTables] (or apply [DDL] with a migration tool) first. The
// table name may be schema-qualified ("app.retention_ledger"). Under
// pii.WithExecutor, Append and Scan go through the caller's
// executor, so entries commit or roll back with the caller's transaction.
func NewLedger(db *sql.DB, opts *Options) (*Ledger, error) {
	d, err := opts.dialect(db)
	if err != nil {
		return nil, err
	}
	n, err := opts.names()
	if err != nil {
		return nil, err
	}
	return &Ledger{db: db, d: d, names: n, table: n.ledger}, nil
}

// CreateTables creates the ledger, holds and pending shreds tables (and
// the ledger's append-only triggers) if they do not exist, in one
// transaction: the statements [DDL] returns. It is idempotent.
func (l *Ledger) CreateTables(ctx context.Context) error {
	return createTables(ctx, l.db, l.d, l.names)
}

const (
	ledgerCols  = "subject_hash, record_hash, type, outcome, at, n, actions"
	ledgerNCols = 7
	// ledgerTime is how ledger times are written on SQLite: UTC, fixed
	// width, so that they sort as text.
	ledgerTime = "2006-01-02T15:04:05.000Z"
)

// Append inserts entries in one transaction, or in the caller's under
// pii.WithExecutor.
func (l *Ledger) Append(ctx context.Context, entries ...retention.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if ex := pii.ExecutorFrom(ctx, nil); ex != nil {
		return l.append(ctx, ex, entries)
	}
	x, err := begin(ctx, l.db, l.d, false)
	if err != nil {
		return err
	}
	if err := l.append(ctx, x.q, entries); err != nil {
		x.rollback()
		return err
	}
	if err := x.commit(); err != nil {
		return fmt.Errorf("sqlstore: ledger commit: %w", err)
	}
	return nil
}

// event is one ledger row: consecutive entries sharing record, subject,
// type, outcome and time.
type event struct {
	head    retention.Entry
	n       int
	actions []byte
}

func group(entries []retention.Entry) []event {
	var out []event
	for _, e := range entries {
		if k := len(out) - 1; k >= 0 {
			h := out[k].head
			if h.Record == e.Record && h.Subject == e.Subject && h.Type == e.Type && h.Outcome == e.Outcome && h.At.Equal(e.At) {
				out[k].actions = appendAction(append(out[k].actions[:len(out[k].actions)-1], ','), e)
				out[k].n++
				continue
			}
		}
		out = append(out, event{head: e, n: 1, actions: appendAction([]byte{'['}, e)})
	}
	return out
}

func appendAction(buf []byte, e retention.Entry) []byte {
	buf = append(buf, '[')
	for i, v := range [...]string{e.Field, e.Action, e.Policy, e.Reason} {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, v)
	}
	return append(buf, ']', ']')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			b, _ := json.Marshal(s) // cannot fail for a string
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// append inserts entries within q's transaction, one row per event, in
// multi-row statements (prepared once per call on SQLite, where parsing is
// the cost; PostgreSQL pays per round trip instead).
func (l *Ledger) append(ctx context.Context, q pii.Executor, entries []retention.Entry) error {
	evs := group(entries)
	if len(evs) == 0 {
		return nil
	}
	if l.d == sqldialect.Postgres {
		return l.appendArrays(ctx, q, evs)
	}
	const per = 100
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, min(per, len(evs))*ledgerNCols)
	for len(evs) > 0 {
		n := min(len(evs), per)
		args = args[:0]
		for _, ev := range evs[:n] {
			var at any = ev.head.At.UTC()
			if l.d != sqldialect.Postgres {
				at = ev.head.At.UTC().Format(ledgerTime)
			}
			args = append(args, ev.head.Subject, ev.head.Record, ev.head.Type, string(ev.head.Outcome), at, ev.n, string(ev.actions))
		}
		var err error
		prep, canPrepare := q.(preparer)
		if n == per && canPrepare {
			if full == nil {
				if full, err = prep.PrepareContext(ctx, l.insertValues(per)); err != nil {
					return fmt.Errorf("sqlstore: ledger insert: %w", err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = q.ExecContext(ctx, l.insertValues(n), args...)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: ledger insert: %w", err)
		}
		evs = evs[n:]
	}
	return nil
}

// appendArrays inserts events on PostgreSQL in one statement whose text
// does not depend on their number (unnest of one array per column), so the
// driver's prepared statement cache holds one entry for it.
func (l *Ledger) appendArrays(ctx context.Context, q pii.Executor, evs []event) error {
	subj := make([]string, len(evs))
	rec := make([]string, len(evs))
	typ := make([]string, len(evs))
	out := make([]string, len(evs))
	at := make([]time.Time, len(evs))
	n := make([]int32, len(evs))
	acts := make([]string, len(evs))
	for i, ev := range evs {
		subj[i], rec[i], typ[i], out[i] = ev.head.Subject, ev.head.Record, ev.head.Type, string(ev.head.Outcome)
		at[i], n[i], acts[i] = ev.head.At.UTC(), int32(ev.n), string(ev.actions)
	}
	_, err := q.ExecContext(ctx, "INSERT INTO "+l.table+" ("+ledgerCols+") SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::json[])",
		subj, rec, typ, out, at, n, acts)
	if err != nil {
		return fmt.Errorf("sqlstore: ledger insert: %w", err)
	}
	return nil
}

func (l *Ledger) insertValues(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + l.table + " (" + ledgerCols + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := 0; j < ledgerNCols; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.d.Placeholder(i*ledgerNCols + j + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Scan calls fn for every entry in append order, reading in pages.
func (l *Ledger) Scan(ctx context.Context, fn func(retention.Entry) error) error {
	var after int64
	for {
		rows, err := pii.ExecutorFrom(ctx, l.db).QueryContext(ctx, "SELECT seq, "+ledgerCols+" FROM "+l.table+
			" WHERE seq > "+l.d.Placeholder(1)+" ORDER BY seq LIMIT 1000", after)
		if err != nil {
			return fmt.Errorf("sqlstore: ledger scan: %w", err)
		}
		var page []retention.Entry
		rowsRead := 0
		for rows.Next() {
			rowsRead++
			var h retention.Entry
			var at any
			var n int
			var actions []byte
			if err := rows.Scan(&after, &h.Subject, &h.Record, &h.Type, &h.Outcome, &at, &n, &actions); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: ledger scan: %w", err)
			}
			if h.At, err = asTime(at); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: ledger scan: seq %d: %w", after, err)
			}
			var acts [][4]string
			if err := json.Unmarshal(actions, &acts); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: ledger scan: seq %d: %w", after, err)
			}
			for _, a := range acts {
				e := h
				e.Field, e.Action, e.Policy, e.Reason = a[0], a[1], a[2], a[3]
				page = append(page, e)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlstore: ledger scan: %w", err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if rowsRead < 1000 {
			return nil
		}
	}
}

// NewHolds returns the hold store in db: legal holds in a table, so that
// sweepers in every process honour them, and the pending key shreds in a
// second table beside it (the value also implements
// retention.PendingShreds, which retention.Manager finds by itself). It
// runs no SQL: its tables are created with the ledger's
// ([Ledger.CreateTables], or [DDL] applied by a migration tool). Under pii.WithExecutor every read and write goes
// through the caller's executor, so a hold placed in a transaction that
// rolls back is gone.
func NewHolds(db *sql.DB, opts *Options) (retention.Holds, error) {
	d, err := opts.dialect(db)
	if err != nil {
		return nil, err
	}
	n, err := opts.names()
	if err != nil {
		return nil, err
	}
	return &holds{db: db, d: d, table: n.holds, pending: n.pending}, nil
}

type holds struct {
	db      *sql.DB
	d       sqldialect.Dialect
	table   string
	pending string
}

var _ retention.PendingShreds = (*holds)(nil)

func (h *holds) PutPending(ctx context.Context, p retention.PendingShred) error {
	q := "INSERT INTO " + h.pending + " (id, kind, sealed, created) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed, created = excluded.created " +
		"WHERE " + sqldialect.BaseName(h.pending) + ".kind < excluded.kind"
	if _, err := pii.ExecutorFrom(ctx, h.db).ExecContext(ctx, h.d.Rebind(q), p.ID, int(p.Kind), p.Sealed, p.Created.UTC()); err != nil {
		return fmt.Errorf("sqlstore: put pending shred: %w", err)
	}
	return nil
}

func (h *holds) DeletePending(ctx context.Context, id string, kind int) error {
	q := "DELETE FROM " + h.pending + " WHERE id = ? AND kind <= ?"
	if _, err := pii.ExecutorFrom(ctx, h.db).ExecContext(ctx, h.d.Rebind(q), id, int(kind)); err != nil {
		return fmt.Errorf("sqlstore: delete pending shred: %w", err)
	}
	return nil
}

func (h *holds) Pending(ctx context.Context, after string, limit int) ([]retention.PendingShred, error) {
	q := "SELECT id, kind, sealed, created FROM " + h.pending + " WHERE id > ? ORDER BY id"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := pii.ExecutorFrom(ctx, h.db).QueryContext(ctx, h.d.Rebind(q), after)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: pending shreds: %w", err)
	}
	defer rows.Close()
	var out []retention.PendingShred
	for rows.Next() {
		var p retention.PendingShred
		var created any
		if err := rows.Scan(&p.ID, &p.Kind, &p.Sealed, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: pending shreds: %w", err)
		}
		p.Created, _ = asTime(created)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: pending shreds: %w", err)
	}
	return out, nil
}

func (h *holds) Put(ctx context.Context, x retention.Hold) error {
	p := func(n int) string { return h.d.Placeholder(n) }
	var until any
	if !x.Until.IsZero() {
		until = x.Until.UTC()
	}
	_, err := pii.ExecutorFrom(ctx, h.db).ExecContext(ctx, "INSERT INTO "+h.table+" (id, subject_hash, type, record_hash, reason, until, created) VALUES ("+
		p(1)+","+p(2)+","+p(3)+","+p(4)+","+p(5)+","+p(6)+","+p(7)+") ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, until = excluded.until, created = excluded.created",
		x.ID, x.Subject, x.Type, x.Record, x.Reason, until, x.Created.UTC())
	if err != nil {
		return fmt.Errorf("sqlstore: put hold: %w", err)
	}
	return nil
}

func (h *holds) Delete(ctx context.Context, id string) error {
	if _, err := pii.ExecutorFrom(ctx, h.db).ExecContext(ctx, "DELETE FROM "+h.table+" WHERE id = "+h.d.Placeholder(1), id); err != nil {
		return fmt.Errorf("sqlstore: delete hold: %w", err)
	}
	return nil
}

func (h *holds) Active(ctx context.Context, now time.Time) ([]retention.Hold, error) {
	rows, err := pii.ExecutorFrom(ctx, h.db).QueryContext(ctx, "SELECT id, subject_hash, type, record_hash, reason, until, created FROM "+h.table+
		" WHERE until IS NULL OR until > "+h.d.Placeholder(1)+" ORDER BY id", now.UTC())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: holds: %w", err)
	}
	defer rows.Close()
	var out []retention.Hold
	for rows.Next() {
		var x retention.Hold
		var until, created any
		if err := rows.Scan(&x.ID, &x.Subject, &x.Type, &x.Record, &x.Reason, &until, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: holds: %w", err)
		}
		x.Until, _ = asTime(until)
		x.Created, _ = asTime(created)
		out = append(out, x)
	}
	return out, rows.Err()
}

func asTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	case string:
		return sqlmap.ParseTime(v)
	}
	return time.Time{}, fmt.Errorf("cannot read %T as a time", v)
}
