package pii

import "time"

// Clock tells the time. Every package of the library that reads the time
// takes a Clock in its Options, nil meaning the system clock; tests pass a
// [github.com/fieldguard/pii/piitest.Clock] to move time by hand.
type Clock interface{ Now() time.Time }
