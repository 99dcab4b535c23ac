package gormpii

import (
	"fmt"

	"gorm.io/gorm"

	"github.com/fieldguard/pii/guard"
)

// Register registers the GORM model T with g, mapped as GORM maps it (its
// table and column names), so Forget, Sweep and Export consider its rows
// and no shred destroys a key they need; it returns the guard.Table over
// the same table, for code that prefers it (FindBy, Query). Run GORM's
// AutoMigrate before g.CreateTables, which adds the indexes of the table's
// DDL (and would create the table if it did not exist).
func Register[T any](g *guard.Guard, db *gorm.DB) (*guard.Table[T], error) {
	stmt := &gorm.Statement{DB: db}
	var zero T
	if err := stmt.Parse(&zero); err != nil {
		return nil, fmt.Errorf("gormpii: Register: %w", err)
	}
	cols := map[string]string{}
	for _, f := range stmt.Schema.Fields {
		if f.DBName != "" && len(f.StructField.Index) > 0 {
			cols[f.Name] = f.DBName
		}
	}
	return guard.NewTable[T](g, &guard.TableOptions{Table: stmt.Schema.Table, Columns: cols})
}
