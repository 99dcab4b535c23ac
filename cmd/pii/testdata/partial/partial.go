// Package partial registers a table the pii command can read and a store
// it cannot: forget and sweep refuse without --partial.
package partial

import (
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/retention"
)

// Note is a table the command reads.
type Note struct {
	Tenant string `pii:"tenant"`
	ID     string `pii:"id"`
	Owner  string `pii:"subject"`
	Body   string `pii:"free_text,encrypt"`
}

// Open registers the notes table and a store of the program's own.
func Open(g *guard.Guard, own retention.Store, table string) error {
	if _, err := guard.NewTable[Note](g, &guard.TableOptions{Table: "notes"}); err != nil {
		return err
	}
	if _, err := guard.NewTable[Note](g, &guard.TableOptions{Table: table}); err != nil {
		return err
	}
	return g.Register(own)
}
