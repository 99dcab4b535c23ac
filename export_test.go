package pii

import "time"

// Exported for the external tests only.
var (
	ParseNorm     = parseNorm
	Prefix        = prefix
	KnownCategory = knownCategory
)

// ClockOf is clockOf, for the external tests.
func (s *Schema) ClockOf(ptr any, f *Field) (time.Time, bool) { return s.clockOf(ptr, f) }
