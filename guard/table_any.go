package guard

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/fieldguard/pii/internal/guardtool"
	"github.com/fieldguard/pii/retention/sqlstore"
)

func init() {
	guardtool.RegisterTable = func(g, prototype any, m sqlstore.Mapping) error {
		return g.(*Guard).registerTable(prototype, m)
	}
}

// registerTable registers the table of a tagged struct type known only at
// run time (internal/guardtool.RegisterTable, for the pii command), mapped
// by m as NewTable maps it: the registration NewTable does, without the
// typed helper.
func (g *Guard) registerTable(prototype any, m sqlstore.Mapping) error {
	if g.db == nil {
		return errors.New("guard: registering a table needs a Guard built by New with a *sql.DB (NewMemory has no database)")
	}
	t, ok := prototype.(reflect.Type)
	if !ok {
		t = reflect.TypeOf(prototype)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return fmt.Errorf("guard: registering a table: %v is not a struct type", t)
	}
	if m.Table == "" && t.Name() == "" {
		return errors.New("guard: registering a table: a type without a Go name needs a table name")
	}
	so := *g.storeOptions()
	so.Mapping = &m
	store, err := sqlstore.New(g.db, t, &so)
	if err != nil {
		return fmt.Errorf("guard: registering a table: %w", err)
	}
	o := TableOptions{Table: m.Table, ID: m.ID, Created: m.Created, Columns: m.Columns}
	return g.Register(&registeredTable{Table: store, mg: searchMigration(g, t, &o)})
}
