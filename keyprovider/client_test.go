package keyprovider_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/providertest"
)

// faultyKP is an in-memory AES-GCM KeyProvider whose next calls can be made
// to fail or hang. It counts the calls that reach it.
type faultyKP struct {
	name  string
	aead  cipher.AEAD
	calls atomic.Int64

	mu     sync.Mutex
	faults []error // consumed one per call; errHang blocks until ctx is done
	always error   // when set, every call fails with it
	deaf   bool    // hangs ignore ctx (a misbehaving backend)
}

var errHang = errors.New("hang")

func newFaultyKP(t testing.TB, name string) *faultyKP {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	b, err := aes.NewCipher(k)
	require.NoError(t, err)
	a, err := cipher.NewGCM(b)
	require.NoError(t, err)
	return &faultyKP{name: name, aead: a}
}

func (f *faultyKP) inject(errs ...error) {
	f.mu.Lock()
	f.faults = append(f.faults, errs...)
	f.mu.Unlock()
}

func (f *faultyKP) setAlways(err error) {
	f.mu.Lock()
	f.always = err
	f.mu.Unlock()
}

func (f *faultyKP) fault(ctx context.Context) error {
	f.calls.Add(1)
	f.mu.Lock()
	err := f.always
	if err == nil && len(f.faults) > 0 {
		err, f.faults = f.faults[0], f.faults[1:]
	}
	deaf := f.deaf
	f.mu.Unlock()
	if err == errHang {
		if deaf {
			time.Sleep(3 * time.Second)
			return errors.New("faulty: woke up")
		}
		<-ctx.Done()
		return keyprovider.Classify("call", keyprovider.ErrUnavailable, ctx.Err())
	}
	if err == nil {
		return ctx.Err()
	}
	return err
}

func (f *faultyKP) Wrap(ctx context.Context, dk, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if err := f.fault(ctx); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	nonce := make([]byte, f.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return f.aead.Seal(nonce, nonce, dk, ad), keyprovider.KeyID{Key: f.name, Version: "1"}, nil
}

func (f *faultyKP) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	if err := f.fault(ctx); err != nil {
		return nil, err
	}
	if len(w) < f.aead.NonceSize() {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("faulty: short"))
	}
	pt, err := f.aead.Open(nil, w[:f.aead.NonceSize()], w[f.aead.NonceSize():], ad)
	if err != nil {
		return nil, keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("faulty: open failed"))
	}
	return pt, nil
}

func unavailable() error {
	return keyprovider.Classify("wrap", keyprovider.ErrUnavailable, errors.New("faulty: 503"))
}

// fastOpts keeps backoff tiny so tests run quickly.
func fastOpts() *keyprovider.ClientOptions {
	return &keyprovider.ClientOptions{BaseBackoff: time.Microsecond, MaxBackoff: time.Millisecond}
}

func TestClientConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) (a, b keyprovider.KeyProvider) {
			return keyprovider.NewClient(newFaultyKP(t, "a"), fastOpts()),
				keyprovider.NewClient(newFaultyKP(t, "b"), fastOpts())
		},
	})
}

func TestClientRetries(t *testing.T) {
	perm := keyprovider.Classify("wrap", keyprovider.ErrPermission, errors.New("faulty: 403"))
	auth := keyprovider.Classify("wrap", keyprovider.ErrAuthentication, errors.New("faulty: bad tag"))
	tests := []struct {
		name      string
		faults    []error
		wantErr   error // nil: success; errOther: an unclassified error
		wantCalls int64
	}{
		{"no fault", nil, nil, 1},
		{"one transient recovered", []error{unavailable()}, nil, 2},
		{"two transient recovered", []error{unavailable(), unavailable()}, nil, 3},
		{"four in a row fail", []error{unavailable(), unavailable(), unavailable(), unavailable()}, keyprovider.ErrUnavailable, 3},
		{"permission not retried", []error{perm}, keyprovider.ErrPermission, 1},
		{"authentication not retried", []error{auth}, keyprovider.ErrAuthentication, 1},
		{"unclassified not retried", []error{errors.New("faulty: odd")}, errOther, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaultyKP(t, "k")
			c := keyprovider.NewClient(f, fastOpts())
			f.inject(tc.faults...)
			w, id, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), []byte("ad"))
			require.Equal(t, tc.wantCalls, f.calls.Load())
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, "k", id.Key)
				require.NotEmpty(t, w)
				return
			}
			require.Error(t, err)
			require.Nil(t, w)
			if tc.wantErr != errOther {
				require.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

// errOther stands for an unclassified error in TestClientRetries.
var errOther = errors.New("unclassified")

func TestClientHangRespectsDeadline(t *testing.T) {
	for _, deaf := range []bool{false, true} {
		name := map[bool]string{false: "backend honours ctx", true: "backend ignores ctx"}[deaf]
		t.Run(name, func(t *testing.T) {
			f := newFaultyKP(t, "k")
			f.deaf = deaf
			f.setAlways(errHang)
			c := keyprovider.NewClient(f, fastOpts())
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := c.Unwrap(ctx, []byte("wrapped"), nil)
				done <- err
			}()
			select {
			case err := <-done:
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.ErrorIs(t, err, keyprovider.ErrUnavailable)
			case <-time.After(2500 * time.Millisecond): // generous watchdog, not a timing assertion
				t.Fatal("Unwrap did not return after the caller's deadline")
			}
		})
	}
}

