// Package guard is the one object a service holds for its personal data.
//
// A Guard is built from a key provider and a *sql.DB. It wires the parts of
// this module that a service otherwise wires by hand, in the order that keeps
// them safe:
//
//   - an envelope Sealer with its keys in the database (envelope/sqlkeystore);
//   - a Tokenizer whose root key is wrapped by the KMS and kept in the same
//     key store, so a rewrap or a rotation covers it like any branch key;
//   - the stored-token table (tokenize/sqltokenstore);
//   - mask views whose audit events go to a table in the same database;
//   - a retention Manager with its ledger and legal holds, whose read check
//     runs before anything is opened and whose shredder is the Sealer.
//
// One [Guard.CreateTables] (idempotent) creates every table; [DDL] returns the
// same statements for migration tools (goose, golang-migrate, atlas).
// [NewMemory] builds the same object on in-memory stores, for tests.
//
// # The struct-level path
//
//	g, err := guard.New(kp, db, nil)
//	...
//	err = g.CreateTables(ctx)
//	customers, err := guard.NewTable[Customer](g, &guard.TableOptions{Table: "customers"})
//	err = customers.Insert(ctx, &c)                         // protect, then INSERT
//	got, err := customers.FindBy(ctx, "acme", "Email", addr) // blind-index lookup, opened
//	view := *got
//	err = g.View(ctx, agent, &view)                          // masked for that agent and channel
//	report, err := g.Forget(ctx, "acme", "cust-42")          // keys, tokens, indexes, rows; one ledger entry
//
// [Guard.Protect] tokenizes, seals and indexes a tagged struct in place, in
// that order, and is idempotent: a protected struct is never tokenized twice.
// [Guard.Open] opens what is sealed and then reverses, field by field, the
// tokens a [Permit] allows; the others stay tokens. [Guard.View] opens what a
// viewer may see and masks the rest; it never shows sealed text.
//
// [Guard.Forget] answers an erasure request across every registered type:
// data keys, stored tokens, blind indexes and rows, honouring legal holds and
// min= retention, with one ledger entry per field. [Guard.Sweep] runs the
// retention sweep. [Guard.Export] answers an access request with every tagged
// value held about one data subject, opened, as portable JSON, and is audited
// like a reveal. [Guard.BreachReport] says, for a compromised key, which
// tenants, subjects, categories and fields it exposes. [Guard.Rotate] runs a
// KMS key rotation (add, prove, promote, rewrap, verify, disable) as one
// resumable call.
//
// # Tables and your own queries
//
// [Table] maps a tagged type to a table through its `db` tags (the mapping
// retention/sqlstore reads) and protects on write, opens on read, scopes by
// tenant and handles nullable columns. It joins the caller's transaction
// through [pii.WithExecutor]. A sealed value is bound to its tenant, type,
// field and record, which a per-value driver.Valuer cannot know: that is why
// there is no Valuer, and why code that runs its own queries (sqlc, sqlx, pgx,
// ent) calls Protect before writing and Open after reading.
//
// # Types
//
// Every type the Guard must consider before destroying anything is
// registered: [NewTable] registers its type; code with its own storage passes
// a retention.Store to [Guard.Register]. Forget, Sweep, Export and the shred
// checks read every registered type, so a shred never destroys a key that a
// value of another type still needs.
package guard
