package envelope

import (
	"testing"
	"time"
)

var sinkNanos int64

// BenchmarkClock compares the coarse clock that cache ages are read from
// with time.Now, in the same run: one of them is read per encrypted or
// decrypted value.
func BenchmarkClock(b *testing.B) {
	b.Run("coarse", func(b *testing.B) {
		for b.Loop() {
			sinkNanos += coarseNow()
		}
	})
	b.Run("timeNow", func(b *testing.B) {
		for b.Loop() {
			sinkNanos += int64(time.Since(clockBase))
		}
	})
}
