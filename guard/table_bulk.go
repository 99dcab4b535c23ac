// InsertMany: multi-row inserts.

package guard

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
)

// maxParams bounds the parameters of one SQLite statement (its default
// SQLITE_MAX_VARIABLE_NUMBER is 32766); maxBatch bounds the rows.
const (
	maxParams = 32766
	maxBatch  = 1000
)

// InsertMany protects every element of vs in place and inserts them with
// multi-row statements: on PostgreSQL one INSERT ... SELECT FROM unnest of
// one array per column per batch (the statement text does not depend on
// the number of rows, so the driver's statement cache stays small), on
// SQLite INSERT ... VALUES with many rows. Without a transaction of yours
// in ctx (pii.WithExecutor), the batches run in one transaction of its
// own: either every row is inserted or none is.
func (t *Table[T]) InsertMany(ctx context.Context, vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	// One Protect for the batch: its keys are looked up and made together.
	if err := t.g.Protect(ctx, vs); err != nil {
		return err
	}
	batch := min(maxBatch, maxParams/len(t.m.Cols))
	if pii.ExecutorFrom(ctx, nil) != nil || len(vs) <= batch {
		return t.insertBatches(ctx, t.exec(ctx), vs, batch)
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("guard: insert into %s: begin: %w", t.m.Table, err)
	}
	if err := t.insertBatches(ctx, tx, vs, batch); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("guard: insert into %s: commit: %w", t.m.Table, err)
	}
	return nil
}

func (t *Table[T]) insertBatches(ctx context.Context, ex pii.Executor, vs []T, batch int) error {
	for len(vs) > 0 {
		n := min(batch, len(vs))
		var q string
		var args []any
		var err error
		if t.d == sqldialect.Postgres {
			q, args, err = t.insertArrays(vs[:n])
		} else {
			q, args = t.insertValues(vs[:n])
		}
		if err != nil {
			return err
		}
		if _, err := ex.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("guard: insert into %s: %w", t.m.Table, err)
		}
		vs = vs[n:]
	}
	return nil
}

// insertValues is INSERT INTO t (...) VALUES (...), (...) with ?
// placeholders (SQLite).
func (t *Table[T]) insertValues(vs []T) (string, []any) {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.m.Cols)), ", ") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.m.Table + " (" + t.m.SelectList + ") VALUES ")
	args := make([]any, 0, len(vs)*len(t.m.Cols))
	for i := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
		args = t.args(args, reflect.ValueOf(&vs[i]).Elem())
	}
	return b.String(), args
}

// insertArrays is INSERT INTO t (...) SELECT * FROM unnest($1::text[],
// ...) with one array per column (PostgreSQL).
func (t *Table[T]) insertArrays(vs []T) (string, []any, error) {
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.m.Table + " (" + t.m.SelectList + ") SELECT * FROM unnest(")
	args := make([]any, 0, len(t.m.Cols))
	vals := make([]any, len(vs))
	for i, c := range t.m.Cols {
		for r := range vs {
			vals[r] = t.arg(reflect.ValueOf(&vs[r]).Elem(), i)
		}
		arr, err := sqlmap.PgArray(c.Type, vals)
		if err != nil {
			return "", nil, fmt.Errorf("guard: insert into %s: %w", t.m.Table, err)
		}
		args = append(args, arr)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1) + "::" + sqlmap.PgType(c.Type) + "[]")
	}
	b.WriteString(")")
	return b.String(), args, nil
}
