// Package gormpii is the GORM plugin of github.com/fieldguard/pii/guard:
// models tagged with `pii` are protected before they are created or saved
// and opened after they are read, every statement on a type with a
// pii:"tenant" field is scoped to one tenant, and equality lookups of
// sealed fields go through their blind index or deterministic ciphertext.
// It is a module of its own so that the library's go.mod does not make its
// users download GORM.
//
//	db.Use(gormpii.New(g, nil))
//	db.Create(&customer)                                       // protected, then INSERT
//	db.Scopes(gormpii.Tenant("acme")).First(&c, "id = ?", id) // opened
//	db.Scopes(gormpii.FindBy("acme", "Email", addr)).Find(&found)
//	db.Scopes(gormpii.Tenant("acme"), gormpii.Permit(p)).Find(&all) // tokens p allows reversed
//
// # Callbacks
//
// Before create and update the plugin calls guard.Guard.Protect on the
// records of the statement (a struct or a slice of them), in place: after
// Create or Save the value holds what was written. A batch is protected
// with one Protect, so the keys of its new data subjects are looked up and
// inserted together, in the statement's transaction. Updates from a map (or
// Update("column", v)) of a protected column are refused: a sealed value is
// bound to its tenant, type, field and record, which a map does not name;
// save the struct. After a query it checks every row against the request
// (its tenant; for FindBy, the looked-up column), refuses a clear value in
// a sealed column (envelope.ErrNotSealed), opens the rows with the
// statement's Permit (all of them with one Open, which reads their keys
// with one query) and drops FindBy rows whose opened value differs (a
// short blind index matches other values now and then). A failed check
// fails the statement and leaves nothing in the destination.
//
// # Tenants
//
// Queries, updates and deletes of a type with a pii:"tenant" field need
// the Tenant (or FindBy) scope, which adds the tenant filter; Save and
// Delete of a record that names its tenant use the record's. Creates under
// a Tenant scope refuse records of another tenant.
//
// # Transactions and storage
//
// Inside a GORM transaction the plugin passes it to the Guard
// (pii.WithExecutor), so the keys and tokens a create makes commit or roll
// back with its rows: the Guard's tables must then be in GORM's database
// (Options.SeparateDatabase otherwise). Register maps a model to the
// Guard's retention (Forget, Sweep, Export) with GORM's table and column
// names. Raw SQL (db.Raw, db.Exec, Rows) bypasses the callbacks: call
// Protect and Open yourself there.
package gormpii
