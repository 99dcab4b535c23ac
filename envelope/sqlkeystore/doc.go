// Package sqlkeystore is an envelope.KeyStore on database/sql, tested on
// SQLite (modernc.org/sqlite) and PostgreSQL (pgx stdlib). It has the
// shape of every SQL store of the module: New(db, *Options),
// CreateTables, DDL for migration tools, schema-qualified table names,
// and reads and writes that join the caller's transaction.
//
//	keys, err := sqlkeystore.New(db, nil) // the dialect is read from db's driver
//	err = keys.CreateTables(ctx)          // or run DDL(&Options{Dialect: ...}) in a migration
//	sealer, err := envelope.New(kp, &envelope.Options{Store: keys})
//
// One table holds every wrapped key (branch keys, DEKs, search root keys)
// and the tombstones of forgotten subjects (their id is the watermark of
// the shredded DEK ids; Forget deletes with DELETE ... RETURNING so the
// watermark is taken from exactly the rows it removed). Rows hold
// ciphertext only; a database dump without the KMS reveals no key. Insert
// is INSERT ... ON CONFLICT DO NOTHING RETURNING (the row it reports is the
// row it wrote, even with a Forget racing it) and Replace a
// compare-and-swap UPDATE, so several processes can share the table. The package passes
// envelope/keystoretest.
//
// The batch methods a Seal or Open over a slice calls are one statement
// per 1,000 rows: InsertMany one multi-row INSERT ... ON CONFLICT DO
// NOTHING RETURNING (rows sorted by key, so two transactions inserting
// overlapping batches lock them in the same order; rows it did not insert
// are read back with one GetMany), GetMany and LatestMany a VALUES list of
// what was asked joined to the table so that each row asked is one
// primary-key lookup (CROSS JOIN on SQLite, LATERAL on PostgreSQL).
//
// # Transactions
//
// Every statement runs on pii.ExecutorFrom(ctx, db): under
// pii.WithExecutor(ctx, tx) the key rows a Seal makes (a new subject's
// DEK, a tenant's first branch or search root key) are written in the
// caller's transaction and commit or roll back with the application's own
// rows. The Sealer keeps nothing it loaded under a transaction in the
// caches later calls use without reading the store, so after a rollback
// nothing is sealed under a key whose row is gone. Forget runs in the
// caller's *sql.Tx when there is one, else in a transaction of its own.
// The transaction must be on the database the Store was made with.
//
// # Schema
//
// CreateTables makes (idempotently), and DDL returns,
//
//	pii_keys(kind, tenant, scope, id, wrapped, parent, kek, created, used,
//	         PRIMARY KEY (kind, tenant, scope, id))
//
// with BLOB (SQLite) or BYTEA and the "C" collation (PostgreSQL). created
// is Unix microseconds; used counts the messages reserved under a DEK by
// every process together (Reserve). A table made before used existed
// needs it added: ALTER TABLE pii_keys ADD COLUMN used BIGINT NOT NULL
// DEFAULT 0. Options.Table may be schema-qualified
// ("app.pii_keys"); names are checked with the same rule as every SQL
// store of the module (letters, digits and underscores, at most 63
// characters per part). The table has no named index or constraint
// besides its inline primary key, so nothing else is named after it.
// Insert and Forget need RETURNING (SQLite 3.35 or later, any
// PostgreSQL).
//
// # Shred notifications
//
// On PostgreSQL, Forget also runs pg_notify(channel, bucket) in its
// transaction, on the channel named by the table with "_shred" (or
// "pii_shred_" and a hash of it when that is too long): the notification
// goes out when the forget commits, never for one that rolls back, and
// carries the scope's bucket (one of 4096) in decimal, not the tenant or
// the subject (any role that can connect may LISTEN). Package
// envelope/sqlkeystore/pglisten listens on its own pgx connection and
// delivers them to a Sealer (pglisten.Follow), so every process stops using
// a forgotten subject's keys as the forget commits, and confirms its
// cached keys without reading them while it keeps up. Without it, and on
// SQLite, the Sealer's Cache.ShredCheck bounds the delay.
//
// # Errors
//
// A missing row is envelope.ErrNotFound and a lost compare-and-swap
// envelope.ErrConflict; other database errors are wrapped with the
// operation ("sqlkeystore: get: ...") and never include key bytes.
package sqlkeystore
