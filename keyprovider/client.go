package keyprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fieldguard/pii/internal/kmsclass"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Client is the portable, fault-surviving wrapper around any [KeyProvider].
// Every backend (Cloud KMS, Vault, AWS KMS, the local keyset) sits behind a
// Client in production; the backend only translates requests and classifies
// errors, while the Client owns deadlines, retries, the retry budget, the
// circuit breaker and telemetry.
//
// # Deadlines
//
// Every attempt runs under a per-attempt timeout (ClientOptions.AttemptTimeout,
// default 10 s) nested inside the caller's context, so the caller's deadline
// always wins. The attempt runs on its own goroutine and the Client returns
// as soon as the caller's context is done, even if a misbehaving backend
// ignores its context (the backend call is then abandoned, not killed; it
// finishes in the background). An abandoned attempt returns through a
// channel of its own: its late result never reaches the caller or a later
// attempt, and a data key it returns late is cleared.
//
// # Retries
//
// Only transient errors are retried: those matching [ErrUnavailable], the
// class backends use for unreachable servers, throttling, 5xx responses
// and an attempt that ran out of time. Permission,
// authentication, invalid-argument and key-state errors are returned at once,
// as are errors a backend left unclassified (a backend bug, most likely).
// Backoff is "full jitter" exponential: before retry n the Client sleeps a
// uniformly random duration in [0, min(MaxBackoff, BaseBackoff·2^(n-1))).
//
// Retries are paid from a token bucket: each first attempt adds RetryRatio
// tokens (default 0.1) up to RetryBurst (default 10), each retry takes one.
// Over time retries therefore stay at or below 10% of first attempts, so a
// struggling KMS is not hit by a retry storm from every client at once.
//
// # Circuit breaker
//
// After BreakerThreshold consecutive transient failures (default 5) the
// breaker opens and calls fail fast with [ErrUnavailable] without reaching
// the KMS. After BreakerCooldown (default 10 s) one probe call is let
// through (half-open); its success closes the breaker, its failure opens it
// again for another cool-down. Non-transient errors (a wrong key, a denied
// permission) prove the KMS is reachable and count as successes here.
// Every change of state is reported to OpenTelemetry (see Telemetry).
//
// # Outages
//
// The Client never caches key material. Serving already-unwrapped data keys
// for a bounded window (default 5 minutes) while the KMS is down is the job
// of the data-key cache in the envelope package, which sits above the
// Client; when that window closes, reads fail closed with [ErrUnavailable].
//
// # Telemetry
//
// A Client reports every call, every attempt and every change of its
// breaker's state to OpenTelemetry, through ClientOptions.MeterProvider
// and TracerProvider or the global providers; the package doc's
// OpenTelemetry section lists the metrics, spans and events.
//
// # Optional interfaces
//
// Client implements [Rotator], [Rewrapper] and [Describer] and forwards them
// to the backend, with the same retry and breaker policy (Rotate is never
// retried, because a retried rotation could create two versions). When the
// backend lacks [Rewrapper], Rewrap falls back to Unwrap followed by Wrap in
// this process; when it lacks [Rotator] or [Describer], those methods return
// an error matching errors.ErrUnsupported. Use [Client.Backend] to
// type-assert on the backend itself.
type Client struct {
	kp   KeyProvider
	opts ClientOptions
	tel  *clientTelemetry

	mu       sync.Mutex
	tokens   float64 // retry budget
	state    breakerState
	failures int       // consecutive transient failures
	openedAt time.Time // when the breaker last opened
	probing  bool      // a half-open probe is in flight
}

