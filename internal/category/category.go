// Package category holds what package pii and package mask both know of
// the data categories: which are sensitive by default.
package category

// sensitive are the special categories under GDPR Art. 9 and 10, and
// identifiers whose leak is directly harmful.
var sensitive = map[string]bool{
	"health": true, "biometric": true, "genetic": true, "ethnicity": true,
	"religion": true, "political": true, "sexual_orientation": true,
	"criminal": true, "union": true, "national_id": true, "passport": true, "card": true,
}

// Sensitive reports whether category c is sensitive by default: pii marks
// a field of it sensitive whatever its tag says, and mask denies it on
// public channels.
func Sensitive(c string) bool { return sensitive[c] }
