//go:build race

package tokenize

// raceDetector is true in a -race build, where libphonenumber runs about
// twenty times slower: tests that walk many phone numbers take a sample.
const raceDetector = true
