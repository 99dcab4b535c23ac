package keystoretest

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
)

// checkSealer runs envelope.Sealers on the store, as processes sharing it
// would.
func checkSealer(ctx context.Context, st envelope.KeyStore) error {
	kp := testkp.New(nil) // an in-process KEK for the check only
	sealer := func() (*envelope.Sealer, error) {
		return envelope.New(kp, &envelope.Options{Store: st})
	}
	s1, err := sealer()
	if err != nil {
		return err
	}
	acme := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r1", Subject: "alice"}
	globex := acme
	globex.Tenant = "globex"
	ct, err := s1.EncryptString(ctx, "acme value", acme)
	if err != nil {
		return fmt.Errorf("keystoretest: Sealer: encrypt: %w", err)
	}
	det, err := s1.EncryptDeterministic(ctx, "x@example.com", acme)
	if err != nil {
		return fmt.Errorf("keystoretest: Sealer: deterministic encrypt: %w", err)
	}
	gct, err := s1.EncryptString(ctx, "globex value", globex)
	if err != nil {
		return fmt.Errorf("keystoretest: Sealer: encrypt: %w", err)
	}
	s2, err := sealer()
	if err != nil {
		return err
	}
	opens := func(x *envelope.Sealer, ct, want string, b envelope.Binding, what string) error {
		pt, err := x.DecryptString(ctx, ct, b)
		if err != nil || pt != want {
			return fmt.Errorf("keystoretest: Sealer: %s: decrypt: %q, %v", what, pt, err)
		}
		return nil
	}
	shredded := func(x *envelope.Sealer, ct string, b envelope.Binding, what string) error {
		if pt, err := x.DecryptString(ctx, ct, b); !errors.Is(err, envelope.ErrShredded) {
			return fmt.Errorf("keystoretest: Sealer: %s: decrypt: %q, %v; want envelope.ErrShredded", what, pt, err)
		}
		return nil
	}
	if err := errors.Join(
		opens(s2, ct, "acme value", acme, "another Sealer on the store"),
		opens(s2, det, "x@example.com", acme, "another Sealer, deterministic"),
	); err != nil {
		return err
	}
	if err := s2.ForgetSubject(ctx, "acme", "alice"); err != nil {
		return fmt.Errorf("keystoretest: Sealer: ForgetSubject: %w", err)
	}
	s3, err := sealer()
	if err != nil {
		return err
	}
	for _, x := range []*envelope.Sealer{s2, s3} {
		if err := errors.Join(
			shredded(x, ct, acme, "a forgotten subject's value"),
			opens(x, gct, "globex value", globex, "the same subject id in another tenant"),
		); err != nil {
			return err
		}
	}
	// A new key generation serves new values, in every process.
	nct, err := s3.EncryptString(ctx, "new value", acme)
	if err != nil {
		return fmt.Errorf("keystoretest: Sealer: encrypt after ForgetSubject: %w", err)
	}
	for _, x := range []*envelope.Sealer{s1, s2, s3} {
		if err := opens(x, nct, "new value", acme, "a value of the new key generation"); err != nil {
			return err
		}
	}
	if err := shredded(s3, ct, acme, "an old value after the new generation"); err != nil {
		return err
	}
	// CloseSubject refuses new values in every process.
	if err := s3.CloseSubject(ctx, "acme", "alice"); err != nil {
		return fmt.Errorf("keystoretest: Sealer: CloseSubject: %w", err)
	}
	s4, err := sealer()
	if err != nil {
		return err
	}
	for _, x := range []*envelope.Sealer{s3, s4} {
		if _, err := x.EncryptString(ctx, "refused", acme); !errors.Is(err, envelope.ErrShredded) {
			return fmt.Errorf("keystoretest: Sealer: encrypt for a closed subject: %v, want envelope.ErrShredded", err)
		}
		if err := shredded(x, nct, acme, "a closed subject's value"); err != nil {
			return err
		}
	}
	if _, err := s4.EncryptString(ctx, "still fine", globex); err != nil {
		return fmt.Errorf("keystoretest: Sealer: the other tenant's subject after CloseSubject: %w", err)
	}
	return nil
}
