package providertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldguard/pii/keyprovider"
)

var errPanic = errors.New("providertest: provider panicked")

// guard runs f, turning a panic into an error matching errPanic and
// recording any other error for the leak scan.
func (e *env) guard(op string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in %s: %v", errPanic, op, r)
		}
		e.record(err)
	}()
	return f()
}

// env carries the providers of one check and records every data key it
// generated and every error the providers returned, for the leak scan.
type env struct {
	ctx  context.Context
	a, b keyprovider.KeyProvider

	mu   sync.Mutex
	keys [][]byte
	errs []error
}

func newEnv(ctx context.Context, a, b keyprovider.KeyProvider) *env {
	return &env{ctx: ctx, a: a, b: b}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// newKey returns a fresh random data key and remembers it for the leak scan.
func (e *env) newKey(n int) []byte {
	k := random(n)
	e.mu.Lock()
	e.keys = append(e.keys, bytes.Clone(k))
	e.mu.Unlock()
	return k
}

func (e *env) record(err error) {
	if err == nil || errors.Is(err, errPanic) {
		return
	}
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (e *env) wrap(ctx context.Context, p keyprovider.KeyProvider, key, ad []byte) (wrapped []byte, id keyprovider.KeyID, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in Wrap: %v", errPanic, r)
		}
		e.record(err)
	}()
	return p.Wrap(ctx, key, ad)
}

func (e *env) unwrap(ctx context.Context, p keyprovider.KeyProvider, wrapped, ad []byte) (key []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in Unwrap: %v", errPanic, r)
		}
		e.record(err)
	}()
	return p.Unwrap(ctx, wrapped, ad)
}

// mustWrap wraps key under p with a live context and reports any failure.
func (e *env) mustWrap(p keyprovider.KeyProvider, key, ad []byte) ([]byte, error) {
	wrapped, id, err := e.wrap(e.ctx, p, key, ad)
	if err != nil {
		return nil, fmt.Errorf("providertest: Wrap of a %d-byte key with %d bytes of associated data: %w", len(key), len(ad), err)
	}
	if id.Key == "" {
		return nil, errors.New("providertest: Wrap returned an empty KeyID.Key")
	}
	if len(wrapped) == 0 {
		return nil, errors.New("providertest: Wrap returned no wrapped bytes")
	}
	return wrapped, nil
}

// mustFail unwraps wrapped under p and returns an error unless the provider
// refused it without panicking.
func (e *env) mustFail(p keyprovider.KeyProvider, wrapped, ad, key []byte, what string) error {
	got, err := e.unwrap(e.ctx, p, wrapped, ad)
	switch {
	case errors.Is(err, errPanic):
		return fmt.Errorf("providertest: %s: %w", what, err)
	case err == nil && bytes.Equal(got, key):
		return fmt.Errorf("providertest: %s: Unwrap returned the original data key", what)
	case err == nil:
		return fmt.Errorf("providertest: %s: Unwrap succeeded (returned %d bytes that are not the data key)", what, len(got))
	}
	return nil
}

// withWatchdog runs f and fails if it does not return within watchdog.
func withWatchdog(what string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(watchdog)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("providertest: %s did not return within %s", what, watchdog)
	}
}

// roundTrip wraps a fresh key under p and checks that it unwraps.
func (e *env) roundTrip(p keyprovider.KeyProvider, ad []byte) error {
	key := e.newKey(32)
	wrapped, err := e.mustWrap(p, key, ad)
	if err != nil {
		return err
	}
	got, err := e.unwrap(e.ctx, p, wrapped, ad)
	if err != nil {
		return fmt.Errorf("providertest: Unwrap: %w", err)
	}
	if !bytes.Equal(got, key) {
		return errors.New("providertest: Unwrap returned a different key")
	}
	return nil
}