func TestClientAttemptTimeoutRetries(t *testing.T) {
	f := newFaultyKP(t, "k")
	opts := fastOpts()
	opts.AttemptTimeout = 20 * time.Millisecond
	c := keyprovider.NewClient(f, opts)
	w, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
	require.NoError(t, err)
	f.inject(errHang)
	got, err := c.Unwrap(t.Context(), w, nil)
	require.NoError(t, err, "a hung first attempt is retried after the attempt timeout")
	require.Equal(t, []byte("0123456789abcdef"), got)
	require.Equal(t, int64(3), f.calls.Load())
}

func TestClientCancelled(t *testing.T) {
	f := newFaultyKP(t, "k")
	c := keyprovider.NewClient(f, fastOpts())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := c.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, f.calls.Load())

	// Cancelled while hanging: Canceled, and no retry.
	f.setAlways(errHang)
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = c.Unwrap(ctx, []byte("x"), nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int64(1), f.calls.Load())
	require.Equal(t, "closed", keyprovider.BreakerOf(c), "a caller's cancellation says nothing about the KMS")
}

func TestClientRetryBudget(t *testing.T) {
	f := newFaultyKP(t, "k")
	f.setAlways(unavailable())
	opts := fastOpts()
	opts.BreakerThreshold = -1 // measure the budget alone
	c := keyprovider.NewClient(f, opts)
	const n = 1000
	for range n {
		_, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
		require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	}
	retries := f.calls.Load() - n
	// Burst (10) plus 10% of first attempts.
	require.LessOrEqual(t, retries, int64(10+n/10))
	require.Greater(t, retries, int64(0))
}

