// Package sqlstore adapts retention to database/sql: a [Table] is a
// retention.Store over one table, mapped from the struct's `pii` and `db`
// tags; [Ledger] keeps the erasure ledger in its own append-only table and
// the hold store of [NewHolds] the legal holds and the pending key shreds. SQLite
// (modernc.org/sqlite) and PostgreSQL are supported.
//
// A claim selects the next batch of candidates by their clock columns in
// row key order and keeps its transaction open until the sweeper commits: on
// PostgreSQL with SELECT ... FOR UPDATE SKIP LOCKED, so several sweepers
// share the work and none applies an action twice; on SQLite in BEGIN
// IMMEDIATE, so sweepers take turns. Updates, deletes and ledger inserts of
// a batch commit together. Index the clock columns (and (tenant, subject),
// for erasure requests) so claims stay cheap on large tables.
//
// # Mapping
//
// Every exported top-level field, and the fields of nested structs
// (Address.Postcode becomes address_postcode), map to a column: the `db`
// tag's name, or the field name in snake_case; db:"-" leaves a field out
// unless Mapping.Columns names it. The id column is the field tagged
// pii:"id" (else "id"); the creation clock is a CreatedAt field unless
// Mapping.Created names another column.
//
// # Tenants and row keys
//
// Ids need only be unique within a tenant, so a row is identified by its
// row key, (tenant column, id column), where the tenant column is the
// pii:"tenant" field's; a type without a tenant field has the row key
// (id) and holds only the tenant "". Every claim, UPDATE and DELETE names
// the whole row key, and subject and record queries filter by the tenant:
// nothing done for one tenant touches another's rows, whatever ids they
// share. [New] refuses a type whose tenant field maps to no column, and
// says what to add. Make the row key the table's primary key (PRIMARY KEY
// (tenant, id), the tenant NOT NULL), so that it is unique.
//
// # Names
//
// Table and column names are checked with the rule every SQL store of the
// module shares: letters, digits and underscores, starting with a letter or
// underscore, at most 63 characters; tables may be schema-qualified
// ("app.retention_ledger"; on SQLite the schema is an attached database).
// Triggers and functions beside a table are named after its base name and
// live in its schema.
//
// # Schema and transactions
//
// Constructors ([New], [NewLedger], [NewHolds]) run no SQL.
// [Ledger.CreateTables] creates the ledger, holds and pending shreds
// tables in one transaction, so a failure leaves nothing behind; it is idempotent.
// [DDL] returns exactly those statements, for migration tools (goose,
// golang-migrate, atlas). The application's data tables are its own.
//
// Under pii.WithExecutor(ctx, tx), ledger appends, holds and pending
// shreds are read and written through tx, so they commit or roll back
// with the application's own rows. A claim keeps its own transaction, in
// which its changes and ledger entries commit together.
// Tagged fields inside slices and maps have no column and are refused.
// Zero values are written as NULL. On SQLite, store times through the
// driver (time.Time parameters, in UTC) in TIMESTAMP columns so that clock
// comparisons order correctly.
//
// # Security model
//
// The ledger and holds tables hold keyed hashes, names of types and fields,
// actions, policies and reasons; never ids or values. Errors name tables
// and columns, never values.
//
// # Errors
//
// Errors start with "sqlstore:" and wrap the driver's error with %w.
package sqlstore
