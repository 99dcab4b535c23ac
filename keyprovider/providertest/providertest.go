package providertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fieldguard/pii/keyprovider"
)

// Harness builds the providers under test.
type Harness struct {
	// New returns two providers backed by two distinct KEKs, fresh for each call.
	New func(t *testing.T) (a, b keyprovider.KeyProvider)
}

// Run runs the conformance suite against the providers h builds, one
// subtest per check (see the package documentation for the list).
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("providertest: Harness.New is nil")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			a, b := h.New(t)
			if a == nil || b == nil {
				t.Fatal("providertest: Harness.New returned a nil provider")
			}
			e := newEnv(t.Context(), a, b)
			err := c.run(e)
			var skip *skipError
			if errors.As(err, &skip) {
				t.Skip(skip.reason)
			}
			if err != nil {
				t.Error(err)
			}
			if err := e.leaks(); err != nil {
				t.Error(err)
			}
			if err := e.doubledPrefixes(); err != nil {
				t.Error(err)
			}
		})
	}
}

// A check returns nil when the providers in e conform, or an error that
// says what went wrong. Checks are plain functions so the suite's own tests
// can run them against deliberately broken providers.
type check struct {
	name string
	run  func(e *env) error
}

var checks = []check{
	{"RoundTrip", checkRoundTrip},
	{"WrongAssociatedData", checkWrongAD},
	{"BitFlips", checkBitFlips},
	{"Truncations", checkTruncations},
	{"Garbage", checkGarbage},
	{"CrossKEK", checkCrossKEK},
	{"CancelledContext", checkCancelled},
	{"ExpiredDeadline", checkDeadline},
	{"Concurrent", checkConcurrent},
	{"NoAliasing", checkNoAliasing},
	{"NoKeyBytesInErrors", checkNoKeyBytes},
	{"Rotation", checkRotation},
	{"Versions", checkVersions},
	{"Rewrap", checkRewrap},
}

// skipError marks a check that does not apply: the provider lacks the
// optional interface it tests.
type skipError struct{ reason string }

func (s *skipError) Error() string { return "providertest: skipped: " + s.reason }

// runCheck runs the named check against a and b, including the scan of
// every error it produced for key bytes.
func runCheck(ctx context.Context, name string, a, b keyprovider.KeyProvider) error {
	for _, c := range checks {
		if c.name == name {
			e := newEnv(ctx, a, b)
			return errors.Join(c.run(e), e.leaks(), e.doubledPrefixes())
		}
	}
	return fmt.Errorf("providertest: no check named %q", name)
}

// Sizes the suite uses.
var (
	keySizes = []int{16, 32, 64}
	adSizes  = []int{0, 1, 4096}
)

const (
	goroutines = 32
	iterations = 16
	// watchdog bounds how long a call with a cancelled context may block
	// before the suite gives up on it. It guards against hangs; it is not a
	// speed requirement.
	watchdog = 30 * time.Second
)
