package vaultfake

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Fault is a failure injected into one request.
type Fault int

const (
	// Sealed answers 503 "Vault is sealed".
	Sealed Fault = iota + 1
	// Throttle answers 429.
	Throttle
	// Internal answers 500.
	Internal
	// Hang blocks until the client gives up (or the server closes).
	Hang
	// Forbidden answers 403 "permission denied", as Vault does for a token
	// whose policy does not cover the path.
	Forbidden
)

// Faults injects Vault-style failures in front of a handler. Its zero value
// is ready to use. The fake in this package and the in-process Transit
// server of the tests (internal/vaulttest) both embed it.
type Faults struct {
	calls atomic.Int64

	mu     sync.Mutex
	queue  []Fault
	always Fault
	done   chan struct{}
	closed bool
}

// Calls returns the number of requests received.
func (f *Faults) Calls() int64 { return f.calls.Load() }

// Inject queues faults, one per following request.
func (f *Faults) Inject(faults ...Fault) {
	f.mu.Lock()
	f.queue = append(f.queue, faults...)
	f.mu.Unlock()
}

// SetAlways makes every request fail with x until SetAlways(0).
func (f *Faults) SetAlways(x Fault) {
	f.mu.Lock()
	f.always = x
	f.mu.Unlock()
}

// Release ends every hanging request, now and later; call it when the
// server closes.
func (f *Faults) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.doneLocked())
	}
}

func (f *Faults) doneLocked() chan struct{} {
	if f.done == nil {
		f.done = make(chan struct{})
	}
	return f.done
}

// Intercept counts the request and, when a fault is due, answers it the
// way Vault would and reports true: the handler must then stop.
func (f *Faults) Intercept(w http.ResponseWriter, r *http.Request) bool {
	f.calls.Add(1)
	f.mu.Lock()
	x := f.always
	if x == 0 && len(f.queue) > 0 {
		x, f.queue = f.queue[0], f.queue[1:]
	}
	done := f.doneLocked()
	f.mu.Unlock()
	switch x {
	case 0:
		return false
	case Sealed:
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
	case Throttle:
		writeErrors(w, http.StatusTooManyRequests, "request path \"transit/encrypt\": rate limit quota exceeded")
	case Internal:
		writeErrors(w, http.StatusInternalServerError, "internal error")
	case Forbidden:
		writeErrors(w, http.StatusForbidden, "permission denied")
	case Hang:
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
	return true
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErrors writes Vault's error body, {"errors": [...]}.
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": msgs})
}
