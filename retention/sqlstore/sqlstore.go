package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/sqlmap"
	"github.com/fieldguard/pii/retention"
)

// Mapping maps a struct type to a table. Fields not listed are derived:
// the column is the field's `db` tag (db:"-" leaves it out), or its name in
// snake_case.
//
// A row is identified by its row key: (tenant column, id column) when the
// type has a pii:"tenant" field, else the id column alone. The tenant
// column is the pii:"tenant" field's column; New refuses a type with a
// tenant field that maps to no column, since ids need only be unique
// within a tenant. The table must make the row key unique (its primary
// key), and the tenant column NOT NULL.
type Mapping struct {
	// Table is the table name, optionally schema-qualified
	// ("app.customer"); default the type name in snake_case.
	Table string
	// ID is the id column; default the column of the field tagged pii:"id",
	// else "id".
	ID string
	// Created is the column holding the creation time (the default
	// retention clock); default the column of a CreatedAt field, if any.
	Created string
	// Columns maps Go field names (top level) to columns, overriding the
	// derived names.
	Columns map[string]string
}

// Options configure a Table, a Ledger or the hold store; nil means defaults.
// Table names may be schema-qualified ("app.retention_ledger"; on SQLite
// the schema is an attached database).
type Options struct {
	// Dialect: the zero value reads it from the driver; [DDL] needs it
	// set to pii.SQLite (BEGIN IMMEDIATE claims) or pii.Postgres (FOR
	// UPDATE SKIP LOCKED claims).
	Dialect pii.Dialect
	// Mapping overrides the derived table mapping.
	Mapping *Mapping
	// LedgerTable names the ledger table; default "retention_ledger".
	LedgerTable string
	// HoldsTable names the holds table; default "retention_holds".
	HoldsTable string
	// PendingTable names the table of pending key shreds, kept beside the
	// holds; default "retention_pending_shreds".
	PendingTable string
}

func (o *Options) dialect(db *sql.DB) (sqldialect.Dialect, error) {
	var pd pii.Dialect
	if o != nil {
		pd = o.Dialect
	}
	d, err := sqldialect.Resolve(db, pd)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %w", err)
	}
	return d, nil
}

func (o *Options) ledgerTable() string {
	if o != nil && o.LedgerTable != "" {
		return o.LedgerTable
	}
	return "retention_ledger"
}

func (o *Options) holdsTable() string {
	if o != nil && o.HoldsTable != "" {
		return o.HoldsTable
	}
	return "retention_holds"
}

func (o *Options) pendingTable() string {
	if o != nil && o.PendingTable != "" {
		return o.PendingTable
	}
	return "retention_pending_shreds"
}

// validTable checks a table name with the identifier rule every SQL store
// of the module shares.
func validTable(what, name string) error {
	if err := sqldialect.ValidTable(what, name); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// Table is a retention.Store over one table.
type Table struct {
	db     *sql.DB
	d      sqldialect.Dialect
	m      *sqlmap.Map
	schema *pii.Schema
	table  string
	ledger *Ledger
}

// pos is a row's position in row key order, passed back as Query.After.
type pos struct {
	tenant any // nil without a tenant column
	id     any
}

var _ retention.Store = (*Table)(nil)

// New returns the store for the struct type of prototype in db, its mapping
// derived from the `pii` and `db` tags and opts. It runs no SQL: the data
// table is the application's, and the ledger it appends to (the one
// [NewLedger] returns for the same opts, which the retention.Manager is
// given as Options.Ledger) is created by [Ledger.CreateTables] (or by a
// migration tool applying [DDL]).
func New(db *sql.DB, prototype any, opts *Options) (*Table, error) {
	s, err := pii.SchemaOf(prototype)
	if err != nil {
		return nil, err
	}
	d, err := opts.dialect(db)
	if err != nil {
		return nil, err
	}
	var mp Mapping
	if opts != nil && opts.Mapping != nil {
		mp = *opts.Mapping
	}
	m, err := sqlmap.New(s, sqlmap.Mapping(mp))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	t := &Table{db: db, d: d, m: m, schema: s, table: m.Table}
	t.ledger, err = NewLedger(db, opts)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Schema returns the stored type's schema.
func (t *Table) Schema() *pii.Schema { return t.schema }

// TableName returns the table's name as given (schema-qualified when it
// was), for reports that say where a value is held (guard's Export).
func (t *Table) TableName() string { return t.table }

// PipelineClaims reports true on PostgreSQL, where a claim skips rows an
// uncommitted claim still locks: the sweeper evaluates the next batch while
// the previous one commits (the optional ability of a retention.Store).
func (t *Table) PipelineClaims() bool { return t.d == sqldialect.Postgres }
