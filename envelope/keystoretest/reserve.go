package keystoretest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
)

// reserve calls Reserve and checks what it returns.
func reserve(ctx context.Context, st envelope.KeyStore, r envelope.KeyRef, n, limit, want uint64) error {
	got, err := st.Reserve(ctx, r, n, limit)
	if err != nil {
		return fmt.Errorf("keystoretest: Reserve %d of %+v (limit %d): %w", n, r, limit, err)
	}
	if got != want {
		return fmt.Errorf("keystoretest: Reserve %d of %+v (limit %d) returned Used %d, want %d", n, r, limit, got, want)
	}
	return nil
}

// refused checks that Reserve fails with want and changes nothing.
func refused(ctx context.Context, st envelope.KeyStore, r envelope.KeyRef, n, limit uint64, want error, why string) error {
	got, err := st.Reserve(ctx, r, n, limit)
	if !errors.Is(err, want) {
		return fmt.Errorf("keystoretest: Reserve %d of %+v (limit %d, %s): got %d, %v; want %v", n, r, limit, why, got, err, want)
	}
	return nil
}

// wantUsed checks a DEK's Used as Get returns it.
func wantUsed(ctx context.Context, st envelope.KeyStore, r envelope.KeyRef, want uint64, why string) error {
	got, err := st.Get(ctx, r)
	if err != nil {
		return fmt.Errorf("keystoretest: Get %+v: %w", r, err)
	}
	if got.Used != want {
		return fmt.Errorf("keystoretest: %+v has Used %d, want %d (%s)", r, got.Used, want, why)
	}
	return nil
}

