package guard

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/fieldguard/pii/retention/sqlstore"
)

// RegisterTable registers the table of a tagged struct type known only at
// run time, mapped through its `db` tags as NewTable maps it, so that
// Forget, Sweep, Export, Verify, Rotate and BreachReport consider its rows
// and no shred destroys a key they need. prototype is a value, a pointer
// or a reflect.Type of the struct, as pii.SchemaOf takes it.
//
// It is the registration NewTable does, without the typed helper: for
// tools that work on an application's tables without its Go types, such
// as the pii command, which rebuilds each type from source with
// reflect.StructOf and gives it the application's schema name with
// pii.Register so that associated data matches. A Go program registers
// its tables with NewTable. TableOptions.Permit and AcceptPlaintext do not
// apply (nothing is read through it), and CreateTables does not create the
// table: it is the application's.
func (g *Guard) RegisterTable(prototype any, opts *TableOptions) error {
	if g.db == nil {
		return errors.New("guard: RegisterTable needs a Guard built by New with a *sql.DB (NewMemory has no database)")
	}
	t, ok := prototype.(reflect.Type)
	if !ok {
		t = reflect.TypeOf(prototype)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return fmt.Errorf("guard: RegisterTable: %v is not a struct type", t)
	}
	var o TableOptions
	if opts != nil {
		o = *opts
	}
	if o.Table == "" && t.Name() == "" {
		return errors.New("guard: RegisterTable: a type without a Go name needs TableOptions.Table")
	}
	so := *g.storeOptions()
	so.Mapping = &sqlstore.Mapping{Table: o.Table, ID: o.ID, Created: o.Created, Columns: o.Columns}
	store, err := sqlstore.New(g.db, t, &so)
	if err != nil {
		return fmt.Errorf("guard: RegisterTable: %w", err)
	}
	return g.Register(&registeredTable{Table: store, mg: searchMigration(g, t, &o)})
}
