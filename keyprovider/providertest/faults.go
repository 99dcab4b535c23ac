package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldguard/pii/keyprovider"
)

// Faults is the fault-injection surface of a backend's test fake. F is the
// fake's own fault type; its zero value means "no fault". The fakes in this
// repository (gcpkmstest, awskmstest, vaultfake, internal/vaulttest)
// implement it as they are.
type Faults[F comparable] interface {
	// Inject queues faults, one per following call that reaches the fake.
	Inject(faults ...F)
	// SetAlways makes every call fail with f until SetAlways of the zero
	// value.
	SetAlways(f F)
	// Calls returns the number of calls that reached the fake so far.
	Calls() int64
}

// Op names the operation a fault case drives.
type Op string

// The operations [RunFaults] drives.
const (
	Wrap   Op = "wrap"
	Unwrap Op = "unwrap"
)

// FaultCase is one backend-specific fault check: Faults are injected, then
// Op is called once through a keyprovider.Client with short backoffs.
type FaultCase[F comparable] struct {
	Name   string
	Op     Op
	Faults []F
	// Want is the error class the call must match (errors.Is); nil means the
	// call must succeed (and Unwrap return the original data key).
	Want error
	// Calls is the number of calls that must reach the fake.
	Calls int64
}

// FaultHarness builds a backend in front of a fake that can inject faults.
type FaultHarness[F comparable] struct {
	// New returns a fresh provider and the fake behind it. It is called once
	// per subtest.
	New func(t *testing.T) (keyprovider.KeyProvider, Faults[F])
	// Transient names the fake's faults the backend must class as
	// keyprovider.ErrUnavailable (unavailable, 5xx, throttling, sealed…).
	// Every retry and breaker check runs once for each. At least one is
	// required.
	Transient map[string]F
	// Denied is the fake's permission failure (keyprovider.ErrPermission).
	// The zero value means the fake has none: the Denied checks are skipped
	// with a message saying so.
	Denied F
	// Hang is the fake's fault that blocks until the client gives up. The
	// zero value skips the Hang checks with a message.
	Hang F
	// Extra are backend-specific cases (checksums, key names…) run with the
	// same driver.
	Extra []FaultCase[F]
}

const (
	// defaultMaxAttempts is keyprovider.ClientOptions' documented default
	// for MaxAttempts; the clients RunFaults builds leave it unset.
	defaultMaxAttempts = 3
	// breakerCalls is the number of calls made against an always-failing
	// fake in the breaker checks.
	breakerCalls = 500
	// hangDeadline is the caller's deadline in the Hang checks, and
	// faultWatchdog how long the suite waits before it declares the call
	// stuck (see faultWatchdog). Neither is a speed requirement.
	hangDeadline = 200 * time.Millisecond
)

// faultWatchdog bounds how long a check waits for a hanging call to return,
// or for the client to recover once a fault is cleared. It guards against
// hangs; it is not a speed requirement. A variable so the suite's own tests
// can shorten it.
var faultWatchdog = 5 * time.Second

