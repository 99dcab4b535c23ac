package pii

import "time"

// Clock tells the time. Every package of the library that reads the time
// takes a Clock in its Options, nil meaning the system clock; tests pass a
// [github.com/fieldguard/pii/piitest.Clock] to move time by hand.
type Clock interface{ Now() time.Time }

// SystemClock is the Clock that reads time.Now.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ClockOr returns c, or SystemClock when c is nil.
func ClockOr(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}
