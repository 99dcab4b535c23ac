// Package fakeclock is a settable clock for retention tests.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a fake clock; the zero value reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock reading t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by years, months and days (AddDate).
func (c *Clock) Advance(years, months, days int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.AddDate(years, months, days)
}
