// Package sqlstore adapts retention to database/sql: a [Table] is a
// retention.Store over one table, mapped from the struct's `pii` and `db`
// tags; [Ledger] keeps the erasure ledger in its own append-only table and
// [Holds] the legal holds. SQLite (modernc.org/sqlite) and PostgreSQL are
// supported.
//
// A claim selects the next batch of candidates by their clock columns in id
// order and keeps its transaction open until the sweeper commits: on
// PostgreSQL with SELECT ... FOR UPDATE SKIP LOCKED, so several sweepers
// share the work and none applies an action twice; on SQLite in BEGIN
// IMMEDIATE, so sweepers take turns. Updates, deletes and ledger inserts of
// a batch commit together. Index the clock columns (and the subject column,
// for erasure requests) so claims stay cheap on large tables.
//
// # Mapping
//
// Every exported top-level field, and the fields of nested structs
// (Address.Postcode becomes address_postcode), map to a column: the `db`
// tag's name, or the field name in snake_case; db:"-" leaves a field out.
// The id column is the field tagged pii:"id" (else "id"); the creation
// clock is a CreatedAt field unless Mapping.Created names another column.
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
