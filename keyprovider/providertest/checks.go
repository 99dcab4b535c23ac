package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldguard/pii/keyprovider"
)

func checkRoundTrip(e *env) error {
	var errs []error
	for _, ks := range keySizes {
		for _, as := range adSizes {
			key := e.newKey(ks)
			ad := random(as)
			if as == 0 {
				ad = nil // and unwrap with an empty, non-nil slice below
			}
			wrapped, err := e.mustWrap(e.a, key, ad)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if bytes.Contains(wrapped, key) {
				errs = append(errs, fmt.Errorf("providertest: key %d/ad %d: the wrapped bytes contain the data key in clear", ks, as))
			}
			unwrapAD := ad
			if as == 0 {
				unwrapAD = []byte{}
			}
			got, err := e.unwrap(e.ctx, e.a, wrapped, unwrapAD)
			if err != nil {
				errs = append(errs, fmt.Errorf("providertest: key %d/ad %d: Unwrap: %w", ks, as, err))
				continue
			}
			if !bytes.Equal(got, key) {
				errs = append(errs, fmt.Errorf("providertest: key %d/ad %d: Unwrap returned a different key (%d bytes)", ks, as, len(got)))
			}
		}
	}
	return errors.Join(errs...)
}

func checkWrongAD(e *env) error {
	key := e.newKey(32)
	ad := []byte("tenant=acme;field=Customer.Email")
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	flipped := bytes.Clone(ad)
	flipped[len(flipped)-1] ^= 0x01
	cases := []struct {
		name string
		ad   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"last bit flipped", flipped},
		{"truncated by one byte", ad[:len(ad)-1]},
		{"extended by one byte", append(bytes.Clone(ad), 0)},
		{"other", []byte("tenant=evil;field=Customer.Email")},
	}
	var errs []error
	for _, c := range cases {
		got, err := e.unwrap(e.ctx, e.a, wrapped, c.ad)
		switch {
		case errors.Is(err, errPanic):
			errs = append(errs, fmt.Errorf("providertest: associated data %s: %w", c.name, err))
		case err == nil && bytes.Equal(got, key):
			errs = append(errs, fmt.Errorf("providertest: associated data %s: Unwrap returned the data key; associated data is not authenticated", c.name))
		case err == nil:
			errs = append(errs, fmt.Errorf("providertest: associated data %s: Unwrap succeeded", c.name))
		case !errors.Is(err, keyprovider.ErrAuthentication):
			errs = append(errs, fmt.Errorf("providertest: associated data %s: got %v, want an error matching keyprovider.ErrAuthentication", c.name, err))
		}
	}

	// Wrapped with empty associated data, unwrapped with some.
	key2 := e.newKey(32)
	wrapped2, err := e.mustWrap(e.a, key2, nil)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	_, err = e.unwrap(e.ctx, e.a, wrapped2, []byte{0})
	if err == nil || !errors.Is(err, keyprovider.ErrAuthentication) {
		errs = append(errs, fmt.Errorf("providertest: wrapped with empty associated data, unwrapped with one byte: got %v, want an error matching keyprovider.ErrAuthentication", err))
	}
	return errors.Join(errs...)
}

