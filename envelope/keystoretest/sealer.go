package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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
	det, err := s1.EncryptDeterministicBytes(ctx, []byte("x@example.com"), acme)
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
	if pt, err := s2.DecryptBytes(ctx, det, acme); err != nil || string(pt) != "x@example.com" {
		return fmt.Errorf("keystoretest: Sealer: another Sealer, deterministic: decrypt: %q, %v", pt, err)
	}
	if err := opens(s2, ct, "acme value", acme, "another Sealer on the store"); err != nil {
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

// batchCustomer is the record checkSealerBatch seals: one data subject
// per record, the same subject ids in two tenants.
type batchCustomer struct {
	Tenant string `pii:"tenant"`
	ID     string `pii:"subject"`
	Name   string `pii:"name,encrypt"`
	Email  string `pii:"email,encrypt"`
}

func batchCustomers(n int) []batchCustomer {
	var out []batchCustomer
	for _, tenant := range []string{"acme", "globex"} {
		for i := range n {
			id := fmt.Sprintf("c%04d", i)
			out = append(out, batchCustomer{Tenant: tenant, ID: id, Name: "name of " + tenant + "/" + id, Email: id + "@" + tenant + ".example"})
		}
	}
	return out
}

// checkSealerBatch runs Seal and Open over slices of records, as a bulk
// import and a paged read do: two Sealers (two processes) sealing the
// same new subjects at once end with one DEK per subject that both used;
// Sealers with cold caches open every record, and seal new values under
// the same DEKs; a forgotten subject's record is ErrShredded.
func checkSealerBatch(ctx context.Context, st envelope.KeyStore) error {
	kp := testkp.New(nil) // an in-process KEK for the check only
	sealer := func() (*envelope.Sealer, error) {
		return envelope.New(kp, &envelope.Options{Store: st})
	}
	const n = 150
	want := batchCustomers(n)
	a, b := slices.Clone(want), slices.Clone(want)
	slices.Reverse(b)
	var errs [2]error
	var wg sync.WaitGroup
	for i, recs := range [][]batchCustomer{a, b} {
		s, err := sealer()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Seal(ctx, recs)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return fmt.Errorf("keystoretest: SealerBatch: two Sealers sealing the same new subjects at once: %w", err)
	}
	oneDEKEach := func(when string) error {
		perScope := map[[2]string]int{}
		for after := (envelope.KeyRef{}); ; {
			page, err := st.List(ctx, envelope.KindDEK, after, 500)
			if err != nil {
				return fmt.Errorf("keystoretest: SealerBatch: List: %w", err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				perScope[[2]string{r.Tenant, r.Scope}]++
			}
			after = page[len(page)-1].KeyRef
		}
		if len(perScope) != len(want) {
			return fmt.Errorf("keystoretest: SealerBatch: %s: DEKs of %d subjects stored, want %d", when, len(perScope), len(want))
		}
		for k, c := range perScope {
			if c != 1 {
				return fmt.Errorf("keystoretest: SealerBatch: %s: %d DEKs stored for (%q, %q), want 1 that every Sealer uses", when, c, k[0], k[1])
			}
		}
		return nil
	}
	if err := oneDEKEach("after two Sealers raced"); err != nil {
		return err
	}
	for i, recs := range [][]batchCustomer{a, b} {
		s, err := sealer() // a cold cache: one GetMany per batch
		if err != nil {
			return err
		}
		got := slices.Clone(recs)
		if err := s.Open(ctx, got); err != nil {
			return fmt.Errorf("keystoretest: SealerBatch: open the records Sealer %d sealed, cold cache: %w", i+1, err)
		}
		for j, c := range got {
			w := want[j]
			if i == 1 {
				w = want[len(want)-1-j]
			}
			if c != w {
				return fmt.Errorf("keystoretest: SealerBatch: record %d sealed by Sealer %d opened to another record's values", j, i+1)
			}
		}
	}
	// New values for the same subjects, from a cold cache: the stored DEKs.
	s, err := sealer()
	if err != nil {
		return err
	}
	again := batchCustomers(n)
	if err := s.Seal(ctx, &again); err != nil {
		return fmt.Errorf("keystoretest: SealerBatch: seal new values of known subjects, cold cache: %w", err)
	}
	if err := oneDEKEach("after sealing known subjects again"); err != nil {
		return err
	}
	if err := s.ForgetSubject(ctx, "acme", "c0001"); err != nil {
		return fmt.Errorf("keystoretest: SealerBatch: ForgetSubject: %w", err)
	}
	s, err = sealer()
	if err != nil {
		return err
	}
	ptrs := []*batchCustomer{&again[n+1], &again[1]} // globex's c0001, then acme's
	if err := s.Open(ctx, ptrs); !errors.Is(err, envelope.ErrShredded) {
		return fmt.Errorf("keystoretest: SealerBatch: open a forgotten subject's record: %v, want envelope.ErrShredded", err)
	}
	if *ptrs[0] != want[n+1] {
		return errors.New("keystoretest: SealerBatch: the same subject id in another tenant did not open after ForgetSubject")
	}
	return nil
}
