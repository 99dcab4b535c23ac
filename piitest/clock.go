// Package piitest has what tests of code that uses the library need: a
// fake clock to pass wherever an Options takes a pii.Clock.
package piitest

import (
	"sync"
	"time"

	"github.com/fieldguard/pii"
)

// Clock is a fake pii.Clock that moves only when told. It is safe for
// concurrent use; the zero value reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

var _ pii.Clock = (*Clock)(nil)

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (backwards too).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// AddDate moves the clock by calendar years, months and days, as
// time.Time.AddDate does (retention periods are calendar periods).
func (c *Clock) AddDate(years, months, days int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.AddDate(years, months, days)
}
