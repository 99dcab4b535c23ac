package clock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/clock"
	"github.com/fieldguard/pii/piitest"
)

func TestOr(t *testing.T) {
	c := piitest.NewClock(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	require.Same(t, c, clock.Or(c))
	before := time.Now()
	now := clock.Or(nil).Now()
	require.False(t, now.Before(before), "nil is the system clock")
	require.False(t, now.After(time.Now()))
}
