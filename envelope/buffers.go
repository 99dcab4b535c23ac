package envelope

import (
	"sync"
)

// Scratch buffers for the hot path.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		b := make([]byte, n)
		*bp = b
	}
	*bp = (*bp)[:n]
	return bp
}

func putBuf(bp *[]byte) {
	clear(*bp)
	putBufPublic(bp)
}

// putBufPublic returns a buffer that never held plaintext or keys.
func putBufPublic(bp *[]byte) {
	if cap(*bp) > 64<<10 {
		return
	}
	bufPool.Put(bp)
}
