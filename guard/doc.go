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
// tokens a [tokenize.Permit] allows; the others stay tokens. [Guard.View] opens what a
// viewer may see and masks the rest; it never shows sealed text.
// [Guard.Reveal] returns one clear value to a role allowed to see it, audited.
// Each takes a pointer to a struct or a slice of structs.
//
// # Protected or clear
//
// A struct is either protected (as stored: sealed text, tokens) or clear
// (new, or returned by Open). Tokens of phone numbers, e-mail addresses, SSNs
// and generic values cannot be told from values, so Protect, Open and View
// read the state from what can be told:
//
//   - encrypted string fields: sealed text ("pii1.…") says protected, a
//     clear value says clear;
//   - token fields, each on its own where the form tells: a card or IBAN
//     that passes its check digits is a value (tokens fail them); a
//     token=hmac pseudonym has a form of its own; a token annotated by Open
//     ("PHONE(16):+44 …") is a token.
//
// Token fields whose form does not tell take the state of the encrypted
// fields. When those are split (some sealed, some clear: a value set on a
// struct read without Open) or hold nothing, such a token field is
// ambiguous, and the call fails with [ErrAmbiguous] rather than guess; a
// wrong guess would tokenize a token twice (the value is lost) or store a
// value in clear. Open keeps the rule true of what it returns: a token it
// does not reverse is annotated (tokenize.Annotate's form), and a value it
// may not open (retention refuses it, or its subject was forgotten) stays
// sealed inside a kept marker, "SEALED(n):pii1.…"; Protect restores both as
// they were. What the rule cannot catch: a new clear value written into a
// token field of a struct that is still protected (read without Open),
// where the field's format cannot tell, is taken for a token. Change values
// only on new structs and on structs returned by Open.
//
// A failed Protect leaves the struct as it was (tokens drawn in a stored
// token table before the failure stay there until their subject is
// forgotten or they expire), so a retry cannot tokenize twice.
//
// [Guard.Forget] answers an erasure request across every registered type:
// data keys, stored tokens, blind indexes and rows, honouring legal holds and
// min= retention, with one ledger entry per field and one for the keys. [Guard.Sweep] runs the
// retention sweep. [Guard.Retention] returns the retention Manager for legal
// holds and ledger lookups. [Guard.Export] answers an access request with
// every tagged value held about one data subject, opened, as portable JSON,
// and is audited like a reveal. [Guard.BreachReport] says, for a
// compromised key, which tenants, subjects, categories and fields it
// exposes. [Guard.Rotate] runs a KMS key rotation (add, prove, promote,
// rewrap, verify, disable) as one resumable call.
//
// # Keys and secrets
//
// Every key lives in the PREFIX+"keys" table (envelope/sqlkeystore): branch
// keys and search root keys wrapped by the KMS, data keys wrapped by branch
// keys, and the Guard's own secrets (the tokenizer's root key, the retention
// ledger key, the pseudonym key of anonymize), each a 32-byte random key
// made on first use, wrapped by the KMS and stored as an envelope.KindSecret
// record, so a KMS rotation rewraps them with the branch keys and nothing
// secret lives in configuration. The first Guard to need one makes it; two
// processes racing to make it end with one (insert-if-absent; the loser
// uses the winner's). Options.LedgerKey exists only to adopt a ledger
// written before the Guard under a key of your own.
//
// The Sealer needs the retention Manager's read check and the Manager needs
// the Sealer to shred keys; the Guard builds the Sealer first with a read
// check that reaches the Manager through the Guard, and the Manager, with
// the Sealer as its shredder and the tokenizer as its token deleter, on
// first use.
//
// # Tables and your own queries
//
// [Table] maps a tagged type to a table through its `db` tags (the mapping
// retention/sqlstore reads) and protects on write, opens on read, scopes by
// tenant and handles nullable columns; every row a query returns is checked
// against the request (tenant, id, looked-up value) before it is opened.
// It joins the caller's transaction through [pii.WithExecutor], the one way
// this module joins a *sql.Tx or *sql.Conn. A sealed value is bound to its
// tenant, type, field and record, which a per-value driver.Valuer cannot
// know: that is why there is no Valuer, and why code that runs its own
// queries (sqlc, sqlx, pgx, ent) calls Protect before writing, Open after
// reading and [Guard.Lookup] to search a sealed field, checking each row's
// tenant itself. examples/sqlcstyle (database/sql, in the shape sqlc
// generates) and examples/pgx (pgx's native interface) show both; GORM has
// a plugin, the nested module github.com/fieldguard/pii/gormpii.
//
// # Existing data and search keys
//
// [Migration] seals the plaintext columns of a live table in place, or
// opens them back ([Migration.Unseal]), in resumable batches with their
// cursor in the database, a progress callback, a dry run, a rate limit and
// a verification pass; reads through a Table with
// TableOptions.AcceptPlaintext accept both forms meanwhile and count what
// is still in clear. [Guard.RotateSearchKeys] rotates the tenants' search
// root keys (blind indexes, deterministic values) one step per call,
// re-indexing every registered table, without a lookup ever missing a row.
//
// # Types
//
// Every type the Guard must consider before destroying anything is
// registered: [NewTable] registers its type; code with its own storage passes
// a retention.Store to [Guard.Register]. Forget, Sweep, Export and the shred
// checks read every registered type, so a shred never destroys a key that a
// value of another type still needs.
//
// # Security model
//
// The Guard holds no key of its own outside the KMS: every key and secret
// is wrapped (by the KMS, or by a branch key the KMS wraps) in the key
// table, bound by associated data to where it belongs, and every key-store,
// token-store and retention-store row is checked against what was asked
// before it is used. Identity is (tenant, subject) in every call: Forget,
// Export and BreachReport read only the tenant's rows, and Export refuses a
// store that answers with another tenant's or subject's record. View never
// shows sealed text or a token where a value is shown; fields a viewer is
// denied are not opened. Reveals and exports are audited through the audit
// sink (the PREFIX+"audit" table by default, written outside the caller's
// transaction so a rollback does not erase the record of a reveal), and a
// failing sink stops them. What the Guard cannot do is the module's: protect
// data from a process that holds the keys, or erase memory reliably.
//
// # Errors
//
// Errors start with "guard:" or with the package that failed ("envelope:",
// "tokenize:", "retention:", "mask:") and never carry a value, a token or
// key bytes; errors about one field are a *pii.FieldError naming the type,
// the field and the record. [ErrAmbiguous] reports a struct Protect, Open
// or View cannot tell the state of; [ErrRotateVerify] a rotation whose
// verification failed (the old key version is kept); envelope.ErrEmptySubject
// a record with an empty subject field.
package guard
