// Package vectortest pins the Wycheproof test-vector module for the tests of
// the library. It is a nested module so that the library's go.mod (which
// says go 1.26) does not inherit the vector module's newer go directive;
// internal/wycheproof finds the pinned vectors through it.
package vectortest

import _ "github.com/c2sp/wycheproof" // the pinned vectors
