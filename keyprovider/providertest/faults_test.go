package providertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
)

// fakeFault is the fault type of faultyProvider; zero is "no fault".
type fakeFault int

const (
	fakeTransient fakeFault = iota + 1
	fakeDenied
	fakeHang
)

// faultFlaws switch on one deliberate bug each in faultyProvider.
type faultFlaws struct {
	deniedRetryable bool // class a permission failure as unavailable
	unclassified    bool // return transient failures without a class
	innerRetries    int  // retry inside the backend, on top of the client
	sticky          bool // once a fault was set to always fail, keep failing
	leakKey         bool // put the data key in the unavailable error
}

// faultyProvider is the reference provider behind an in-process fault
// injector that implements Faults[fakeFault].
type faultyProvider struct {
	keyprovider.KeyProvider
	f faultFlaws

	calls  atomic.Int64
	mu     sync.Mutex
	queue  []fakeFault
	always fakeFault
	broken bool // sticky: an always-failing fault was seen
}

func (p *faultyProvider) Calls() int64 { return p.calls.Load() }

func (p *faultyProvider) Inject(faults ...fakeFault) {
	p.mu.Lock()
	p.queue = append(p.queue, faults...)
	p.mu.Unlock()
}

func (p *faultyProvider) SetAlways(f fakeFault) {
	p.mu.Lock()
	p.always = f
	if f != 0 && p.f.sticky {
		p.broken = true
	}
	p.mu.Unlock()
}

// fault counts one call and returns the error its fault produces.
func (p *faultyProvider) fault(ctx context.Context, op string, key []byte) error {
	p.calls.Add(1)
	p.mu.Lock()
	f := p.always
	if f == 0 && len(p.queue) > 0 {
		f, p.queue = p.queue[0], p.queue[1:]
	}
	if f == 0 && p.broken {
		f = fakeTransient
	}
	p.mu.Unlock()
	switch f {
	case fakeTransient:
		err := errors.New("fake: injected unavailability")
		if p.f.leakKey && key != nil {
			err = fmt.Errorf("fake: injected unavailability for %x", key)
		}
		if p.f.unclassified {
			return err
		}
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	case fakeDenied:
		class := keyprovider.ErrPermission
		if p.f.deniedRetryable {
			class = keyprovider.ErrUnavailable
		}
		return keyprovider.Classify(op, class, errors.New("fake: injected denial"))
	case fakeHang:
		<-ctx.Done()
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, ctx.Err())
	}
	return nil
}

// attempt runs fault once, and again up to innerRetries times.
func (p *faultyProvider) attempt(ctx context.Context, op string, key []byte) error {
	err := p.fault(ctx, op, key)
	for i := 0; i < p.f.innerRetries && errors.Is(err, keyprovider.ErrUnavailable); i++ {
		err = p.fault(ctx, op, key)
	}
	return err
}

func (p *faultyProvider) Wrap(ctx context.Context, dataKey, ad []byte) ([]byte, keyprovider.KeyID, error) {
	if err := p.attempt(ctx, "wrap", dataKey); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	return p.KeyProvider.Wrap(ctx, dataKey, ad)
}

func (p *faultyProvider) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	if err := p.attempt(ctx, "unwrap", nil); err != nil {
		return nil, err
	}
	return p.KeyProvider.Unwrap(ctx, wrapped, ad)
}

func faultyHarness(f faultFlaws) FaultHarness[fakeFault] {
	return FaultHarness[fakeFault]{
		New: func(t *testing.T) (keyprovider.KeyProvider, Faults[fakeFault]) {
			p := &faultyProvider{KeyProvider: newRef(t, flaws{}, randomKEK(), 1, "faulty"), f: f}
			return p, p
		},
		Transient: map[string]fakeFault{"Transient": fakeTransient},
		Denied:    fakeDenied,
		Hang:      fakeHang,
	}
}

func TestRunFaultsReference(t *testing.T) {
	h := faultyHarness(faultFlaws{})
	h.Extra = []FaultCase[fakeFault]{
		{Name: "two transient recovered", Op: Unwrap, Faults: []fakeFault{fakeTransient, fakeTransient}, Calls: 3},
	}
	RunFaults(t, h)
}

