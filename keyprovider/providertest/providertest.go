package providertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/keyprovider"
)

// Harness builds the providers under test.
type Harness struct {
	// New returns two providers backed by two distinct KEKs, fresh for each call.
	New func(t *testing.T) (a, b keyprovider.KeyProvider)
}

// Run runs the conformance suite against the providers h builds, one
// subtest per check (see the package documentation for the list).
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("providertest: Harness.New is nil")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			a, b := h.New(t)
			if a == nil || b == nil {
				t.Fatal("providertest: Harness.New returned a nil provider")
			}
			e := newEnv(t.Context(), a, b)
			err := c.run(e)
			var skip *skipError
			if errors.As(err, &skip) {
				t.Skip(skip.reason)
			}
			if err != nil {
				t.Error(err)
			}
			if err := e.leaks(); err != nil {
				t.Error(err)
			}
			if err := e.doubledPrefixes(); err != nil {
				t.Error(err)
			}
		})
	}
}

// A check returns nil when the providers in e conform, or an error that
// says what went wrong. Checks are plain functions so the suite's own tests
// can run them against deliberately broken providers.
type check struct {
	name string
	run  func(e *env) error
}

var checks = []check{
	{"RoundTrip", checkRoundTrip},
	{"WrongAssociatedData", checkWrongAD},
	{"BitFlips", checkBitFlips},
	{"Truncations", checkTruncations},
	{"Garbage", checkGarbage},
	{"CrossKEK", checkCrossKEK},
	{"CancelledContext", checkCancelled},
	{"ExpiredDeadline", checkDeadline},
	{"Concurrent", checkConcurrent},
	{"NoAliasing", checkNoAliasing},
	{"NoKeyBytesInErrors", checkNoKeyBytes},
	{"Rotation", checkRotation},
	{"Versions", checkVersions},
	{"Rewrap", checkRewrap},
}

// skipError marks a check that does not apply: the provider lacks the
// optional interface it tests.
type skipError struct{ reason string }

func (s *skipError) Error() string { return "providertest: skipped: " + s.reason }

// runCheck runs the named check against a and b, including the scan of
// every error it produced for key bytes.
func runCheck(ctx context.Context, name string, a, b keyprovider.KeyProvider) error {
	for _, c := range checks {
		if c.name == name {
			e := newEnv(ctx, a, b)
			return errors.Join(c.run(e), e.leaks(), e.doubledPrefixes())
		}
	}
	return fmt.Errorf("providertest: no check named %q", name)
}

// Sizes the suite uses.
var (
	keySizes = []int{16, 32, 64}
	adSizes  = []int{0, 1, 4096}
)

const (
	goroutines = 32
	iterations = 16
	// watchdog bounds how long a call with a cancelled context may block
	// before the suite gives up on it. It guards against hangs; it is not a
	// speed requirement.
	watchdog = 30 * time.Second
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

type leakForm struct{ name, text string }

// leakForms returns the spellings of key that must never appear in an error.
func leakForms(key []byte) []leakForm {
	forms := []leakForm{
		{"raw", string(key)},
		{"hex", hex.EncodeToString(key)},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(key))},
		{"base64", base64.StdEncoding.EncodeToString(key)},
		{"base64url", base64.URLEncoding.EncodeToString(key)},
		{"unpadded base64", base64.RawStdEncoding.EncodeToString(key)},
		{"unpadded base64url", base64.RawURLEncoding.EncodeToString(key)},
		{"%v of the byte slice", strings.Trim(fmt.Sprint(key), "[]")},
	}
	for i := 0; i+8 <= len(key); i++ {
		forms = append(forms, leakForm{fmt.Sprintf("hex of bytes %d..%d", i, i+8), hex.EncodeToString(key[i : i+8])})
	}
	return forms
}

// leaks scans every recorded error for every recorded key. The report names
// the encoding found, never the key or the message.
func (e *env) leaks() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var msgs []string
	for _, err := range e.errs {
		msgs = append(msgs, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, key := range e.keys {
		for _, f := range leakForms(key) {
			for _, m := range msgs {
				if strings.Contains(m, f.text) {
					return fmt.Errorf("providertest: an error returned by the provider contains a data key (%s)", f.name)
				}
			}
		}
	}
	return nil
}

// doubledPrefixes reports an error that says a package prefix twice
// ("vault: ... vault: ...", "keyprovider: ... keyprovider: ..."), as a
// layer that wraps an error already carrying its prefix does. The report
// names the prefix, never the message.
func (e *env) doubledPrefixes() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.errs {
		if p := repeatedPrefix(err.Error()); p != "" {
			return fmt.Errorf("providertest: an error returned by the provider repeats the prefix %q", p+": ")
		}
	}
	return nil
}

