// Package sqldialect is the one notion of SQL flavour that the database/sql
// adapters share (envelope/sqlkeystore, tokenize/sqltokenstore,
// retention/sqlstore): which placeholders to write, and how to tell the
// flavour from the driver. Users name the flavour with [pii.Dialect]; the
// stores turn it into this package's Dialect with [Resolve] or [Of].
package sqldialect

import (
	"database/sql"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fieldguard/pii"
)

// Dialect is the SQL flavour of a database, with the placeholder helpers
// the stores need; its values are those of [pii.Dialect].
type Dialect int

const (
	// Detect, the zero value, reads the dialect from the driver of the
	// *sql.DB (pgx, lib/pq: Postgres; modernc.org/sqlite, mattn/go-sqlite3:
	// SQLite). Set the dialect explicitly for other drivers.
	Detect = Dialect(0)
	// SQLite writes ? placeholders.
	SQLite = Dialect(pii.SQLite)
	// Postgres writes $n placeholders.
	Postgres = Dialect(pii.Postgres)
)

// Of returns the internal form of a user's dialect, without resolving
// Detect.
func Of(d pii.Dialect) Dialect { return Dialect(d) }

// Public returns the user-facing form of d.
func (d Dialect) Public() pii.Dialect { return pii.Dialect(d) }

func (d Dialect) String() string { return pii.Dialect(d).String() }

// Resolve returns d, or for Detect the dialect of db's driver. It fails for
// an unknown value and for a driver it does not recognise.
func Resolve(db *sql.DB, pd pii.Dialect) (Dialect, error) {
	d := Of(pd)
	switch d {
	case SQLite, Postgres:
		return d, nil
	case Detect:
	default:
		return 0, fmt.Errorf("unknown SQL dialect %v", d)
	}
	if db == nil {
		return 0, fmt.Errorf("no database to detect the SQL dialect of")
	}
	t := reflect.TypeOf(db.Driver())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := strings.ToLower(t.PkgPath() + "." + t.Name())
	switch {
	case strings.Contains(name, "pgx"), strings.Contains(name, "lib/pq"), strings.Contains(name, "postgres"):
		return Postgres, nil
	case strings.Contains(name, "sqlite"):
		return SQLite, nil
	}
	return 0, fmt.Errorf("cannot tell the SQL dialect of driver %s; set it explicitly", name)
}

// Placeholder returns the n-th (1-based) parameter placeholder.
func (d Dialect) Placeholder(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// Rebind rewrites the ? placeholders of q for d ($1, $2, … on Postgres).
// q must not contain ? anywhere else (in string literals, for example).
func (d Dialect) Rebind(q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