// shortBackoff keeps retries fast; everything else is the client's default.
func shortBackoff() *keyprovider.ClientOptions {
	return &keyprovider.ClientOptions{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

// RunFaults puts the provider h builds behind keyprovider.NewClient and
// checks, for Wrap and for Unwrap:
//
//   - for each Transient fault: one failure is retried and recovered (2 calls
//     at the fake); defaultMaxAttempts+1 in a row fail with
//     keyprovider.ErrUnavailable after exactly the client's default number of
//     attempts (3), returning no bytes;
//   - a Denied failure is not retried (1 call) and matches
//     keyprovider.ErrPermission;
//   - against a Hang, the call returns once the caller's deadline passes,
//     with an error matching both context.DeadlineExceeded and
//     keyprovider.ErrUnavailable (a watchdog, not a timing assertion);
//   - for each Transient fault set to always fail, 500 calls all fail with
//     keyprovider.ErrUnavailable while at most 10% of them reach the fake
//     (the circuit breaker), and once the fault is cleared the client
//     recovers after a short BreakerCooldown: a call succeeds, and the
//     next one reaches the fake exactly once and succeeds too.
//
// Then it runs each of h.Extra. Every check uses a fresh random data key
// and fails when an error spells it (the forms NoKeyBytesInErrors searches).
func RunFaults[F comparable](t *testing.T, h FaultHarness[F]) {
	t.Helper()
	if h.New == nil {
		t.Fatal("providertest: FaultHarness.New is nil")
	}
	if len(h.Transient) == 0 {
		t.Fatal("providertest: FaultHarness.Transient is empty")
	}
	var zero F
	names := make([]string, 0, len(h.Transient))
	for name := range h.Transient {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, op := range []Op{Wrap, Unwrap} {
		for _, name := range names {
			f := h.Transient[name]
			if f == zero {
				t.Fatalf("providertest: FaultHarness.Transient[%q] is the zero fault", name)
			}
			runFault(t, h, fmt.Sprintf("%s/%s/OnceRecovered", op, name), func(kp keyprovider.KeyProvider, fk Faults[F]) error {
				return checkCase(t.Context(), kp, fk, FaultCase[F]{Op: op, Faults: []F{f}, Calls: 2})
			})
			runFault(t, h, fmt.Sprintf("%s/%s/PersistentFails", op, name), func(kp keyprovider.KeyProvider, fk Faults[F]) error {
				return checkCase(t.Context(), kp, fk, FaultCase[F]{
					Op: op, Faults: slices.Repeat([]F{f}, defaultMaxAttempts+1),
					Want: keyprovider.ErrUnavailable, Calls: defaultMaxAttempts,
				})
			})
			runFault(t, h, fmt.Sprintf("%s/%s/Breaker", op, name), func(kp keyprovider.KeyProvider, fk Faults[F]) error {
				return checkBreaker(t.Context(), kp, fk, op, f)
			})
		}
		runFault(t, h, fmt.Sprintf("%s/DeniedNotRetried", op), func(kp keyprovider.KeyProvider, fk Faults[F]) error {
			if h.Denied == zero {
				return &skipError{"FaultHarness.Denied is not set: the fake cannot inject a permission failure"}
			}
			return checkCase(t.Context(), kp, fk, FaultCase[F]{Op: op, Faults: []F{h.Denied}, Want: keyprovider.ErrPermission, Calls: 1})
		})
		runFault(t, h, fmt.Sprintf("%s/HangRespectsDeadline", op), func(kp keyprovider.KeyProvider, fk Faults[F]) error {
			if h.Hang == zero {
				return &skipError{"FaultHarness.Hang is not set: the fake cannot hang"}
			}
			return checkHang(t.Context(), kp, fk, op, h.Hang)
		})
	}
	for _, c := range h.Extra {
		runFault(t, h, c.Name, func(kp keyprovider.KeyProvider, fk Faults[F]) error {
			return checkCase(t.Context(), kp, fk, c)
		})
	}
}

// runFault runs check in a subtest against a fresh provider and fake.
func runFault[F comparable](t *testing.T, h FaultHarness[F], name string, check func(keyprovider.KeyProvider, Faults[F]) error) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		kp, fk := h.New(t)
		if kp == nil || fk == nil {
			t.Fatal("providertest: FaultHarness.New returned nil")
		}
		err := check(kp, fk)
		var skip *skipError
		if errors.As(err, &skip) {
			t.Skip(skip.reason)
		}
		if err != nil {
			t.Error(err)
		}
	})
}

var faultAD = []byte("customer/42")

// faultCall is one operation under test: a fresh random data key, wrapped
// beforehand (with no fault injected yet) when the operation is Unwrap.
type faultCall struct {
	client  *keyprovider.Client
	op      Op
	key     []byte
	wrapped []byte
}

func newFaultCall(ctx context.Context, c *keyprovider.Client, op Op) (*faultCall, error) {
	if op != Wrap && op != Unwrap {
		return nil, fmt.Errorf("providertest: unknown Op %q", op)
	}
	fc := &faultCall{client: c, op: op, key: random(32)}
	if op == Unwrap {
		w, _, err := c.Wrap(ctx, fc.key, faultAD)
		if err := fc.leak(err); err != nil {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("providertest: Wrap before the faults: %w", err)
		}
		fc.wrapped = w
	}
	return fc, nil
}

// run calls the operation once. An error that spells the data key is
// replaced by a report saying so.
func (fc *faultCall) run(ctx context.Context) ([]byte, error) {
	var out []byte
	var err error
	if fc.op == Wrap {
		out, _, err = fc.client.Wrap(ctx, fc.key, faultAD)
	} else {
		out, err = fc.client.Unwrap(ctx, fc.wrapped, faultAD)
	}
	if leak := fc.leak(err); leak != nil {
		return nil, leak
	}
	return out, err
}

// leak reports whether err spells the data key in any of leakForms, or
// says a package prefix twice.
func (fc *faultCall) leak(err error) error {
	if err == nil {
		return nil
	}
	if p := repeatedPrefix(err.Error()); p != "" {
		return fmt.Errorf("providertest: %s: an error repeats the prefix %q", fc.op, p+": ")
	}
	msgs := []string{err.Error(), fmt.Sprintf("%+v", err)}
	for _, f := range leakForms(fc.key) {
		for _, m := range msgs {
			if strings.Contains(m, f.text) {
				return fmt.Errorf("providertest: %s: an error contains the data key (%s)", fc.op, f.name)
			}
		}
	}
	return nil
}

