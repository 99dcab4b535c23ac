package piitest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/piitest"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	c := piitest.NewClock(t0)
	require.Equal(t, t0, c.Now())
	c.Add(time.Hour)
	require.Equal(t, t0.Add(time.Hour), c.Now())
	c.AddDate(0, 1, 0) // calendar arithmetic: 31 Jan + 1 month normalises to 3 Mar
	require.Equal(t, time.Date(2026, 3, 3, 13, 0, 0, 0, time.UTC), c.Now())
	c.Set(t0)
	require.Equal(t, t0, c.Now())

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add(time.Second); _ = c.Now() }()
	}
	wg.Wait()
	require.Equal(t, t0.Add(8*time.Second), c.Now())

}
