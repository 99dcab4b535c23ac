package envelope

import (
	"sync"
	"sync/atomic"
	"time"
)

// Cache ages are measured on a coarse monotonic clock: one package-level
// timer refreshes it every tick while it is being read and stops when it
// is not, so no goroutine outlives its use. Ages are therefore accurate to
// about one tick, far below any sensible Cache.MaxAge. Options.Clock, when
// set, replaces it.
//
// It stays because it pays: every Seal, Open, Encrypt and Decrypt of a
// value reads the clock once, and BenchmarkClock compares it with
// time.Now in the same run; BENCHMARKS.md at the module root has the ratio
// (row Clock/coarse / Clock/timeNow). A ratio that climbs towards 1 means
// the coarse clock should go.
const clockTick = 50 * time.Millisecond

var clockBase = time.Now()

func monoNow() int64 { return int64(time.Since(clockBase)) }

type coarseClock struct {
	now     atomic.Int64
	running atomic.Bool
	used    atomic.Bool
	mu      sync.Mutex
}

var clk coarseClock

func coarseNow() int64 {
	if !clk.running.Load() {
		clk.start()
	}
	if !clk.used.Load() {
		clk.used.Store(true)
	}
	return clk.now.Load()
}

func (c *coarseClock) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running.Load() {
		return
	}
	c.now.Store(monoNow())
	c.running.Store(true)
	time.AfterFunc(clockTick, c.tick)
}

func (c *coarseClock) tick() {
	c.now.Store(monoNow())
	if c.used.Swap(false) {
		time.AfterFunc(clockTick, c.tick)
		return
	}
	c.mu.Lock()
	c.running.Store(false)
	c.mu.Unlock()
}

// clock returns the Sealer's monotonic time in nanoseconds.
func (s *Sealer) clock() int64 {
	if s.ages != nil {
		return int64(s.ages.Now().Sub(clockBase))
	}
	return coarseNow()
}
