package pii

// Exported for the external tests only.
var (
	ParseNorm     = parseNorm
	Prefix        = prefix
	KnownCategory = knownCategory
)