// repeatedPrefix returns the first package prefix that msg says twice, or
// "". A prefix is a lower-case identifier followed by ": " at the start of
// msg or right after ": " or "(".
func repeatedPrefix(msg string) string {
	seen := map[string]bool{}
	for i := 0; i < len(msg); i++ {
		if i > 0 && msg[i-1] != '(' && !(i >= 2 && msg[i-2:i] == ": ") {
			continue
		}
		j := i
		for j < len(msg) && (msg[j] >= 'a' && msg[j] <= 'z' || j > i && msg[j] >= '0' && msg[j] <= '9') {
			j++
		}
		if j == i || !strings.HasPrefix(msg[j:], ": ") {
			continue
		}
		if seen[msg[i:j]] {
			return msg[i:j]
		}
		seen[msg[i:j]] = true
	}
	return ""
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

// checkRotation applies to providers implementing keyprovider.Rotator: after
// Rotate, new wraps use the new version, keys wrapped before still unwrap,
// the other provider is unaffected, and concurrent wraps during a rotation
// all succeed.
func checkRotation(e *env) error {
	r, ok := e.a.(keyprovider.Rotator)
	if !ok {
		return &skipError{"the provider does not implement keyprovider.Rotator"}
	}
	rotate := func(ctx context.Context) (id keyprovider.KeyID, err error) {
		err = e.guard("Rotate", func() error {
			var err error
			id, err = r.Rotate(ctx)
			return err
		})
		return id, err
	}
	ad := []byte("providertest rotation")
	key1 := e.newKey(32)
	w1, id1, err := e.wrap(e.ctx, e.a, key1, ad)
	if err != nil {
		return fmt.Errorf("providertest: Wrap: %w", err)
	}
	rotated, err := rotate(e.ctx)
	if errors.Is(err, errors.ErrUnsupported) {
		return &skipError{"Rotate reports errors.ErrUnsupported"}
	}
	if err != nil {
		return fmt.Errorf("providertest: Rotate: %w", err)
	}
	var errs []error
	key2 := e.newKey(32)
	w2, id2, err := e.wrap(e.ctx, e.a, key2, ad)
	if err != nil {
		return fmt.Errorf("providertest: Wrap after Rotate: %w", err)
	}
	if rotated.Version != "" && id2 != rotated {
		errs = append(errs, fmt.Errorf("providertest: Rotate returned %q but the next Wrap reports %q", rotated, id2))
	}
	if id1.Version != "" && id2 == id1 {
		errs = append(errs, fmt.Errorf("providertest: Wrap after Rotate still reports the old version %q", id1))
	}
	for _, c := range []struct {
		name    string
		wrapped []byte
		key     []byte
	}{{"wrapped before Rotate", w1, key1}, {"wrapped after Rotate", w2, key2}} {
		got, err := e.unwrap(e.ctx, e.a, c.wrapped, ad)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("providertest: key %s: Unwrap: %w", c.name, err))
		case !bytes.Equal(got, c.key):
			errs = append(errs, fmt.Errorf("providertest: key %s: Unwrap returned a different key", c.name))
		}
	}
	if err := e.mustFail(e.b, w2, ad, key2, "wrapped under the rotated KEK, unwrapped under the other"); err != nil {
		errs = append(errs, err)
	}
	if err := e.roundTrip(e.b, ad); err != nil {
		errs = append(errs, fmt.Errorf("providertest: the other provider after Rotate: %w", err))
	}

	// Wraps and unwraps racing a rotation.
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for g := range 8 {
		wg.Go(func() {
			for range 4 {
				if err := e.roundTrip(e.a, fmt.Appendf(nil, "rotation goroutine %d", g)); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("providertest: during Rotate: %w", err))
					mu.Unlock()
					return
				}
			}
		})
	}
	if _, err := rotate(e.ctx); err != nil {
		mu.Lock()
		errs = append(errs, fmt.Errorf("providertest: second Rotate: %w", err))
		mu.Unlock()
	}
	wg.Wait()
	if got, err := e.unwrap(e.ctx, e.a, w1, ad); err != nil || !bytes.Equal(got, key1) {
		errs = append(errs, fmt.Errorf("providertest: key wrapped two rotations ago no longer unwraps: %v", err))
	}

	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	err = withWatchdog("Rotate with a cancelled context", func() error {
		_, err := rotate(cancelled)
		return err
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("providertest: Rotate with a cancelled context: got %v, want an error matching context.Canceled", err))
	}
	return errors.Join(errs...)
}

