package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fieldguard/pii/keyprovider"
)

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