// TestFaultChecksCatchBrokenBackends runs each fault check against a
// backend with one deliberate flaw, and against the correct one, so a check
// that passes everything cannot hide here.
func TestFaultChecksCatchBrokenBackends(t *testing.T) {
	defer func(d time.Duration) { faultWatchdog = d }(faultWatchdog)
	faultWatchdog = 500 * time.Millisecond // flawed backends fail by timing out
	once := func(op Op) func(keyprovider.KeyProvider, Faults[fakeFault]) error {
		return func(kp keyprovider.KeyProvider, fk Faults[fakeFault]) error {
			return checkCase(t.Context(), kp, fk, FaultCase[fakeFault]{Op: op, Faults: []fakeFault{fakeTransient}, Calls: 2})
		}
	}
	persistent := func(kp keyprovider.KeyProvider, fk Faults[fakeFault]) error {
		return checkCase(t.Context(), kp, fk, FaultCase[fakeFault]{
			Op: Wrap, Faults: []fakeFault{fakeTransient, fakeTransient, fakeTransient, fakeTransient},
			Want: keyprovider.ErrUnavailable, Calls: defaultMaxAttempts,
		})
	}
	denied := func(kp keyprovider.KeyProvider, fk Faults[fakeFault]) error {
		return checkCase(t.Context(), kp, fk, FaultCase[fakeFault]{Op: Unwrap, Faults: []fakeFault{fakeDenied}, Want: keyprovider.ErrPermission, Calls: 1})
	}
	breaker := func(kp keyprovider.KeyProvider, fk Faults[fakeFault]) error {
		return checkBreaker(t.Context(), kp, fk, Unwrap, fakeTransient)
	}
	tests := []struct {
		name  string
		flaws faultFlaws
		check func(keyprovider.KeyProvider, Faults[fakeFault]) error
		want  string
	}{
		{"unclassified transient is not retried", faultFlaws{unclassified: true}, once(Wrap), "want success"},
		{"unclassified transient is not retried (unwrap)", faultFlaws{unclassified: true}, once(Unwrap), "want success"},
		{"inner retries multiply calls", faultFlaws{innerRetries: 2}, persistent, "calls reached the fake, want 3"},
		{"retried denial", faultFlaws{deniedRetryable: true}, denied, "want an error matching"},
		{"inner retries defeat the breaker", faultFlaws{innerRetries: 20}, breaker, "reached the failing fake"},
		{"unclassified failures defeat the breaker", faultFlaws{unclassified: true}, breaker, "want keyprovider.ErrUnavailable"},
		{"never recovers", faultFlaws{sticky: true}, breaker, "still failing"},
		{"key in an error", faultFlaws{leakKey: true}, persistent, "contains the data key (hex)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := faultyHarness(tc.flaws)
			kp, fk := h.New(t)
			require.ErrorContains(t, tc.check(kp, fk), tc.want)

			kp, fk = faultyHarness(faultFlaws{}).New(t)
			require.NoError(t, tc.check(kp, fk), "the correct backend passes the same check")
		})
	}
}

// TestFaultChecksSkipWhatTheFakeLacks: a harness without Denied or Hang
// gets those subtests reported as skipped, and the others still run.
func TestFaultChecksSkipWhatTheFakeLacks(t *testing.T) {
	h := faultyHarness(faultFlaws{})
	h.Denied, h.Hang = 0, 0
	subtests := map[string]*testing.T{}
	h.New = func(st *testing.T) (keyprovider.KeyProvider, Faults[fakeFault]) {
		subtests[st.Name()] = st
		return faultyHarness(faultFlaws{}).New(st)
	}
	RunFaults(t, h)
	for _, op := range []Op{Wrap, Unwrap} {
		for _, name := range []string{"DeniedNotRetried", "HangRespectsDeadline"} {
			st := subtests[fmt.Sprintf("%s/%s/%s", t.Name(), op, name)]
			require.NotNil(t, st, "%s/%s ran", op, name)
			require.True(t, st.Skipped(), "%s/%s is skipped", op, name)
		}
		st := subtests[fmt.Sprintf("%s/%s/Transient/OnceRecovered", t.Name(), op)]
		require.NotNil(t, st)
		require.False(t, st.Skipped())
	}
}