func checkReserve(ctx context.Context, st envelope.KeyStore) error {
	a := dek("a", "s:x", 1, "w")
	b := dek("b", "s:x", 1, "other tenant")
	started := dek("a", "s:x", 2, "made with its first block")
	started.Used = 7
	if err := insertAll(ctx, st, a, b, started); err != nil {
		return err
	}
	if err := wantUsed(ctx, st, started.KeyRef, 7, "Insert stores Used as given: a DEK is made with its first block"); err != nil {
		return err
	}
	if got, err := st.Latest(ctx, envelope.KindDEK, "a", "s:x"); err != nil || got.Used != 7 {
		return fmt.Errorf("keystoretest: Latest returned Used %d, %v; want 7", got.Used, err)
	}
	steps := []func() error{
		func() error { return reserve(ctx, st, a.KeyRef, 10, 25, 10) },
		func() error { return reserve(ctx, st, a.KeyRef, 10, 25, 20) },
		func() error {
			return refused(ctx, st, a.KeyRef, 10, 25, envelope.ErrLimit, "20 used: 30 would pass the limit")
		},
		func() error { return wantUsed(ctx, st, a.KeyRef, 20, "a refused Reserve changes nothing") },
		func() error { return reserve(ctx, st, a.KeyRef, 5, 25, 25) },
		func() error { return refused(ctx, st, a.KeyRef, 1, 25, envelope.ErrLimit, "the budget is spent") },
		func() error { return reserve(ctx, st, started.KeyRef, 3, 100, 10) },
		func() error { return wantUsed(ctx, st, b.KeyRef, 0, "another tenant's DEK with the same scope and id") },
		func() error {
			return refused(ctx, st, ref(envelope.KindDEK, "a", "s:x", 9), 1, 100, envelope.ErrNotFound, "no such DEK")
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	// Two tenants' DEKs with the same scope and id count apart.
	x, y := dek("c", "s:y", 1, "x"), dek("d", "s:y", 1, "y")
	if err := insertAll(ctx, st, x, y); err != nil {
		return err
	}
	for i := uint64(1); i <= 20; i++ {
		if err := reserve(ctx, st, x.KeyRef, 1, 1000, i); err != nil {
			return fmt.Errorf("%w (two tenants' DEKs count apart)", err)
		}
		if err := reserve(ctx, st, y.KeyRef, 2, 1000, 2*i); err != nil {
			return fmt.Errorf("%w (two tenants' DEKs count apart)", err)
		}
	}
	// Replace (a rewrap) keeps Used.
	nr := a
	nr.Wrapped = []byte("rewrapped")
	if err := st.Replace(ctx, a, nr); err != nil {
		return fmt.Errorf("keystoretest: Replace: %w", err)
	}
	if err := wantUsed(ctx, st, a.KeyRef, 25, "Replace keeps the messages reserved"); err != nil {
		return err
	}
	// A forgotten DEK has no budget left to reserve.
	if err := forget(ctx, st, "a", "s:x", 2); err != nil {
		return err
	}
	return refused(ctx, st, started.KeyRef, 1, 100, envelope.ErrNotFound, "forgotten")
}

// reserveRounds is how many Reserve calls of one message ReserveConcurrent
// makes, from eight goroutines, against a limit of half as many.
const reserveRounds = 400

func checkReserveConcurrent(ctx context.Context, st envelope.KeyStore) error {
	d := dek("a", "t", 1, "w")
	if err := insert(ctx, st, d); err != nil {
		return err
	}
	const limit = reserveRounds / 2
	var (
		mu   sync.Mutex
		got  []uint64
		errs []error
		wg   sync.WaitGroup
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range reserveRounds / 8 {
				used, err := st.Reserve(ctx, d.KeyRef, 1, limit)
				mu.Lock()
				switch {
				case err == nil:
					got = append(got, used)
				case !errors.Is(err, envelope.ErrLimit):
					errs = append(errs, fmt.Errorf("goroutine %d: %w", g, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keystoretest: concurrent Reserve: %w", err)
	}
	slices.Sort(got)
	for i, u := range got {
		if u != uint64(i+1) {
			return fmt.Errorf("keystoretest: concurrent Reserve of one message each handed out Used values %v...: each block must be handed out once (an atomic update)", got[:min(len(got), i+3)])
		}
	}
	if len(got) != limit {
		return fmt.Errorf("keystoretest: %d concurrent Reserve calls of one message against a limit of %d succeeded %d times, want %d", reserveRounds, limit, len(got), limit)
	}
	return wantUsed(ctx, st, d.KeyRef, limit, "after the concurrent Reserve calls")
}

// checkSealerFleetLimit runs two Sealers on the store at once, with a cap
// of 40 messages per DEK reserved 7 at a time, sealing one subject's
// values: no DEK id appears in more than 40 ciphertexts, new DEKs succeed
// the spent ones, and every value opens in both.
func checkSealerFleetLimit(ctx context.Context, st envelope.KeyStore) error {
	kp := testkp.New(nil)
	cache := envelope.CacheLimits{MaxMessages: 40, MessageBlock: 7}
	var ss [2]*envelope.Sealer
	for i := range ss {
		s, err := envelope.New(kp, &envelope.Options{Store: st, Cache: cache})
		if err != nil {
			return err
		}
		ss[i] = s
	}
	b := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r", Subject: "alice"}
	const each = 100
	cts := make([]string, 2*each)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for p, s := range ss {
		wg.Add(1)
		go func() { // two processes at once
			defer wg.Done()
			for i := p; i < len(cts); i += 2 {
				ct, err := s.EncryptString(ctx, fmt.Sprint("value ", i), b)
				if err != nil {
					errs[p] = fmt.Errorf("keystoretest: fleet limit: encrypt %d: %w", i, err)
					return
				}
				cts[i] = ct
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	perDEK := map[uint32]int{}
	for i, ct := range cts {
		bin, err := base64.RawURLEncoding.DecodeString(ct[len("pii1."):])
		if err != nil || len(bin) < 4 {
			return fmt.Errorf("keystoretest: fleet limit: ciphertext %d is not in the keyring form", i)
		}
		perDEK[uint32(bin[1])<<16|uint32(bin[2])<<8|uint32(bin[3])]++
	}
	for id, n := range perDEK {
		if n > 40 {
			return fmt.Errorf("keystoretest: fleet limit: two Sealers sealed %d values under DEK %d, over the limit of 40: Reserve must count every process's messages together", n, id)
		}
	}
	if len(perDEK) < 5 {
		return fmt.Errorf("keystoretest: fleet limit: 200 values under %d DEKs, want at least 5 (40 each at most)", len(perDEK))
	}
	for i, ct := range cts {
		for _, s := range ss {
			pt, err := s.DecryptString(ctx, ct, b)
			if err != nil || pt != fmt.Sprint("value ", i) {
				return fmt.Errorf("keystoretest: fleet limit: value %d does not open: %v", i, err)
			}
		}
	}
	return nil
}
