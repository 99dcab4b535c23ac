package pii

import "strconv"

// Dialect is the SQL flavour of a database: the one type that the
// Options.Dialect of every SQL store takes (envelope/sqlkeystore,
// tokenize/sqltokenstore, retention/sqlstore, guard).
//
// The zero value detects the flavour from the driver of the *sql.DB (pgx,
// lib/pq: Postgres; modernc.org/sqlite, mattn/go-sqlite3: SQLite); set it
// explicitly for other drivers, and for the functions that return DDL,
// which have no database to ask.
type Dialect int

// The dialects.
const (
	// SQLite writes ? placeholders and BLOB columns.
	SQLite Dialect = iota + 1
	// Postgres writes $n placeholders, BYTEA columns and the "C" collation
	// where the order of keys matters.
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case 0:
		return "detect"
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}
