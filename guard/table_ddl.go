// The data table's DDL, derived from the mapping.

package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
)

// DDL returns the statements that create the table and its indexes if they
// do not exist, each ending in ";", for migration tools (goose,
// golang-migrate, atlas); Guard.CreateTables runs them. Columns take their
// types from the fields (TEXT, BIGINT, BOOLEAN, DOUBLE PRECISION, BYTEA or
// BLOB, TIMESTAMPTZ or TIMESTAMP); the row key is the primary key and NOT
// NULL, every other column is nullable (retention writes NULL). Indexes:
// (tenant, subject) for erasure and access requests, (tenant, column) for
// each blind index companion and encrypt=det column FindBy compares, and
// each retention clock column for sweeps.
func (t *Table[T]) DDL() string {
	return strings.Join(t.ddl(), ";\n\n") + ";\n"
}

func (t *Table[T]) ddl() []string {
	m := t.m
	var cols []string
	for i, c := range m.Cols {
		def := c.Name + " " + sqlType(t.d, c.Type)
		if i == m.ID || i == m.Tenant {
			def += " NOT NULL"
		}
		cols = append(cols, def)
	}
	cols = append(cols, "PRIMARY KEY ("+m.OrderBy+")")
	stmts := []string{"CREATE TABLE IF NOT EXISTS " + m.Table + " (\n\t" + strings.Join(cols, ",\n\t") + ")"}
	prefix := ""
	if m.TenantCol != "" {
		prefix = m.TenantCol + ", "
	}
	seen := map[string]bool{}
	index := func(cols string) {
		if seen[cols] {
			return
		}
		seen[cols] = true
		stmts = append(stmts, t.createIndex(cols))
	}
	if m.SubjectCol != "" {
		index(prefix + m.SubjectCol)
	}
	for _, f := range m.Schema.Fields {
		switch {
		case f.Opts.Index && f.Opts.IndexField != "":
			path := f.Opts.IndexField
			if i := strings.LastIndexByte(f.Path, '.'); i >= 0 {
				path = f.Path[:i+1] + path
			}
			if c, ok := m.ByPath[path]; ok {
				index(prefix + c.Name)
			}
		case f.Opts.Encrypt == pii.EncryptDet:
			if c, ok := m.ByPath[f.Path]; ok {
				index(prefix + c.Name)
			}
		}
	}
	if m.CreatedCol != "" && m.Created >= 0 {
		index(m.CreatedCol)
	}
	for _, f := range m.Schema.Fields {
		if f.Opts.From != "" {
			if c, ok := m.Clocks[f.Opts.From]; ok {
				index(c)
			}
		}
	}
	return stmts
}

// createIndex names an index after its table's base name and columns
// (hashed when longer than an identifier may be) and, on SQLite, puts it
// in the table's schema (the attached database), as triggers are.
func (t *Table[T]) createIndex(cols string) string {
	base := sqldialect.BaseName(t.m.Table)
	schema := t.m.Table[:len(t.m.Table)-len(base)]
	name := base + "_" + strings.ReplaceAll(cols, ", ", "_") + "_idx"
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(name))
		name = name[:50] + "_" + hex.EncodeToString(sum[:6])
	}
	if t.d == sqldialect.Postgres {
		return "CREATE INDEX IF NOT EXISTS " + name + " ON " + t.m.Table + " (" + cols + ")"
	}
	return "CREATE INDEX IF NOT EXISTS " + schema + name + " ON " + base + " (" + cols + ")"
}

func sqlType(d sqldialect.Dialect, t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pg := d == sqldialect.Postgres
	if t == reflect.TypeFor[time.Time]() {
		if pg {
			return "TIMESTAMPTZ"
		}
		return "TIMESTAMP"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "BOOLEAN"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if pg {
			return "BIGINT"
		}
		return "INTEGER"
	case reflect.Float32, reflect.Float64:
		if pg {
			return "DOUBLE PRECISION"
		}
		return "REAL"
	case reflect.Slice:
		if pg {
			return "BYTEA"
		}
		return "BLOB"
	}
	return "TEXT"
}

// createTable runs the DDL in one transaction. On PostgreSQL it takes an
// advisory lock named after the table first, so that processes starting
// together do not race on CREATE ... IF NOT EXISTS (which is not safe
// against a concurrent creation).
func (t *Table[T]) createTable(ctx context.Context) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("guard: create table %s: %w", t.m.Table, err)
	}
	defer tx.Rollback()
	if t.d == sqldialect.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "fieldguard/pii guard "+t.m.Table); err != nil {
			return fmt.Errorf("guard: create table %s: %w", t.m.Table, err)
		}
	}
	for _, s := range t.ddl() {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("guard: create table %s: %w", t.m.Table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("guard: create table %s: %w", t.m.Table, err)
	}
	return nil
}
