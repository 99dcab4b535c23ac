// Package clock resolves the pii.Clock of an Options struct: every package
// of the library takes a Clock, nil meaning the system clock, and turns it
// into a Clock it can call with Or.
package clock

import (
	"time"

	"github.com/fieldguard/pii"
)

// system is the Clock that reads time.Now.
type system struct{}

func (system) Now() time.Time { return time.Now() }

// Or returns c, or the system clock when c is nil.
func Or(c pii.Clock) pii.Clock {
	if c == nil {
		return system{}
	}
	return c
}