// ClientOptions configures a [Client]. The zero value (or nil) means the
// defaults documented on each field.
type ClientOptions struct {
	// AttemptTimeout bounds each attempt inside the caller's deadline.
	// Default 10 s.
	AttemptTimeout time.Duration
	// MaxAttempts is the number of attempts per call, the first included.
	// Default 3, so one or two transient failures are absorbed and a third
	// in a row is returned. 1 disables retries.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the full-jitter exponential backoff.
	// Defaults 100 ms and 2 s.
	BaseBackoff, MaxBackoff time.Duration
	// RetryRatio is the number of retry tokens each first attempt earns
	// (default 0.1: retries are at most 10% of first attempts over time);
	// RetryBurst caps the bucket and is its initial content (default 10).
	RetryRatio float64
	RetryBurst float64
	// BreakerThreshold is the number of consecutive transient failures that
	// open the circuit breaker (default 5). A negative value disables the
	// breaker.
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open before it lets a
	// probe through (default 10 s).
	BreakerCooldown time.Duration
	// MeterProvider and TracerProvider receive the Client's OpenTelemetry
	// metrics (pii.kms.calls, pii.kms.attempts, pii.kms.breaker.transitions,
	// ...) and spans (pii.kms.wrap, ...); the package doc's OpenTelemetry
	// section lists them. Nil means the global providers
	// (otel.GetMeterProvider, otel.GetTracerProvider), which cost next to
	// nothing until the application sets them.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

func (o *ClientOptions) withDefaults() ClientOptions {
	var r ClientOptions
	if o != nil {
		r = *o
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = 10 * time.Second
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 3
	}
	if r.BaseBackoff <= 0 {
		r.BaseBackoff = 100 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 2 * time.Second
	}
	if r.MaxBackoff < r.BaseBackoff {
		r.MaxBackoff = r.BaseBackoff
	}
	if r.RetryRatio <= 0 {
		r.RetryRatio = 0.1
	}
	if r.RetryBurst <= 0 {
		r.RetryBurst = 10
	}
	if r.BreakerThreshold == 0 {
		r.BreakerThreshold = 5
	}
	if r.BreakerCooldown <= 0 {
		r.BreakerCooldown = 10 * time.Second
	}
	return r
}

// breakerState is the state of a [Client]'s circuit breaker; its name
// (String) is the value of the pii.kms.breaker.state attributes.
type breakerState int

const (
	breakerClosed   breakerState = iota // calls flow
	breakerOpen                         // calls fail fast
	breakerHalfOpen                     // one probe is in flight
)

func (s breakerState) String() string {
	switch s {
	case breakerClosed:
		return "closed"
	case breakerOpen:
		return "open"
	case breakerHalfOpen:
		return "half_open"
	}
	return fmt.Sprintf("breakerState(%d)", int(s))
}

// errCircuitOpen is returned (wrapped in the [ErrUnavailable] class) when
// the Client's circuit breaker refuses a call; its error.type is
// "circuit_open".
var errCircuitOpen = kmsclass.CircuitOpen

var (
	_ KeyProvider = (*Client)(nil)
	_ Rotator     = (*Client)(nil)
	_ Rewrapper   = (*Client)(nil)
	_ Describer   = (*Client)(nil)
)

// NewClient returns a Client around kp. A nil opts means the defaults.
//
// A Client is never wrapped in another, which would multiply attempts and
// hide one breaker behind the other: when kp is already a *Client,
// NewClient returns it unchanged if opts is nil, and otherwise a new
// Client with opts around the same backend (kp.Backend()), with its own
// retry budget and breaker.
func NewClient(kp KeyProvider, opts *ClientOptions) *Client {
	if c, ok := kp.(*Client); ok {
		if c == nil {
			panic("keyprovider: NewClient with a nil *Client")
		}
		if opts == nil {
			return c
		}
		kp = c.kp
	}
	if kp == nil {
		panic("keyprovider: NewClient with a nil KeyProvider")
	}
	o := opts.withDefaults()
	return &Client{kp: kp, opts: o, tokens: o.RetryBurst, tel: newClientTelemetry(kp, o)}
}

// Close closes the backend when it has a Close method (a gRPC connection,
// for example), and is a no-op otherwise.
func (c *Client) Close() error {
	if cl, ok := c.kp.(io.Closer); ok {
		return cl.Close()
	}
	if cl, ok := c.kp.(interface{ Close() }); ok {
		cl.Close()
	}
	return nil
}

// Backend returns the KeyProvider the Client wraps.
func (c *Client) Backend() KeyProvider { return c.kp }

// breaker returns the circuit breaker's current state.
func (c *Client) breaker() breakerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == breakerOpen && time.Since(c.openedAt) >= c.opts.BreakerCooldown {
		return breakerHalfOpen // the next call will probe
	}
	return c.state
}

// Wrap wraps dataKey with the backend, under the Client's fault policy.
func (c *Client) Wrap(ctx context.Context, dataKey, associatedData []byte) ([]byte, KeyID, error) {
	r, err := call(c, ctx, "wrap", true, nil, func(ctx context.Context) (wrapResult, error) {
		w, id, err := c.kp.Wrap(ctx, dataKey, associatedData)
		return wrapResult{w, id}, err
	})
	if err != nil {
		return nil, KeyID{}, err
	}
	return r.wrapped, r.id, nil
}

// wrapResult is what one Wrap or Rewrap attempt returns.
type wrapResult struct {
	wrapped []byte
	id      KeyID
}

