// Package sqltokenstore keeps tokenize's stored tokens (token=stored) in a
// database/sql table, tested on SQLite (modernc.org/sqlite) and PostgreSQL
// (pgx stdlib). The caller opens the *sql.DB with the driver of its
// choice; the package imports none.
//
//	store, err := sqltokenstore.New(db, nil)
//	...
//	err = store.CreateTables(ctx) // or apply sqltokenstore.DDL(opts) with your migration tool
//	tk, err := tokenize.New(root, &tokenize.Options{Store: store})
//
// Rows hold no value in clear: the value is sealed (AES-256-GCM, bound to
// its token, tenant, subject and field) and the convergence lookup is a
// keyed hash; see tokenize.Record.
//
// # Transactions
//
// Every read and write goes through pii.ExecutorFrom(ctx, db): under a
// context from pii.WithExecutor(ctx, tx), the rows Tokenize writes and
// DeleteSubject deletes commit or roll back with the application's own
// rows in tx, so a rollback leaves no orphaned token behind. Nothing is
// cached between calls.
//
// # Schema
//
// CreateTables makes, idempotently and in one transaction,
//
//	pii_tokens(token PRIMARY KEY, tenant, field, subject, key_id,
//	           lookup, sealed, created_us, expires_us)
//
// with BLOB (SQLite) or BYTEA (PostgreSQL) for lookup and sealed, times in
// Unix microseconds (0: none), and the indexes pii_tokens_lookup (lookup),
// pii_tokens_subject (tenant, subject) and pii_tokens_expires
// (expires_us). DDL returns exactly these statements. Options.Table may
// be schema-qualified ("app.pii_tokens"); names follow the rule of every
// SQL store of the module (letters, digits and underscores, at most 63
// characters per part), and the error says so.
//
// # Backwards compatibility
//
// Before version 1 this store was tokenize.NewSQLStore, and its default
// table was "tokenize_vault" (with indexes tokenize_vault_lookup, …). To
// keep such a table, pass Options{Table: "tokenize_vault"}: the columns are
// unchanged.
//
// # Errors
//
// An unknown or expired token is tokenize.ErrNotFound and a taken token
// tokenize.ErrTokenExists; other database errors are wrapped with the
// operation ("sqltokenstore: put: ...") and never include a value or a
// token.
package sqltokenstore
