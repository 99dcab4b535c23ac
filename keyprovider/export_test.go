package keyprovider

// BreakerOf returns the state of c's circuit breaker by the name
// Metrics.BreakerChanged uses ("closed", "open", "half-open").
func BreakerOf(c *Client) string { return c.breaker().String() }
