package keyprovider

// BreakerOf returns the state of c's circuit breaker by the name its
// telemetry uses ("closed", "open", "half_open").
func BreakerOf(c *Client) string { return c.breaker().String() }

// ErrCircuitOpen is the error the circuit breaker refuses calls with
// (wrapped in the ErrUnavailable class).
var ErrCircuitOpen = errCircuitOpen
