package keyprovider_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
)

// lateKP ignores its context. Its first `hung` calls of each round block
// until a later call of the round releases them, and then return a result
// of their own ("late-N"). That later call waits until they have returned,
// so their results arrive while the Client is completing the call, and
// then returns "fresh".
type lateKP struct {
	hung int

	mu       sync.Mutex
	calls    int
	release  chan struct{}
	returned sync.WaitGroup // the hung calls of the round
}

// begin numbers one call within the round and reports whether it hangs.
func (l *lateKP) begin() (n int, hang bool, release chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.release == nil {
		l.release = make(chan struct{})
	}
	n, release = l.calls, l.release
	if n <= l.hung {
		l.returned.Add(1)
		return n, true, release
	}
	return n, false, release
}

// run is the body of every method: it returns the number of a hung call,
// after it was released, or 0 for the call that releases them.
func (l *lateKP) run(ctx context.Context) int {
	n, hang, release := l.begin()
	if hang {
		defer l.returned.Done()
		<-release // the context is ignored on purpose
		return n
	}
	l.mu.Lock()
	if l.calls == l.hung+1 {
		close(release)
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.returned.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	runtime.Gosched()
	return 0
}

// newRound starts the next call's round.
func (l *lateKP) newRound() {
	l.mu.Lock()
	l.calls, l.release = 0, nil
	l.mu.Unlock()
}

// finish releases any hung call (a call without retries never releases
// its own) and waits until every hung call of the round has returned.
func (l *lateKP) finish() {
	l.mu.Lock()
	if l.release != nil && l.calls <= l.hung {
		close(l.release)
		l.release = nil
	}
	l.mu.Unlock()
	l.returned.Wait()
}

func label(n int) string {
	if n == 0 {
		return "fresh"
	}
	return fmt.Sprintf("late-%d", n)
}

func (l *lateKP) Wrap(ctx context.Context, _, _ []byte) ([]byte, keyprovider.KeyID, error) {
	n := l.run(ctx)
	return []byte(label(n)), keyprovider.KeyID{Key: label(n)}, nil
}

func (l *lateKP) Unwrap(ctx context.Context, _, _ []byte) ([]byte, error) {
	n := l.run(ctx)
	return bytes.Repeat([]byte{byte('A' + n)}, 32), nil
}

func (l *lateKP) Rewrap(ctx context.Context, _, _ []byte) ([]byte, keyprovider.KeyID, error) {
	n := l.run(ctx)
	return []byte(label(n)), keyprovider.KeyID{Key: label(n)}, nil
}

func (l *lateKP) Rotate(ctx context.Context) (keyprovider.KeyID, error) {
	n := l.run(ctx)
	return keyprovider.KeyID{Key: label(n), Version: "2"}, nil
}

func (l *lateKP) Versions(ctx context.Context) ([]keyprovider.Version, error) {
	n := l.run(ctx)
	return []keyprovider.Version{{ID: keyprovider.KeyID{Key: label(n)}, Primary: true, Status: keyprovider.StatusEnabled}}, nil
}

// TestClientLateAttemptsShareNothing: attempts abandoned at the per-attempt
// deadline finish late, with results of their own, while the Client
// retries and completes the call. Run under -race: attempts that shared
// result variables race (and may return a late result); attempts that
// shared one channel could hand a late result to the caller.
func TestClientLateAttemptsShareNothing(t *testing.T) {
	const retries = 3
	ops := []struct {
		name  string
		hung  int // calls without retries hang on their only attempt
		call  func(context.Context, *keyprovider.Client) (string, error)
		fresh string
	}{
		{"Wrap", retries, func(ctx context.Context, c *keyprovider.Client) (string, error) {
			w, id, err := c.Wrap(ctx, []byte("0123456789abcdef"), []byte("ad"))
			return string(w) + "/" + id.Key, err
		}, "fresh/fresh"},
		{"Unwrap", retries, func(ctx context.Context, c *keyprovider.Client) (string, error) {
			k, err := c.Unwrap(ctx, []byte("wrapped"), []byte("ad"))
			return string(k), err
		}, string(bytes.Repeat([]byte{'A'}, 32))},
		{"Rewrap", retries, func(ctx context.Context, c *keyprovider.Client) (string, error) {
			w, id, err := c.Rewrap(ctx, []byte("wrapped"), []byte("ad"))
			return string(w) + "/" + id.Key, err
		}, "fresh/fresh"},
		{"Versions", retries, func(ctx context.Context, c *keyprovider.Client) (string, error) {
			vs, err := c.Versions(ctx)
			if err != nil {
				return "", err
			}
			return vs[0].ID.Key, nil
		}, "fresh"},
		{"Rotate (no retries)", 1, func(ctx context.Context, c *keyprovider.Client) (string, error) {
			id, err := c.Rotate(ctx)
			return id.Key, err
		}, ""},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			kp := &lateKP{hung: op.hung}
			c := keyprovider.NewClient(kp, &keyprovider.ClientOptions{
				// Long enough for the releasing attempt to finish, short
				// enough for a quick test; no assertion depends on it.
				AttemptTimeout:   50 * time.Millisecond,
				MaxAttempts:      retries + 1,
				BaseBackoff:      time.Microsecond,
				MaxBackoff:       time.Microsecond,
				RetryBurst:       1000,
				BreakerThreshold: -1,
			})
			for range 3 {
				kp.newRound()
				got, err := op.call(t.Context(), c)
				if op.fresh == "" {
					require.ErrorIs(t, err, keyprovider.ErrUnavailable)
					require.ErrorIs(t, err, context.DeadlineExceeded)
					require.Empty(t, got, "a failed call returns no result, even one that arrives late")
				} else {
					require.NoError(t, err)
					require.Equal(t, op.fresh, got, "the result of the attempt that succeeded, never a late one")
				}
				kp.finish()
			}
		})
	}
}