func checkBitFlips(e *env) error {
	key := e.newKey(32)
	ad := []byte("providertest bit flips")
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	orig := bytes.Clone(wrapped)
	var errs []error
	for i := range len(wrapped) * 8 {
		tampered := bytes.Clone(orig)
		tampered[i/8] ^= 1 << (i % 8)
		if err := e.mustFail(e.a, tampered, ad, key, fmt.Sprintf("bit %d of %d flipped", i, len(orig)*8)); err != nil {
			errs = append(errs, err)
			if len(errs) >= 8 {
				errs = append(errs, errors.New("providertest: further bit flips not reported"))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func checkTruncations(e *env) error {
	key := e.newKey(32)
	ad := []byte("providertest truncations")
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	var errs []error
	for n := range len(wrapped) {
		if err := e.mustFail(e.a, bytes.Clone(wrapped[:n]), ad, key, fmt.Sprintf("truncated to %d of %d bytes", n, len(wrapped))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkGarbage(e *env) error {
	key := e.newKey(32)
	ad := []byte("providertest garbage")
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	// A real prefix followed by random bytes of the right length looks
	// well-formed to a parser that only checks lengths and key ids.
	prefix := min(8, len(wrapped))
	forged := append(bytes.Clone(wrapped[:prefix]), random(len(wrapped)-prefix)...)
	cases := []struct {
		name    string
		wrapped []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"one byte", []byte{0x01}},
		{"five zero bytes", make([]byte, 5)},
		{"100 random bytes", random(100)},
		{"real prefix, random rest", forged},
		{"doubled", append(bytes.Clone(wrapped), wrapped...)},
	}
	var errs []error
	for _, c := range cases {
		if err := e.mustFail(e.a, c.wrapped, ad, key, "garbage "+c.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkCrossKEK(e *env) error {
	var errs []error
	ad := []byte("providertest cross kek")
	var ids [2]keyprovider.KeyID
	for i, p := range []struct{ from, to keyprovider.KeyProvider }{{e.a, e.b}, {e.b, e.a}} {
		key := e.newKey(32)
		wrapped, id, err := e.wrap(e.ctx, p.from, key, ad)
		if err != nil {
			errs = append(errs, fmt.Errorf("providertest: Wrap: %w", err))
			continue
		}
		ids[i] = id
		if err := e.mustFail(p.to, wrapped, ad, key, fmt.Sprintf("wrapped under KEK %q, unwrapped under the other", id)); err != nil {
			errs = append(errs, err)
		}
	}
	if ids[0] == ids[1] && ids[0] != (keyprovider.KeyID{}) {
		errs = append(errs, fmt.Errorf("providertest: both providers report KeyID %q; two KEKs must have distinct ids", ids[0]))
	}
	return errors.Join(errs...)
}

func (e *env) checkDone(ctx context.Context, want error, what string) error {
	key := e.newKey(32)
	ad := []byte("providertest " + what)
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	var errs []error
	err = withWatchdog("Wrap with a "+what+" context", func() error {
		_, _, err := e.wrap(ctx, e.a, e.newKey(32), ad)
		return err
	})
	if err == nil || !errors.Is(err, want) {
		errs = append(errs, fmt.Errorf("providertest: Wrap with a %s context: got %v, want an error matching %v", what, err, want))
	}
	err = withWatchdog("Unwrap with a "+what+" context", func() error {
		_, err := e.unwrap(ctx, e.a, wrapped, ad)
		return err
	})
	if err == nil || !errors.Is(err, want) {
		errs = append(errs, fmt.Errorf("providertest: Unwrap with a %s context: got %v, want an error matching %v", what, err, want))
	}
	return errors.Join(errs...)
}

func checkCancelled(e *env) error {
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	return e.checkDone(ctx, context.Canceled, "cancelled")
}

func checkDeadline(e *env) error {
	ctx, cancel := context.WithDeadline(e.ctx, time.Unix(1, 0))
	defer cancel()
	return e.checkDone(ctx, context.DeadlineExceeded, "expired")
}

func checkConcurrent(e *env) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for g := range goroutines {
		wg.Go(func() {
			p := e.a
			if g%2 == 1 {
				p = e.b
			}
			for i := range iterations {
				key := e.newKey(keySizes[(g+i)%len(keySizes)])
				ad := fmt.Appendf(nil, "goroutine %d iteration %d", g, i)
				wrapped, _, err := e.wrap(e.ctx, p, key, ad)
				if err != nil {
					fail(fmt.Errorf("providertest: goroutine %d: Wrap: %w", g, err))
					return
				}
				got, err := e.unwrap(e.ctx, p, wrapped, ad)
				if err != nil {
					fail(fmt.Errorf("providertest: goroutine %d: Unwrap: %w", g, err))
					return
				}
				if !bytes.Equal(got, key) {
					fail(fmt.Errorf("providertest: goroutine %d: Unwrap returned a different key", g))
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func checkNoAliasing(e *env) error {
	key := e.newKey(32)
	origKey := bytes.Clone(key)
	ad := random(24)
	origAD := bytes.Clone(ad)
	var errs []error

	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	if !bytes.Equal(key, origKey) {
		errs = append(errs, errors.New("providertest: Wrap mutated the caller's dataKey"))
	}
	if !bytes.Equal(ad, origAD) {
		errs = append(errs, errors.New("providertest: Wrap mutated the caller's associated data"))
	}
	origWrapped := bytes.Clone(wrapped)

	for i := range key {
		key[i] = 0xAA
	}
	got, err := e.unwrap(e.ctx, e.a, wrapped, ad)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("providertest: Unwrap: %w", err))...)
	}
	if !bytes.Equal(got, origKey) {
		errs = append(errs, errors.New("providertest: after the caller overwrote its dataKey, Unwrap no longer returns the original key: Wrap retained the caller's slice"))
	}
	if !bytes.Equal(wrapped, origWrapped) {
		errs = append(errs, errors.New("providertest: Unwrap mutated the wrapped bytes"))
	}
	if !bytes.Equal(ad, origAD) {
		errs = append(errs, errors.New("providertest: Unwrap mutated the caller's associated data"))
	}

	for i := range got {
		got[i] = 0x55
	}
	again, err := e.unwrap(e.ctx, e.a, wrapped, ad)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("providertest: second Unwrap: %w", err))...)
	}
	if !bytes.Equal(again, origKey) {
		errs = append(errs, errors.New("providertest: after the caller overwrote an unwrapped key, a second Unwrap returns the overwritten bytes: Unwrap returned an internal buffer"))
	}
	return errors.Join(errs...)
}

// checkNoKeyBytes provokes every kind of failure the suite knows; the scan
// of the errors happens in leaks, as for every other check.
func checkNoKeyBytes(e *env) error {
	key := e.newKey(32)
	ad := []byte("providertest no key bytes")
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	tampered := bytes.Clone(wrapped)
	tampered[len(tampered)-1] ^= 0x80
	_, _ = e.unwrap(e.ctx, e.a, wrapped, []byte("wrong"))
	_, _ = e.unwrap(e.ctx, e.a, tampered, ad)
	_, _ = e.unwrap(e.ctx, e.a, wrapped[:len(wrapped)/2], ad)
	_, _ = e.unwrap(e.ctx, e.b, wrapped, ad)
	_, _ = e.unwrap(cancelled, e.a, wrapped, ad)
	_, _, _ = e.wrap(cancelled, e.a, key, ad)
	_, _, _ = e.wrap(cancelled, e.b, e.newKey(16), nil)
	return nil
}