// Unwrap unwraps wrapped with the backend, under the Client's fault policy.
func (c *Client) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	key, err := call(c, ctx, "unwrap", true, clearKey, func(ctx context.Context) ([]byte, error) {
		return c.kp.Unwrap(ctx, wrapped, associatedData)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// clearKey clears a data key that an abandoned attempt returned after the
// Client stopped waiting for it (Go cannot promise no other copy exists).
func clearKey(k []byte) { clear(k) }

// Rewrap re-encrypts wrapped under the backend's current primary KEK. It
// uses the backend's server-side rewrap when there is one; otherwise it
// unwraps and wraps again in this process and clears the data key after
// use (Go cannot promise the bytes leave no other copy in memory).
func (c *Client) Rewrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, KeyID, error) {
	rw, ok := c.kp.(Rewrapper)
	if !ok {
		key, err := c.Unwrap(ctx, wrapped, associatedData)
		if err != nil {
			return nil, KeyID{}, err
		}
		defer clear(key)
		return c.Wrap(ctx, key, associatedData)
	}
	r, err := call(c, ctx, "rewrap", true, nil, func(ctx context.Context) (wrapResult, error) {
		w, id, err := rw.Rewrap(ctx, wrapped, associatedData)
		return wrapResult{w, id}, err
	})
	if err != nil {
		return nil, KeyID{}, err
	}
	return r.wrapped, r.id, nil
}

// Rotate asks the backend for a new primary KEK version. It is attempted
// once: a retried rotation whose first attempt did reach the server would
// create two versions.
func (c *Client) Rotate(ctx context.Context) (KeyID, error) {
	r, ok := c.kp.(Rotator)
	if !ok {
		return KeyID{}, fmt.Errorf("keyprovider: backend %T cannot rotate: %w", c.kp, errors.ErrUnsupported)
	}
	id, err := call(c, ctx, "rotate", false, nil, r.Rotate)
	if err != nil {
		return KeyID{}, err
	}
	return id, nil
}

// Versions lists the backend's KEK versions.
func (c *Client) Versions(ctx context.Context) ([]Version, error) {
	d, ok := c.kp.(Describer)
	if !ok {
		return nil, fmt.Errorf("keyprovider: backend %T cannot list versions: %w", c.kp, errors.ErrUnsupported)
	}
	vs, err := call(c, ctx, "versions", true, nil, d.Versions)
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// outcome is what one attempt returns. Each attempt sends its outcome on a
// channel of its own, so an attempt that the Client abandoned and that
// finishes late shares nothing with the attempts after it or with the
// caller.
type outcome[T any] struct {
	v   T
	err error
}

// call runs f under the fault policy: breaker, per-attempt timeout,
// retries from the budget with full-jitter backoff, telemetry. scrub, when
// not nil, is applied to the successful result of an attempt the Client
// abandoned (it clears data keys).
func call[T any](c *Client, ctx context.Context, op string, retry bool, scrub func(T), f func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	ctx, span := c.tel.start(ctx, op)
	v, err := attempts(c, ctx, op, retry, scrub, f)
	c.tel.end(ctx, span, op, err, time.Since(start))
	return v, err
}

func attempts[T any](c *Client, ctx context.Context, op string, retry bool, scrub func(T), f func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, Classify(op, ErrUnavailable, err)
	}
	max := c.opts.MaxAttempts
	if !retry {
		max = 1
	}
	c.earn()
	var last error
	for n := 1; ; n++ {
		if err := c.admit(ctx, op); err != nil {
			if last != nil {
				return zero, &withLast{err: err, last: last}
			}
			return zero, err
		}
		t0 := time.Now()
		v, err := attempt(c, ctx, op, scrub, f)
		c.tel.attempt(ctx, op, n, err, time.Since(t0))
		c.record(ctx, err)
		if err == nil {
			return v, nil
		}
		last = err
		if ctx.Err() != nil {
			return zero, callerDone(ctx, op, err)
		}
		if !retryable(err) || n >= max {
			return zero, err
		}
		if !c.spend() {
			return zero, err
		}
		if !sleep(ctx, c.backoff(n)) {
			return zero, callerDone(ctx, op, err)
		}
	}
}

// withLast is an error of the Client joined with the error of the last
// attempt, both reachable with errors.Is and errors.As. The package prefix
// is said once.
type withLast struct{ err, last error }

func (w *withLast) Error() string {
	return w.err.Error() + " (last attempt: " + detail(w.last) + ")"
}

func (w *withLast) Unwrap() []error { return []error{w.err, w.last} }

// callerDone returns the caller's context error, classified, keeping the
// attempt's error reachable. When the context is not done yet, its deadline
// would pass before the next attempt could start, which is reported as
// context.DeadlineExceeded.
func callerDone(ctx context.Context, op string, attemptErr error) error {
	cerr := ctx.Err()
	if cerr == nil {
		cerr = context.DeadlineExceeded
	}
	if errors.Is(attemptErr, cerr) {
		return Classify(op, ErrUnavailable, attemptErr)
	}
	joined := &withLast{err: cerr, last: attemptErr}
	if class := classOf(attemptErr); class != nil {
		return &classError{Class: class, Op: op, Err: joined}
	}
	return Classify(op, ErrUnavailable, joined)
}

// errBackendPanicked replaces the value of a backend panic, which is not
// formatted: it may hold secrets.
var errBackendPanicked = errors.New("backend panicked")

// attempt runs one call of f under the per-attempt timeout and returns when
// f returns or the attempt's context is done, whichever comes first.
func attempt[T any](c *Client, ctx context.Context, op string, scrub func(T), f func(context.Context) (T, error)) (T, error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	done := make(chan outcome[T], 1) // this attempt's alone; buffered, so a late send never blocks
	go func() {
		var o outcome[T]
		defer func() {
			if r := recover(); r != nil {
				o = outcome[T]{err: Classify(op, ErrInvalidArgument, errBackendPanicked)}
			}
			done <- o
		}()
		o.v, o.err = f(actx)
	}()
	var o outcome[T]
	select {
	case o = <-done:
	case <-actx.Done():
		select {
		case o = <-done: // it finished as the timer fired
		default:
			// The backend ignores its context; do not wait for it. Its
			// late outcome goes to this attempt's channel only.
			go discard(done, scrub)
			o.err = actx.Err()
		}
	}
	err := o.err
	if err == nil {
		return o.v, nil
	}
	if ctx.Err() == nil && errors.Is(err, context.Canceled) && actx.Err() != nil {
		// Only the attempt's own timer fired: a deadline, not a cancellation.
		err = fmt.Errorf("attempt timed out after %v: %w", c.opts.AttemptTimeout, context.DeadlineExceeded)
	}
	var zero T
	if errors.Is(err, context.DeadlineExceeded) {
		return zero, Classify(op, ErrUnavailable, err)
	}
	// Backends classify their own errors; an unclassified error (a bug in
	// the backend, most likely) is passed through and never retried.
	return zero, err
}

// discard waits for the outcome of an abandoned attempt and scrubs it.
func discard[T any](done <-chan outcome[T], scrub func(T)) {
	o := <-done
	if scrub != nil && o.err == nil {
		scrub(o.v)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false // no point sleeping past the caller's deadline
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff returns the full-jitter delay before retry number n (n ≥ 1).
func (c *Client) backoff(n int) time.Duration {
	ceiling := c.opts.MaxBackoff
	if n-1 < 32 {
		if d := c.opts.BaseBackoff << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling)
}

// earn credits the retry budget for one first attempt.
func (c *Client) earn() {
	c.mu.Lock()
	c.tokens = min(c.tokens+c.opts.RetryRatio, c.opts.RetryBurst)
	c.mu.Unlock()
}

// spend takes one retry token, reporting whether there was one.
func (c *Client) spend() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// admit asks the breaker whether an attempt may go out.
func (c *Client) admit(ctx context.Context, op string) error {
	if c.opts.BreakerThreshold < 0 {
		return nil
	}
	c.mu.Lock()
	var changed bool
	switch c.state {
	case breakerOpen:
		if time.Since(c.openedAt) < c.opts.BreakerCooldown {
			c.mu.Unlock()
			return Classify(op, ErrUnavailable, errCircuitOpen)
		}
		c.state, c.probing, changed = breakerHalfOpen, true, true
	case breakerHalfOpen:
		if c.probing {
			c.mu.Unlock()
			return Classify(op, ErrUnavailable, errCircuitOpen)
		}
		c.probing = true
	}
	c.mu.Unlock()
	if changed {
		c.tel.breakerChanged(ctx, breakerOpen, breakerHalfOpen)
	}
	return nil
}

// record feeds one attempt's outcome to the breaker.
func (c *Client) record(ctx context.Context, err error) {
	if c.opts.BreakerThreshold < 0 {
		return
	}
	transient := err != nil && retryable(err) && ctx.Err() == nil
	c.mu.Lock()
	from := c.state
	switch {
	case transient:
		c.failures++
		if c.state == breakerHalfOpen || c.failures >= c.opts.BreakerThreshold {
			c.state, c.openedAt = breakerOpen, time.Now()
		}
	case err != nil && ctx.Err() != nil:
		// The caller gave up; that says nothing about the KMS.
	default:
		c.failures = 0
		c.state = breakerClosed
	}
	if from == breakerHalfOpen {
		c.probing = false
		if c.state == breakerHalfOpen {
			// A cancelled probe: let the next call probe again.
			c.state = breakerOpen
		}
	}
	to := c.state
	c.mu.Unlock()
	if from != to {
		c.tel.breakerChanged(ctx, from, to)
	}
}