// checkVersions applies to providers implementing keyprovider.Describer:
// exactly one enabled primary, the one Wrap reports, and the context is
// honoured.
func checkVersions(e *env) error {
	d, ok := e.a.(keyprovider.Describer)
	if !ok {
		return &skipError{"the provider does not implement keyprovider.Describer"}
	}
	_, id, err := e.wrap(e.ctx, e.a, e.newKey(32), nil)
	if err != nil {
		return fmt.Errorf("providertest: Wrap: %w", err)
	}
	var vs []keyprovider.Version
	err = e.guard("Versions", func() error {
		var err error
		vs, err = d.Versions(e.ctx)
		return err
	})
	if errors.Is(err, errors.ErrUnsupported) {
		return &skipError{"Versions reports errors.ErrUnsupported"}
	}
	if err != nil {
		return fmt.Errorf("providertest: Versions: %w", err)
	}
	var errs []error
	var primaries []keyprovider.Version
	for _, v := range vs {
		if v.ID.Key == "" {
			errs = append(errs, errors.New("providertest: Versions lists a version with an empty KeyID.Key"))
		}
		switch v.Status {
		case keyprovider.StatusEnabled, keyprovider.StatusDisabled, keyprovider.StatusDestroyed:
		default:
			errs = append(errs, fmt.Errorf("providertest: Versions lists %q with unknown status %q", v.ID, v.Status))
		}
		if v.Primary {
			primaries = append(primaries, v)
		}
	}
	if len(primaries) != 1 {
		errs = append(errs, fmt.Errorf("providertest: Versions lists %d primary versions, want 1", len(primaries)))
	} else {
		p := primaries[0]
		if p.Status != keyprovider.StatusEnabled {
			errs = append(errs, fmt.Errorf("providertest: the primary version %q has status %q", p.ID, p.Status))
		}
		if id.Version != "" && p.ID != id {
			errs = append(errs, fmt.Errorf("providertest: Wrap reports %q but Versions lists %q as primary", id, p.ID))
		}
	}
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	err = withWatchdog("Versions with a cancelled context", func() error {
		return e.guard("Versions", func() error {
			_, err := d.Versions(cancelled)
			return err
		})
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("providertest: Versions with a cancelled context: got %v, want an error matching context.Canceled", err))
	}
	return errors.Join(errs...)
}

// checkRewrap applies to providers implementing keyprovider.Rewrapper: the
// rewrapped key unwraps to the same data key with the same associated
// data, and only with it.
func checkRewrap(e *env) error {
	rw, ok := e.a.(keyprovider.Rewrapper)
	if !ok {
		return &skipError{"the provider does not implement keyprovider.Rewrapper"}
	}
	rewrap := func(ctx context.Context, wrapped, ad []byte) (out []byte, id keyprovider.KeyID, err error) {
		err = e.guard("Rewrap", func() error {
			var err error
			out, id, err = rw.Rewrap(ctx, wrapped, ad)
			return err
		})
		return out, id, err
	}
	key := e.newKey(32)
	ad := []byte("providertest rewrap")
	wrapped, err := e.mustWrap(e.a, key, ad)
	if err != nil {
		return err
	}
	var errs []error
	out, id, err := rewrap(e.ctx, wrapped, ad)
	if errors.Is(err, errors.ErrUnsupported) {
		return &skipError{"Rewrap reports errors.ErrUnsupported"}
	}
	if err != nil {
		return fmt.Errorf("providertest: Rewrap: %w", err)
	}
	if id.Key == "" {
		errs = append(errs, errors.New("providertest: Rewrap returned an empty KeyID.Key"))
	}
	if bytes.Contains(out, key) {
		errs = append(errs, errors.New("providertest: the rewrapped bytes contain the data key in clear"))
	}
	got, err := e.unwrap(e.ctx, e.a, out, ad)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("providertest: Unwrap of a rewrapped key: %w", err))
	case !bytes.Equal(got, key):
		errs = append(errs, errors.New("providertest: a rewrapped key unwraps to a different key"))
	}
	if err := e.mustFail(e.a, out, []byte("other"), key, "rewrapped key with other associated data"); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := rewrap(e.ctx, wrapped, []byte("other")); err == nil || !errors.Is(err, keyprovider.ErrAuthentication) {
		errs = append(errs, fmt.Errorf("providertest: Rewrap with other associated data: got %v, want an error matching keyprovider.ErrAuthentication", err))
	}
	tampered := bytes.Clone(wrapped)
	tampered[len(tampered)-1] ^= 0x01
	if _, _, err := rewrap(e.ctx, tampered, ad); err == nil || errors.Is(err, errPanic) {
		errs = append(errs, fmt.Errorf("providertest: Rewrap of a tampered key: got %v, want an error", err))
	}
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	err = withWatchdog("Rewrap with a cancelled context", func() error {
		_, _, err := rewrap(cancelled, wrapped, ad)
		return err
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("providertest: Rewrap with a cancelled context: got %v, want an error matching context.Canceled", err))
	}
	return errors.Join(errs...)
}
