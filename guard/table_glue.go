package guard

// Temporary (g2): the Guard internals Table uses, until the guard core
// (g1) lands them; see /tmp/coord/guard-api.md. Delete when they land.

import (
	"database/sql"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/retention/sqlstore"
)

func (g *Guard) sqlDB() *sql.DB                  { return nil }
func (g *Guard) sqlDialect() Dialect             { return 0 }
func (g *Guard) storeOptions() *sqlstore.Options { return &sqlstore.Options{} }
func (g *Guard) sealer() *envelope.Sealer        { return nil }