func TestClientBreaker(t *testing.T) {
	f := newFaultyKP(t, "k")
	f.setAlways(unavailable())
	opts := fastOpts()
	opts.BreakerThreshold = 5
	opts.BreakerCooldown = 30 * time.Millisecond
	c := keyprovider.NewClient(f, opts)
	ctx := t.Context()

	const n = 1000
	refused := 0
	for range n {
		_, _, err := c.Wrap(ctx, []byte("0123456789abcdef"), nil)
		require.ErrorIs(t, err, keyprovider.ErrUnavailable)
		if errors.Is(err, keyprovider.ErrCircuitOpen) {
			refused++
		}
	}
	require.Positive(t, refused, "calls fail fast while the breaker is open")
	// While open, calls fail fast; only half-open probes reach the KMS. The
	// first attempts that reached the KMS before it opened plus every retry
	// and probe stay within 10% of the callers' first attempts.
	require.LessOrEqual(t, f.calls.Load(), int64(n/10))
	require.NotEqual(t, "closed", keyprovider.BreakerOf(c))
	_, _, err := c.Wrap(ctx, []byte("0123456789abcdef"), nil)
	if errors.Is(err, keyprovider.ErrCircuitOpen) {
		require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	}

	// The KMS recovers: after the cool-down a probe succeeds and the breaker closes.
	f.setAlways(nil)
	require.Eventually(t, func() bool {
		_, _, err := c.Wrap(ctx, []byte("0123456789abcdef"), nil)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, "closed", keyprovider.BreakerOf(c))
	before := f.calls.Load()
	_, _, err = c.Wrap(ctx, []byte("0123456789abcdef"), nil)
	require.NoError(t, err)
	require.Equal(t, before+1, f.calls.Load())
}

func TestClientBreakerIgnoresNonTransient(t *testing.T) {
	f := newFaultyKP(t, "k")
	f.setAlways(keyprovider.Classify("wrap", keyprovider.ErrPermission, errors.New("faulty: 403")))
	c := keyprovider.NewClient(f, fastOpts())
	for range 20 {
		_, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
		require.ErrorIs(t, err, keyprovider.ErrPermission)
	}
	require.Equal(t, int64(20), f.calls.Load())
	require.Equal(t, "closed", keyprovider.BreakerOf(c))
}

func TestClientOptionalInterfaces(t *testing.T) {
	f := newFaultyKP(t, "k")
	c := keyprovider.NewClient(f, fastOpts())
	require.Same(t, f, c.Backend())
	dk := []byte("0123456789abcdef")
	w, _, err := c.Wrap(t.Context(), dk, []byte("ad"))
	require.NoError(t, err)

	// No Rewrapper: falls back to unwrap then wrap.
	w2, id, err := c.Rewrap(t.Context(), w, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, "k", id.Key)
	require.False(t, bytes.Equal(w, w2))
	got, err := c.Unwrap(t.Context(), w2, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, dk, got)
	_, _, err = c.Rewrap(t.Context(), w, []byte("other"))
	require.ErrorIs(t, err, keyprovider.ErrAuthentication)

	_, err = c.Rotate(t.Context())
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = c.Versions(t.Context())
	require.ErrorIs(t, err, errors.ErrUnsupported)

	// With the interfaces: forwarded.
	r := &rotatingKP{faultyKP: f}
	c = keyprovider.NewClient(r, fastOpts())
	id, err = c.Rotate(t.Context())
	require.NoError(t, err)
	require.Equal(t, "2", id.Version)
	vs, err := c.Versions(t.Context())
	require.NoError(t, err)
	require.Len(t, vs, 2)
	_, _, err = c.Rewrap(t.Context(), w, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, int64(1), r.rewraps.Load())

	// Rotate is attempted once, even on a transient error.
	f.inject(unavailable())
	_, err = c.Rotate(t.Context())
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
}

type rotatingKP struct {
	*faultyKP
	rewraps atomic.Int64
}

func (r *rotatingKP) Rotate(ctx context.Context) (keyprovider.KeyID, error) {
	if err := r.fault(ctx); err != nil {
		return keyprovider.KeyID{}, err
	}
	return keyprovider.KeyID{Key: r.name, Version: "2"}, nil
}

func (r *rotatingKP) Versions(ctx context.Context) ([]keyprovider.Version, error) {
	return []keyprovider.Version{
		{ID: keyprovider.KeyID{Key: r.name, Version: "1"}, Status: keyprovider.StatusEnabled},
		{ID: keyprovider.KeyID{Key: r.name, Version: "2"}, Status: keyprovider.StatusEnabled, Primary: true},
	}, nil
}

func (r *rotatingKP) Rewrap(ctx context.Context, w, ad []byte) ([]byte, keyprovider.KeyID, error) {
	r.rewraps.Add(1)
	dk, err := r.Unwrap(ctx, w, ad)
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	return r.Wrap(ctx, dk, ad)
}

// ExampleNewClient puts a backend behind the portable client with
// options of its own. What the client observes (calls, attempts, breaker
// transitions, a span per call) goes to OpenTelemetry: to the providers
// in ClientOptions.MeterProvider and TracerProvider, or the global ones.
func ExampleNewClient() {
	backend := newExampleKP()
	kp := keyprovider.NewClient(backend, &keyprovider.ClientOptions{
		AttemptTimeout: 2 * time.Second,
		MaxAttempts:    2,
	})

	ctx := context.Background()
	dataKey := bytes.Repeat([]byte{1}, 32) // example only: use random data keys
	wrapped, id, err := kp.Wrap(ctx, dataKey, []byte("customers/42"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("wrapped by", id)
	_, err = kp.Unwrap(ctx, wrapped, []byte("customers/43"))
	fmt.Println("wrong record:", errors.Is(err, keyprovider.ErrAuthentication))
	// Output:
	// wrapped by example#1
	// wrong record: true
}

func newExampleKP() keyprovider.KeyProvider {
	b, _ := aes.NewCipher(bytes.Repeat([]byte{9}, 32)) // test key, never hard-code real ones
	a, _ := cipher.NewGCM(b)
	return &faultyKP{name: "example", aead: a}
}

func BenchmarkWrapUnwrap(b *testing.B) {
	dk := make([]byte, 32)
	ad := []byte("customers/42")
	run := func(b *testing.B, kp keyprovider.KeyProvider) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			w, _, err := kp.Wrap(ctx, dk, ad)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := kp.Unwrap(ctx, w, ad); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("Direct", func(b *testing.B) { run(b, newFaultyKP(b, "k")) })
	b.Run("Client", func(b *testing.B) { run(b, keyprovider.NewClient(newFaultyKP(b, "k"), nil)) })
}

// TestClientConcurrentOutage drives the breaker and the budget from many
// goroutines through an outage and a recovery (run under -race).
func TestClientConcurrentOutage(t *testing.T) {
	f := newFaultyKP(t, "k")
	opts := fastOpts()
	opts.BreakerCooldown = 5 * time.Millisecond
	c := keyprovider.NewClient(f, opts)
	f.setAlways(unavailable())
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 32 {
		wg.Go(func() {
			for range 50 {
				if _, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil); err != nil {
					if !errors.Is(err, keyprovider.ErrUnavailable) {
						t.Errorf("want the unavailable class, got %v", err)
					}
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(32*50), failed.Load())
	require.LessOrEqual(t, f.calls.Load(), int64(32*50))

	f.setAlways(nil)
	require.Eventually(t, func() bool {
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil); err == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		return ok.Load() == 8
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, "closed", keyprovider.BreakerOf(c))
}

// panicKP panics in every call.
type panicKP struct{ keyprovider.KeyProvider }

func (panicKP) Wrap(context.Context, []byte, []byte) ([]byte, keyprovider.KeyID, error) {
	panic("SECRET-IN-PANIC")
}

// TestClientErrorsSayThePrefixOnce: no error of the Client repeats
// "keyprovider: ", however many layers (class, circuit breaker, last
// attempt, caller's deadline) it joins.
func TestClientErrorsSayThePrefixOnce(t *testing.T) {
	dk := []byte("0123456789abcdef")
	cases := map[string]func(t *testing.T) error{
		"circuit open after a failed attempt": func(t *testing.T) error {
			f := newFaultyKP(t, "k")
			f.setAlways(unavailable())
			opts := fastOpts()
			opts.BreakerThreshold = 2
			opts.BreakerCooldown = time.Hour
			c := keyprovider.NewClient(f, opts)
			_, _, err := c.Wrap(t.Context(), dk, nil)
			require.ErrorIs(t, err, keyprovider.ErrCircuitOpen)
			require.ErrorContains(t, err, "last attempt")
			return err
		},
		"circuit open": func(t *testing.T) error {
			f := newFaultyKP(t, "k")
			f.setAlways(unavailable())
			opts := fastOpts()
			opts.BreakerThreshold, opts.MaxAttempts = 1, 1
			opts.BreakerCooldown = time.Hour
			c := keyprovider.NewClient(f, opts)
			_, _, _ = c.Wrap(t.Context(), dk, nil)
			_, _, err := c.Wrap(t.Context(), dk, nil)
			require.ErrorIs(t, err, keyprovider.ErrCircuitOpen)
			return err
		},
		"backend panicked": func(t *testing.T) error {
			c := keyprovider.NewClient(panicKP{}, fastOpts())
			_, _, err := c.Wrap(t.Context(), dk, nil)
			require.ErrorIs(t, err, keyprovider.ErrInvalidArgument)
			require.NotContains(t, err.Error(), "SECRET")
			return err
		},
		"attempt timed out": func(t *testing.T) error {
			f := newFaultyKP(t, "k")
			f.setAlways(errHang)
			opts := fastOpts()
			opts.AttemptTimeout, opts.MaxAttempts = time.Millisecond, 1
			c := keyprovider.NewClient(f, opts)
			_, _, err := c.Wrap(t.Context(), dk, nil)
			require.ErrorIs(t, err, keyprovider.ErrUnavailable)
			return err
		},
		"caller's deadline after a failed attempt": func(t *testing.T) error {
			f := newFaultyKP(t, "k")
			f.setAlways(unavailable())
			opts := fastOpts()
			opts.BaseBackoff, opts.MaxBackoff = time.Hour, time.Hour
			c := keyprovider.NewClient(f, opts)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			_, _, err := c.Wrap(ctx, dk, nil)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorIs(t, err, keyprovider.ErrUnavailable)
			return err
		},
	}
	for name, provoke := range cases {
		t.Run(name, func(t *testing.T) {
			err := provoke(t)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "keyprovider: "), msg)
			require.Equal(t, 1, strings.Count(msg, "keyprovider: "), msg)
		})
	}
}

// TestClassifyKeepsTheFirstClass: a layer that classifies an error again
// (the Client, envelope) never turns a denied or failed-authentication
// call into a transient one that would be retried.
func TestClassifyKeepsTheFirstClass(t *testing.T) {
	for _, class := range []error{
		keyprovider.ErrPermission, keyprovider.ErrKeyNotFound, keyprovider.ErrKeyDisabled,
		keyprovider.ErrKeyDestroyed, keyprovider.ErrAuthentication, keyprovider.ErrInvalidArgument,
	} {
		err := keyprovider.Classify("unwrap", class, errors.New("backend: no"))
		again := keyprovider.Classify("unwrap", keyprovider.ErrUnavailable, err)
		require.Same(t, err, again, "%v", class)
		require.NotErrorIs(t, again, keyprovider.ErrUnavailable, "%v", class)
	}
}

// TestClientBreakerHalfOpenLetsOneProbeThrough: after the cool-down
// exactly one call reaches the KMS; the others fail fast while it is in
// flight.
func TestClientBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	f := newFaultyKP(t, "k")
	opts := fastOpts()
	opts.BreakerThreshold, opts.MaxAttempts = 1, 1
	opts.BreakerCooldown = time.Nanosecond // the cool-down is over at once
	c := keyprovider.NewClient(f, opts)
	dk := []byte("0123456789abcdef")
	f.inject(unavailable())
	_, _, err := c.Wrap(t.Context(), dk, nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	require.Equal(t, "half_open", keyprovider.BreakerOf(c), "open, and the cool-down has passed")

	// The probe hangs until its caller gives up.
	f.inject(errHang)
	probeCtx, cancelProbe := context.WithCancel(t.Context())
	probeDone := make(chan error, 1)
	go func() {
		_, _, err := c.Wrap(probeCtx, dk, nil)
		probeDone <- err
	}()
	require.Eventually(t, func() bool { return f.calls.Load() == 2 }, time.Minute, time.Millisecond, "the probe reaches the KMS")
	for range 5 {
		_, _, err := c.Wrap(t.Context(), dk, nil)
		require.ErrorIs(t, err, keyprovider.ErrCircuitOpen, "one probe at a time")
	}
	require.Equal(t, int64(2), f.calls.Load())
	cancelProbe()
	require.ErrorIs(t, <-probeDone, context.Canceled)

	// A cancelled probe says nothing about the KMS: the next call probes.
	_, _, err = c.Wrap(t.Context(), dk, nil)
	require.NoError(t, err)
	require.Equal(t, "closed", keyprovider.BreakerOf(c))
}

// TestClientBreakerIgnoresCallerCancellation: a caller that gives up
// says nothing about the KMS, even with a breaker that opens on the
// first transient failure.
func TestClientBreakerIgnoresCallerCancellation(t *testing.T) {
	f := newFaultyKP(t, "k")
	opts := fastOpts()
	opts.BreakerThreshold = 1
	opts.BreakerCooldown = time.Hour
	c := keyprovider.NewClient(f, opts)
	for range 3 {
		f.inject(errHang)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		before := f.calls.Load()
		go func() {
			_, err := c.Unwrap(ctx, []byte("x"), nil)
			done <- err
		}()
		require.Eventually(t, func() bool { return f.calls.Load() == before+1 }, time.Minute, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Equal(t, "closed", keyprovider.BreakerOf(c))
	}
	_, _, err := c.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
	require.NoError(t, err, "the breaker stayed closed")
}

// TestNewClientNeverWrapsAClient: a Client inside a Client would multiply
// attempts (3 x 3 against a failing KMS) and hide one breaker behind the
// other.
func TestNewClientNeverWrapsAClient(t *testing.T) {
	f := newFaultyKP(t, "k")
	c := keyprovider.NewClient(f, fastOpts())
	require.Same(t, c, keyprovider.NewClient(c, nil), "nil options: the Client itself")

	opts := fastOpts()
	opts.MaxAttempts = 2
	c2 := keyprovider.NewClient(c, opts)
	require.NotSame(t, c, c2)
	require.Same(t, f, c2.Backend(), "new options: a new Client around the same backend")

	f.setAlways(unavailable())
	_, _, err := c2.Wrap(t.Context(), []byte("0123456789abcdef"), nil)
	require.ErrorIs(t, err, keyprovider.ErrUnavailable)
	require.Equal(t, int64(2), f.calls.Load(), "attempts are not multiplied")

	require.PanicsWithValue(t, "keyprovider: NewClient with a nil *Client", func() {
		keyprovider.NewClient((*keyprovider.Client)(nil), nil)
	})
	require.PanicsWithValue(t, "keyprovider: NewClient with a nil KeyProvider", func() {
		keyprovider.NewClient(nil, nil)
	})
}
