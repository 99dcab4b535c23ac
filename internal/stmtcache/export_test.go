package stmtcache

import "time"

// Len returns the number of statements c keeps.
func Len(c *Cache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// SetPrepareWait sets how long preparing waits for a connection.
func SetPrepareWait(d time.Duration) { prepareWait = d }
