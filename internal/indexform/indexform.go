// Package indexform computes what a blind index covers, for envelope,
// which computes the index, and guard, which checks what a lookup found
// against the value looked up: one computation, so the two never differ.
// It is part of the stored format: a change makes existing indexes miss.
package indexform

import (
	"unicode/utf8"

	"github.com/fieldguard/pii"
)

// Of returns what the blind index of a field with options o covers for
// value: the value normalised (norm=), then cut to its first o.Prefix
// characters (prefix=N). A compound index (with=) covers the form of both
// values.
func Of(o pii.TagOptions, value string) string {
	return prefix(o.Norm.Apply(value), o.Prefix)
}

// prefix returns the first n runes of s (all of s when it is shorter): the
// part a prefix index (prefix=N) covers. Invalid UTF-8 counts byte by byte.
func prefix(s string, n int) string {
	if n <= 0 {
		return s
	}
	i := 0
	for k := 0; k < n && i < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}
