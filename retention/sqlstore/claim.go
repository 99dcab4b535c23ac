// Claims: selecting, locking and decoding a batch, and committing its
// changes (updates, deletes, ledger entries) in the claim's transaction.

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
	"github.com/fieldguard/pii/retention"
)

// ph returns the n-th (1-based) placeholder.
func (t *Table) ph(n int) string { return t.d.Placeholder(n) }

// Claim selects, locks and decodes the next batch. Subject and Record
// queries always filter by the tenant column (a type without one holds
// only the tenant ""); rows come in row key order.
func (t *Table) Claim(ctx context.Context, q retention.Query) (retention.Claim, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return t.ph(len(args))
	}
	if q.After != nil {
		p, ok := q.After.(pos)
		if !ok {
			return nil, fmt.Errorf("sqlstore: %s: Query.After is not a position this table returned", t.schema.Name)
		}
		if t.m.TenantCol != "" {
			where = append(where, "("+t.m.TenantCol+", "+t.m.IDCol+") > ("+arg(p.tenant)+", "+arg(p.id)+")")
		} else {
			where = append(where, t.m.IDCol+" > "+arg(p.id))
		}
	}
	tenant := func() bool {
		if t.m.TenantCol == "" {
			return q.Tenant == ""
		}
		where = append(where, t.m.TenantCol+" = "+arg(t.keyArg(t.m.Tenant, q.Tenant)))
		return true
	}
	switch {
	case q.All:
	case q.Record != "":
		if !tenant() {
			return &claim{t: t}, nil
		}
		where = append(where, t.m.IDCol+" = "+arg(t.idArg(q.Record)))
	case q.Subject != "":
		if t.m.SubjectCol == "" {
			return nil, fmt.Errorf("sqlstore: %s has no subject column", t.schema.Name)
		}
		if !tenant() {
			return &claim{t: t}, nil
		}
		where = append(where, t.m.SubjectCol+" = "+arg(t.keyArg(t.m.Subject, q.Subject)))
	default:
		var ors []string
		for _, c := range q.Clocks {
			col := t.m.CreatedCol
			if c.Field != "" {
				col = t.m.Clocks[c.Field]
			}
			if col == "" {
				return nil, fmt.Errorf("sqlstore: %s: no column for the clock %q", t.schema.Name, c.Field)
			}
			ors = append(ors, col+" <= "+arg(c.Before.UTC()))
		}
		if len(ors) == 0 {
			return &claim{t: t}, nil
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	query := "SELECT " + t.m.SelectList + " FROM " + t.table
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + t.m.OrderBy
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	if t.d == sqldialect.Postgres && !q.ReadOnly {
		query += " FOR UPDATE SKIP LOCKED"
	}
	x, err := t.begin(ctx, q.ReadOnly)
	if err != nil {
		return nil, err
	}
	recs, err := t.load(ctx, x.q, query, args, q.Limit)
	if err != nil {
		x.rollback()
		return nil, err
	}
	return &claim{t: t, x: x, recs: recs}, nil
}

// idArg converts a record key back to the id column's type.
func (t *Table) idArg(key string) any { return t.keyArg(t.m.ID, key) }

// keyArg converts text back to the type of column i.
func (t *Table) keyArg(i int, key string) any { return t.m.KeyArg(i, key) }

func (t *Table) load(ctx context.Context, q querier, query string, args []any, limit int) ([]retention.Record, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: select %s: %w", t.table, err)
	}
	defer rows.Close()
	recs := make([]retention.Record, 0, max(limit, 0))
	raw := make([]any, len(t.m.Cols))
	dest := make([]any, len(t.m.Cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlstore: scan %s: %w", t.table, err)
		}
		pv, err := t.m.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		root := pv.Elem()
		rec := retention.Record{Value: pv.Interface()}
		var p pos
		rec.Key, p.id = sqlmap.KeyOf(root.FieldByIndex(t.m.Cols[t.m.ID].Index))
		if t.m.Tenant >= 0 {
			rec.Tenant, p.tenant = sqlmap.KeyOf(root.FieldByIndex(t.m.Cols[t.m.Tenant].Index))
		}
		rec.Pos = p
		if t.m.Created >= 0 {
			if tm, ok := t.m.Field(root, t.m.Created).Interface().(time.Time); ok {
				rec.Created = tm
			}
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: select %s: %w", t.table, err)
	}
	return recs, nil
}

type claim struct {
	t    *Table
	x    *txn
	recs []retention.Record
}

func (c *claim) Records() []retention.Record { return c.recs }

func (c *claim) Rollback() error {
	if c.x == nil {
		return nil
	}
	return c.x.rollback()
}

// Commit writes the changes and ledger entries and commits.
func (c *claim) Commit(ctx context.Context, changes []retention.Change, entries []retention.Entry) error {
	if c.x == nil {
		if len(changes) > 0 || len(entries) > 0 {
			return errors.New("sqlstore: commit on an empty claim")
		}
		return nil
	}
	if err := c.write(ctx, changes, entries); err != nil {
		c.x.rollback()
		return err
	}
	if err := c.x.commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// rowKey is a row's key as driver arguments: the tenant (nil without a
// tenant column) and the id.
type rowKey struct{ tenant, id any }

func (t *Table) rowKey(tenant, key string) rowKey {
	k := rowKey{id: t.idArg(key)}
	if t.m.Tenant >= 0 {
		k.tenant = t.keyArg(t.m.Tenant, tenant)
	}
	return k
}

// keyWhere is the WHERE condition on the row key, with placeholders from n
// on (1-based).
func (t *Table) keyWhere(n int) string {
	if t.m.TenantCol == "" {
		return t.m.IDCol + " = " + t.ph(n)
	}
	return t.m.TenantCol + " = " + t.ph(n) + " AND " + t.m.IDCol + " = " + t.ph(n+1)
}

func (t *Table) keyArgs(args []any, k rowKey) []any {
	if t.m.TenantCol != "" {
		args = append(args, k.tenant)
	}
	return append(args, k.id)
}

func (c *claim) write(ctx context.Context, changes []retention.Change, entries []retention.Entry) error {
	t := c.t
	claimed := make(map[[2]string]bool, len(c.recs))
	for _, r := range c.recs {
		claimed[[2]string{r.Tenant, r.Key}] = true
	}
	var deletes []rowKey
	type group struct {
		cols []*sqlmap.Column
		rows []retention.Change
	}
	groups := map[string]*group{}
	var order []string
	for _, ch := range changes {
		// A claim writes only the rows it claimed: never a row of another
		// tenant that shares the id.
		if !claimed[[2]string{ch.Tenant, ch.Key}] {
			return fmt.Errorf("sqlstore: %s: a change names a row the claim did not select", t.schema.Name)
		}
		if ch.Delete {
			deletes = append(deletes, t.rowKey(ch.Tenant, ch.Key))
			continue
		}
		if len(ch.Fields) == 0 {
			continue
		}
		cols := make([]*sqlmap.Column, 0, len(ch.Fields))
		for _, p := range ch.Fields {
			col, ok := t.m.ByPath[p]
			if !ok {
				return fmt.Errorf("sqlstore: %s: no column for field %s", t.schema.Name, p)
			}
			if col.Name == t.m.IDCol || col.Name == t.m.TenantCol {
				return fmt.Errorf("sqlstore: %s: field %s is part of the row key and is never changed", t.schema.Name, p)
			}
			if !slices.Contains(cols, col) {
				cols = append(cols, col)
			}
		}
		var key strings.Builder
		for _, col := range cols {
			key.WriteString(col.Name)
			key.WriteByte(',')
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{cols: cols}
			groups[key.String()] = g
			order = append(order, key.String())
		}
		g.rows = append(g.rows, ch)
	}
	for _, k := range order {
		g := groups[k]
		var err error
		if t.d == sqldialect.Postgres {
			err = c.updateValues(ctx, g.cols, g.rows)
		} else {
			err = c.updateRows(ctx, g.cols, g.rows)
		}
		if err != nil {
			return err
		}
	}
	if len(deletes) > 0 {
		var err error
		if t.d == sqldialect.Postgres {
			err = c.deleteValues(ctx, deletes)
		} else {
			err = c.deleteRows(ctx, deletes)
		}
		if err != nil {
			return err
		}
	}
	return t.ledger.append(ctx, c.x.q, entries)
}

// deleteRows deletes rows by key with one prepared statement (SQLite).
func (c *claim) deleteRows(ctx context.Context, keys []rowKey) error {
	t := c.t
	st, err := c.x.q.PrepareContext(ctx, "DELETE FROM "+t.table+" WHERE "+t.keyWhere(1))
	if err != nil {
		return fmt.Errorf("sqlstore: prepare delete: %w", err)
	}
	defer st.Close()
	args := make([]any, 0, 2)
	for _, k := range keys {
		if _, err := st.ExecContext(ctx, t.keyArgs(args[:0], k)...); err != nil {
			return fmt.Errorf("sqlstore: delete from %s: %w", t.table, err)
		}
	}
	return nil
}

// deleteValues deletes rows by key in one statement whose text does not
// depend on their number (pgx caches a prepared statement per distinct
// text, so varying IN lists would grow it).
func (c *claim) deleteValues(ctx context.Context, keys []rowKey) error {
	t := c.t
	args, v, on, err := t.keyArrays(keys)
	if err != nil {
		return err
	}
	q := "DELETE FROM " + t.table + " AS t USING unnest(" + v + ") AS v(" + t.m.OrderBy + ") WHERE " + on
	if _, err := c.x.q.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("sqlstore: delete from %s: %w", t.table, err)
	}
	return nil
}

// keyArrays returns the row keys as PostgreSQL arrays ($1, and $2 with a
// tenant column), the unnest argument list, and the join condition of t
// to v on the key.
func (t *Table) keyArrays(keys []rowKey) (args []any, unnest, on string, err error) {
	ids := make([]any, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	idArr, err := sqlmap.PgArray(t.m.Cols[t.m.ID].Type, ids)
	if err != nil {
		return nil, "", "", err
	}
	if t.m.TenantCol == "" {
		return []any{idArr}, "$1::" + sqlmap.PgType(t.m.Cols[t.m.ID].Type) + "[]", "t." + t.m.IDCol + " = v." + t.m.IDCol, nil
	}
	tenants := make([]any, len(keys))
	for i, k := range keys {
		tenants[i] = k.tenant
	}
	tenArr, err := sqlmap.PgArray(t.m.Cols[t.m.Tenant].Type, tenants)
	if err != nil {
		return nil, "", "", err
	}
	return []any{tenArr, idArr},
		"$1::" + sqlmap.PgType(t.m.Cols[t.m.Tenant].Type) + "[], $2::" + sqlmap.PgType(t.m.Cols[t.m.ID].Type) + "[]",
		"t." + t.m.TenantCol + " = v." + t.m.TenantCol + " AND t." + t.m.IDCol + " = v." + t.m.IDCol, nil
}

// updateRows updates rows that change the same columns with one prepared
// statement: in-process SQLite runs it faster than a VALUES join.
func (c *claim) updateRows(ctx context.Context, cols []*sqlmap.Column, rows []retention.Change) error {
	t := c.t
	sets := make([]string, len(cols))
	for i, col := range cols {
		sets[i] = col.Name + " = " + t.ph(i+1)
	}
	st, err := c.x.q.PrepareContext(ctx, "UPDATE "+t.table+" SET "+strings.Join(sets, ", ")+" WHERE "+t.keyWhere(len(cols)+1))
	if err != nil {
		return fmt.Errorf("sqlstore: prepare update: %w", err)
	}
	defer st.Close()
	args := make([]any, 0, len(cols)+2)
	for _, ch := range rows {
		root := reflect.ValueOf(ch.Value).Elem()
		args = args[:0]
		for _, col := range cols {
			args = append(args, sqlmap.Value(root.FieldByIndex(col.Index)))
		}
		args = t.keyArgs(args, t.rowKey(ch.Tenant, ch.Key))
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlstore: update %s: %w", t.table, err)
		}
	}
	return nil
}

// updateValues updates many rows that change the same columns in one
// statement: UPDATE t SET c = v.c FROM unnest($1::text[], $2::bigint[],
// $3::text[], ...) v WHERE t.tenant = v.tenant AND t.id = v.id. PostgreSQL
// pays a round trip per statement, so this is what keeps a sweep close to
// the speed of hand-written SQL; and the statement text depends only on
// the columns, so the driver's prepared statement cache stays small
// however many rows a batch holds.
func (c *claim) updateValues(ctx context.Context, cols []*sqlmap.Column, rows []retention.Change) error {
	t := c.t
	keys := make([]rowKey, len(rows))
	for r, ch := range rows {
		keys[r] = t.rowKey(ch.Tenant, ch.Key)
	}
	args, unnest, on, err := t.keyArrays(keys)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("UPDATE " + t.table + " AS t SET ")
	for i, col := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col.Name + " = v." + col.Name)
	}
	b.WriteString(" FROM unnest(" + unnest)
	vals := make([]any, len(rows))
	for _, col := range cols {
		for r, ch := range rows {
			vals[r] = sqlmap.Value(reflect.ValueOf(ch.Value).Elem().FieldByIndex(col.Index))
		}
		arr, err := sqlmap.PgArray(col.Type, vals)
		if err != nil {
			return err
		}
		args = append(args, arr)
		b.WriteString(", $" + strconv.Itoa(len(args)) + "::" + sqlmap.PgType(col.Type) + "[]")
	}
	b.WriteString(") AS v(" + t.m.OrderBy)
	for _, col := range cols {
		b.WriteString(", " + col.Name)
	}
	b.WriteString(") WHERE " + on)
	if _, err := c.x.q.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("sqlstore: update %s: %w", t.table, err)
	}
	return nil
}
