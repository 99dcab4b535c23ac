package pii

import "time"

// Exported for the external tests only.
var (
	ParseNorm     = parseNorm
	KnownCategory = knownCategory
)

// Protection is TagOptions.protection, for the external tests.
func Protection(o TagOptions) []string { return o.protection() }

// ClockOf is clockOf, for the external tests.
func (s *Schema) ClockOf(ptr any, f *Field) (time.Time, bool) { return s.clockOf(ptr, f) }
