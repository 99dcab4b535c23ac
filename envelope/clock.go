package envelope

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fieldguard/pii/envelope/internal/format"
)

// Cache ages are measured on a coarse monotonic clock: reading time.Now on
// every field costs a third of an AES-GCM open. One package-level timer
// refreshes the clock every tick while it is being read and stops when it
// is not, so no goroutine outlives its use. Ages are therefore accurate to
// about one tick (50 ms), far below any sensible Cache.MaxAge.
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

// bytesOf is a read-only view of s, for copying and decoding it without
// a conversion allocation. Nothing writes through it.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// textArena hands out strings carved from shared chunks, so sealing or
// opening a struct's fields costs one allocation rather than one per field.
// Bytes handed out are never written again (the strings are immutable); a
// chunk lives as long as any string carved from it.
type textArena struct {
	buf  []byte
	next int // size of the next chunk; doubles up to 8 KiB
}

func (a *textArena) room(n int) {
	if cap(a.buf)-len(a.buf) >= n {
		return
	}
	if a.next == 0 {
		a.next = 256
	}
	a.buf = make([]byte, 0, max(a.next, n))
	a.next = min(2*a.next, 8<<10)
}

// text returns the text form of the binary ciphertext bin.
func (a *textArena) text(bin []byte) string {
	n := format.EncodedLen(len(bin))
	a.room(n)
	start := len(a.buf)
	a.buf = format.AppendText(a.buf, bin)
	return unsafe.String(&a.buf[start], n)
}

// str returns a string copy of b.
func (a *textArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	a.room(len(b))
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}
