// Package guardtool is what the pii command needs of package guard beyond
// its API: registering the table of a struct type known only at run time.
// The command rebuilds each tagged type from source with reflect.StructOf
// (and gives it the program's schema name with pii.Register, so that
// associated data matches); a Go program has its types and registers its
// tables with guard.NewTable.
package guardtool

import "github.com/fieldguard/pii/retention/sqlstore"

// RegisterTable registers with g, a *guard.Guard built by guard.New, the
// table of the tagged struct type of prototype (a value, a pointer or a
// reflect.Type), mapped by m through its `db` tags as guard.NewTable maps
// it, so that Forget, Sweep, Export, Verify, Rotate, RotateSearchKeys and
// BreachReport consider its rows and no shred destroys a key they need.
// Nothing is read through it, and CreateTables does not create the table:
// it is the application's. guard sets it when it is initialised; it
// panics on anything but a *guard.Guard.
var RegisterTable func(g, prototype any, m sqlstore.Mapping) error
