package keyprovider

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type nopKP struct{ KeyProvider }

// TestAbandonedAttemptScrubsItsLateResult: a data key that an attempt
// returns after the Client abandoned it is handed to the scrub function
// (which clears it) and to nobody else.
func TestAbandonedAttemptScrubsItsLateResult(t *testing.T) {
	c := NewClient(nopKP{}, &ClientOptions{AttemptTimeout: time.Millisecond})
	release := make(chan struct{})
	late := []byte("a data key returned late")
	scrubbed := make(chan []byte, 1)
	scrub := func(k []byte) { clearKey(k); scrubbed <- k }
	got, err := attempt(c, t.Context(), "unwrap", scrub, func(context.Context) ([]byte, error) {
		<-release // ignores its context
		return late, nil
	})
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Nil(t, got)
	close(release)
	select {
	case k := <-scrubbed:
		require.Equal(t, make([]byte, len(k)), k, "the late data key is cleared")
	case <-time.After(time.Minute): // a watchdog, not a timing assertion
		t.Fatal("the late data key was never handed to scrub")
	}

	// An attempt that returns in time is not scrubbed.
	got, err = attempt(c, context.Background(), "unwrap", scrub, func(context.Context) ([]byte, error) {
		return []byte("in time"), nil
	})
	if err == nil { // the 1 ms timer may win on a loaded machine
		require.Equal(t, []byte("in time"), got)
	}
}