// ok reports whether a successful call returned what it should.
func (fc *faultCall) ok(got []byte) error {
	if fc.op == Unwrap && !bytes.Equal(got, fc.key) {
		return errors.New("providertest: Unwrap returned a different data key")
	}
	if fc.op == Wrap && len(got) == 0 {
		return errors.New("providertest: Wrap returned no wrapped bytes")
	}
	return nil
}

// checkCase injects c.Faults in front of one call of c.Op.
func checkCase[F comparable](ctx context.Context, kp keyprovider.KeyProvider, fk Faults[F], c FaultCase[F]) error {
	fc, err := newFaultCall(ctx, keyprovider.NewClient(kp, shortBackoff()), c.Op)
	if err != nil {
		return err
	}
	before := fk.Calls()
	fk.Inject(c.Faults...)
	got, err := fc.run(ctx)
	var errs []error
	if n := fk.Calls() - before; n != c.Calls {
		errs = append(errs, fmt.Errorf("providertest: %s: %d calls reached the fake, want %d", c.Op, n, c.Calls))
	}
	switch {
	case c.Want == nil && err != nil:
		errs = append(errs, fmt.Errorf("providertest: %s: want success, got %w", c.Op, err))
	case c.Want == nil:
		errs = append(errs, fc.ok(got))
	case !errors.Is(err, c.Want):
		errs = append(errs, fmt.Errorf("providertest: %s: want an error matching %q, got %v", c.Op, c.Want, err))
	case got != nil:
		errs = append(errs, fmt.Errorf("providertest: %s returned %d bytes with its error, want none", c.Op, len(got)))
	}
	return errors.Join(errs...)
}

// checkHang makes the fake hang and calls op with a short deadline and the
// client's default options.
func checkHang[F comparable](ctx context.Context, kp keyprovider.KeyProvider, fk Faults[F], op Op, hang F) error {
	fc, err := newFaultCall(ctx, keyprovider.NewClient(kp, nil), op)
	if err != nil {
		return err
	}
	fk.SetAlways(hang)
	var zero F
	defer fk.SetAlways(zero)
	ctx, cancel := context.WithTimeout(ctx, hangDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := fc.run(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, keyprovider.ErrUnavailable) {
			return fmt.Errorf("providertest: %s against a hanging fake: want an error matching context.DeadlineExceeded and keyprovider.ErrUnavailable, got %v", op, err)
		}
		return nil
	case <-time.After(faultWatchdog): // watchdog, not a timing assertion
		return fmt.Errorf("providertest: %s did not return after its deadline", op)
	}
}

// checkBreaker drives op against an always-failing fake, then clears the
// fault and waits for the breaker to close.
func checkBreaker[F comparable](ctx context.Context, kp keyprovider.KeyProvider, fk Faults[F], op Op, f F) error {
	client := keyprovider.NewClient(kp, &keyprovider.ClientOptions{
		BaseBackoff: time.Microsecond, MaxBackoff: time.Millisecond, BreakerCooldown: 20 * time.Millisecond,
	})
	fc, err := newFaultCall(ctx, client, op)
	if err != nil {
		return err
	}
	before := fk.Calls()
	fk.SetAlways(f)
	for i := range breakerCalls {
		if _, err := fc.run(ctx); !errors.Is(err, keyprovider.ErrUnavailable) {
			return fmt.Errorf("providertest: %s %d against an always-failing fake: want keyprovider.ErrUnavailable, got %v", op, i, err)
		}
	}
	if n := fk.Calls() - before; n > breakerCalls/10 {
		return fmt.Errorf("providertest: %d of %d %s calls reached the failing fake, want at most %d", n, breakerCalls, op, breakerCalls/10)
	}
	var zero F
	fk.SetAlways(zero)
	// Poll until a probe closes the breaker again; the deadline guards
	// against a breaker that never closes, it is not a speed requirement.
	deadline := time.Now().Add(faultWatchdog)
	for {
		got, err := fc.run(ctx)
		if err == nil {
			if err := fc.ok(got); err != nil {
				return err
			}
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("providertest: %s still failing %v after the fault was cleared: %v", op, faultWatchdog, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Calls flow again: the next one reaches the fake once, at once.
	before = fk.Calls()
	got, err := fc.run(ctx)
	if err != nil {
		return fmt.Errorf("providertest: %s failed after recovery: %w", op, err)
	}
	if err := fc.ok(got); err != nil {
		return err
	}
	if n := fk.Calls() - before; n != 1 {
		return fmt.Errorf("providertest: %s after recovery: %d calls reached the fake, want 1", op, n)
	}
	return nil
}
