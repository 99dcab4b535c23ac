package sqldialect

import (
	"fmt"
	"strings"
)

// maxIdent is the longest identifier PostgreSQL keeps without truncating
// (NAMEDATALEN-1); SQLite has no limit, so the stricter one applies to both.
const maxIdent = 63

// identRules is what every error from ValidTable and ValidColumn says is
// allowed, so a user reads the rule rather than guesses it.
const identRules = "letters, digits and underscores, starting with a letter or underscore, at most 63 characters"

// ValidTable checks a table name: one identifier, or two joined by a dot
// (schema.table). Names are written into SQL unquoted, so the rule is the
// portable subset of both dialects; nothing that needs quoting is accepted.
// what names the setting in the error ("ledger table").
func ValidTable(what, name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("invalid %s name %q: at most one dot (schema.table); each part %s", what, name, identRules)
	}
	for _, p := range parts {
		if !validIdent(p) {
			return fmt.Errorf("invalid %s name %q: each part of schema.table must be %s", what, name, identRules)
		}
	}
	return nil
}

// ValidColumn checks a column name: one identifier, no schema.
func ValidColumn(what, name string) error {
	if !validIdent(name) {
		return fmt.Errorf("invalid %s name %q: must be %s", what, name, identRules)
	}
	return nil
}

// BaseName returns the table part of a possibly schema-qualified name, for
// deriving the names of indexes, triggers and functions that live beside
// the table (PostgreSQL puts an index in its table's schema, and its name
// may not be qualified).
func BaseName(table string) string {
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		return table[i+1:]
	}
	return table
}

func validIdent(s string) bool {
	if s == "" || len(s) > maxIdent {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
