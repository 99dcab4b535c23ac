package tokenstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/tokenize"
)

const (
	acme   = "acme"
	globex = "globex"
	email  = "Customer.Email"
	phone  = "Customer.Phone"
)

func checkPutGet(e *env) error {
	alice := e.subject("alice")
	forever := e.rec(acme, email, alice, t0, time.Time{})
	dated := e.rec(acme, phone, alice, t0.Add(time.Minute), t0.Add(time.Hour))
	if err := e.putAll(forever, dated); err != nil {
		return err
	}
	return errors.Join(
		e.mustGet(forever, t0.Add(time.Second), "a record without expiry"),
		e.mustGet(dated, t0.Add(time.Second), "a record with an expiry"),
		e.mustNotFound(e.secret("tok-"+randomHex(10)), nil, t0, "an unknown token"),
	)
}

func checkTokenExists(e *env) error {
	first := e.rec(acme, email, e.subject("alice"), t0, time.Time{})
	if err := e.putAll(first); err != nil {
		return err
	}
	// The same token for another tenant and subject must not replace the
	// row: whoever draws a taken token draws again.
	second := e.rec(globex, phone, e.subject("mallory"), t0.Add(time.Minute), t0.Add(time.Hour))
	second.Token = first.Token
	var errs []error
	if err := e.put(second); !errors.Is(err, tokenize.ErrTokenExists) {
		errs = append(errs, fmt.Errorf("tokenstoretest: Put of a taken token: want an error matching tokenize.ErrTokenExists, got %v", err))
	}
	errs = append(errs, e.mustGet(first, t0.Add(time.Second), "the row of a token another Put tried to take"))
	return errors.Join(errs...)
}

func checkExpiry(e *env) error {
	exp := t0.Add(time.Hour)
	r := e.rec(acme, email, e.subject("alice"), t0, exp)
	forever := e.rec(acme, phone, e.subject("bob"), t0, time.Time{})
	if err := e.putAll(r, forever); err != nil {
		return err
	}
	return errors.Join(
		e.mustGet(r, exp.Add(-time.Microsecond), "a record a microsecond before it expires"),
		e.mustFind(r, r.Lookup, exp.Add(-time.Microsecond), "a record a microsecond before it expires"),
		e.mustNotFound(r.Token, nil, exp, "a record at its expiry"),
		e.mustNotFound("", r.Lookup, exp, "a record at its expiry"),
		e.mustNotFound(r.Token, nil, exp.Add(time.Hour), "an expired record"),
		e.mustNotFound("", r.Lookup, exp.Add(time.Hour), "an expired record"),
		e.mustGet(forever, t0.AddDate(100, 0, 0), "a record without expiry, a century later"),
		e.mustFind(forever, forever.Lookup, t0.AddDate(100, 0, 0), "a record without expiry, a century later"),
	)
}

func checkFindNewest(e *env) error {
	alice := e.subject("alice")
	lookup := randomBytes(32)
	older := e.rec(acme, email, alice, t0, time.Time{})
	newer := e.rec(acme, email, alice, t0.Add(time.Minute), time.Time{})
	older.Lookup, newer.Lookup = bytes.Clone(lookup), bytes.Clone(lookup)
	// Rows of other lookups, newer still: one byte off, and one that
	// extends the lookup (a prefix match is not a match).
	oneOff := e.rec(acme, email, e.subject("bob"), t0.Add(2*time.Minute), time.Time{})
	oneOff.Lookup = bytes.Clone(lookup)
	oneOff.Lookup[31] ^= 1
	longer := e.rec(acme, email, e.subject("carol"), t0.Add(3*time.Minute), time.Time{})
	longer.Lookup = append(bytes.Clone(lookup), 0)
	// The newest row of the lookup expires.
	newest := e.rec(acme, email, alice, t0.Add(4*time.Minute), t0.Add(10*time.Minute))
	newest.Lookup = bytes.Clone(lookup)
	if err := e.putAll(newer, oneOff, older, longer, newest); err != nil {
		return err
	}
	return errors.Join(
		e.mustFind(newest, lookup, t0.Add(5*time.Minute), "the newest live row of a lookup"),
		e.mustFind(newer, lookup, t0.Add(10*time.Minute), "the newest row of a lookup once a newer one expired"),
		e.mustFind(oneOff, oneOff.Lookup, t0.Add(10*time.Minute), "a lookup one bit away"),
		e.mustNotFound("", randomBytes(32), t0, "an unknown lookup"),
		e.mustNotFound("", lookup[:31], t0, "a prefix of a stored lookup"),
	)
}

func checkRowSubstitution(e *env) error {
	// Neighbours: same tenant and field, another subject with the same
	// sealed value; the same subject id in another tenant; the same
	// subject in another field. Put in an order that makes "the last row
	// put" and "the first row" wrong answers for most questions.
	alice := e.subject("alice")
	rows := []*tokenize.Record{
		e.rec(acme, email, alice, t0, time.Time{}),
		e.rec(acme, email, e.subject("bob"), t0.Add(time.Minute), time.Time{}),
		e.rec(globex, email, alice, t0.Add(2*time.Minute), time.Time{}),
		e.rec(acme, phone, alice, t0.Add(3*time.Minute), time.Time{}),
	}
	rows[1].Sealed = bytes.Clone(rows[0].Sealed)
	if err := e.putAll(rows[2], rows[0], rows[3], rows[1]); err != nil {
		return err
	}
	var errs []error
	for i, r := range rows {
		what := fmt.Sprintf("row %d of 4 neighbours", i+1)
		errs = append(errs, e.mustGet(r, t0.Add(time.Hour), what), e.mustFind(r, r.Lookup, t0.Add(time.Hour), what))
	}
	return errors.Join(errs...)
}

func checkDeleteSubject(e *env) error {
	alice := e.subject("alice")
	gone := []*tokenize.Record{
		e.rec(acme, email, alice, t0, time.Time{}),
		e.rec(acme, phone, alice, t0, t0.Add(time.Hour)),
	}
	kept := []*tokenize.Record{
		e.rec(globex, email, alice, t0, time.Time{}),            // same subject id, another tenant
		e.rec(acme, email, e.subject("bob"), t0, time.Time{}),   // another subject, same tenant
		e.rec(acme, email, alice+"2", t0, time.Time{}),          // a subject id that extends alice's
		e.rec(acme+"x", email, alice, t0, time.Time{}),          // a tenant that extends acme
		e.rec("", email, alice, t0, time.Time{}),                // the empty tenant
		e.rec(acme, email, "", t0, time.Time{}),                 // no subject
		e.rec(globex, phone, e.subject("bob"), t0, time.Time{}), // unrelated
	}
	if err := e.putAll(append(append([]*tokenize.Record{}, kept[:3]...), append(gone, kept[3:]...)...)...); err != nil {
		return err
	}
	var errs []error
	n, err := e.deleteSubject(acme, alice)
	switch {
	case err != nil:
		return fmt.Errorf("tokenstoretest: DeleteSubject: %w", err)
	case n != int64(len(gone)):
		errs = append(errs, fmt.Errorf("tokenstoretest: DeleteSubject of a subject with %d rows returned %d", len(gone), n))
	}
	at := t0.Add(time.Minute)
	for i, r := range gone {
		errs = append(errs, e.mustNotFound(r.Token, nil, at, fmt.Sprintf("deleted row %d of the subject", i+1)))
	}
	for i, r := range kept {
		errs = append(errs, e.mustGet(r, at, fmt.Sprintf("kept row %d (another tenant's or subject's)", i+1)))
	}
	if n, err := e.deleteSubject(acme, alice); err != nil || n != 0 {
		errs = append(errs, fmt.Errorf("tokenstoretest: DeleteSubject again: want 0 rows and no error, got %d, %v", n, err))
	}
	return errors.Join(errs...)
}

func checkDeleteExpired(e *env) error {
	now := t0.Add(24 * time.Hour)
	gone := []*tokenize.Record{
		e.rec(acme, email, e.subject("alice"), t0, now),                   // expires exactly now
		e.rec(acme, email, e.subject("bob"), t0, now.Add(-time.Hour)),     // expired before
		e.rec(globex, phone, e.subject("carol"), t0, t0.Add(time.Second)), // long expired
	}
	kept := []*tokenize.Record{
		e.rec(acme, email, e.subject("dave"), t0, now.Add(time.Microsecond)), // live a microsecond longer
		e.rec(acme, email, e.subject("erin"), t0, time.Time{}),               // never expires
	}
	if err := e.putAll(append(append([]*tokenize.Record{}, kept...), gone...)...); err != nil {
		return err
	}
	var errs []error
	n, err := e.deleteExpired(now)
	switch {
	case err != nil:
		return fmt.Errorf("tokenstoretest: DeleteExpired: %w", err)
	case n != int64(len(gone)):
		errs = append(errs, fmt.Errorf("tokenstoretest: DeleteExpired with %d expired rows returned %d", len(gone), n))
	}
	// Read before every expiry: deleted rows are gone, not just expired.
	for i, r := range gone {
		errs = append(errs, e.mustNotFound(r.Token, nil, t0, fmt.Sprintf("expired row %d after DeleteExpired", i+1)))
	}
	for i, r := range kept {
		errs = append(errs, e.mustGet(r, t0, fmt.Sprintf("live row %d after DeleteExpired", i+1)))
	}
	return errors.Join(errs...)
}

// suiteRoot is a test root key. Never hard-code keys in production.
var suiteRoot = []byte("tokenstoretest: a 32-byte root!!")

func (e *env) tokenizer(opts tokenize.Options) (*tokenize.Tokenizer, error) {
	opts.Store = e.st
	tk, err := tokenize.New(suiteRoot, &opts)
	if err != nil {
		return nil, fmt.Errorf("tokenstoretest: tokenize.New: %w", err)
	}
	return tk, nil
}

// stored runs Tokenize (forward) or Detokenize with MethodStored, recording
// the error and remembering the result for the leak scan.
func (e *env) stored(tk *tokenize.Tokenizer, forward bool, s tokenize.Scope, f tokenize.TokenFormat, v string) (out string, err error) {
	err = e.call("Tokenizer", func() error {
		if forward {
			out, err = tk.Tokenize(e.ctx, tokenize.MethodStored, s, f, v)
		} else {
			out, err = tk.Detokenize(e.ctx, tokenize.MethodStored, s, f, v)
		}
		return err
	})
	if err == nil {
		e.secret(out)
	}
	return out, err
}

// reverses expects token to reverse to want in s.
func (e *env) reverses(tk *tokenize.Tokenizer, s tokenize.Scope, f tokenize.TokenFormat, token, want, what string) error {
	v, err := e.stored(tk, false, s, f, token)
	switch {
	case err != nil:
		return fmt.Errorf("tokenstoretest: %s: Detokenize: %w", what, err)
	case v != want:
		return fmt.Errorf("tokenstoretest: %s: Detokenize returned another value", what)
	}
	return nil
}

// refused expects token not to reverse in s.
func (e *env) refused(tk *tokenize.Tokenizer, s tokenize.Scope, f tokenize.TokenFormat, token, what string) error {
	_, err := e.stored(tk, false, s, f, token)
	if !errors.Is(err, tokenize.ErrNotFound) {
		return fmt.Errorf("tokenstoretest: %s: Detokenize: want an error matching tokenize.ErrNotFound, got %v", what, err)
	}
	return nil
}

func checkTwoTenants(e *env) error {
	clock := piitest.NewClock(t0)
	tk, err := e.tokenizer(tokenize.Options{Convergent: true, Clock: clock})
	if err != nil {
		return err
	}
	value := e.secret("+1 415-555-2671")
	p := tokenize.Phone{DefaultRegion: "US"}
	id := e.subject("c")
	inAcme := tokenize.Scope{Tenant: acme, Field: phone, Subject: id}
	inGlobex := tokenize.Scope{Tenant: globex, Field: phone, Subject: id}
	a, err := e.stored(tk, true, inAcme, p, value)
	if err != nil {
		return fmt.Errorf("tokenstoretest: Tokenize: %w", err)
	}
	g, err := e.stored(tk, true, inGlobex, p, value)
	if err != nil {
		return fmt.Errorf("tokenstoretest: Tokenize: %w", err)
	}
	if a == g {
		return errors.New("tokenstoretest: the same subject id and value in two tenants got one token")
	}
	errs := []error{e.refused(tk, inGlobex, p, a, "one tenant's token in another tenant")}
	n, err := e.deleteSubject(acme, id)
	if err != nil || n != 1 {
		errs = append(errs, fmt.Errorf("tokenstoretest: DeleteSubject of one tenant's subject: want 1 row, got %d, %v", n, err))
	}
	errs = append(errs,
		e.refused(tk, inAcme, p, a, "a deleted subject's token"),
		e.reverses(tk, inGlobex, p, g, value, "the other tenant's subject with the same id"))
	again, err := e.stored(tk, true, inGlobex, p, value)
	if err != nil || again != g {
		errs = append(errs, fmt.Errorf("tokenstoretest: a convergent Tokenize for the other tenant's subject did not return their token (error %v)", err))
	}
	// A newer row of the deleted subject's id in the first tenant does not
	// hide the other tenant's row.
	clock.Add(time.Minute)
	if _, err := e.stored(tk, true, inAcme, p, value); err != nil {
		errs = append(errs, fmt.Errorf("tokenstoretest: Tokenize after DeleteSubject: %w", err))
	}
	again, err = e.stored(tk, true, inGlobex, p, value)
	if err != nil || again != g {
		errs = append(errs, fmt.Errorf("tokenstoretest: after a newer row for the same subject id in another tenant, a convergent Tokenize did not return the tenant's own token (error %v)", err))
	}
	return errors.Join(errs...)
}

func checkTwoSubjects(e *env) error {
	tk, err := e.tokenizer(tokenize.Options{Convergent: true, Clock: piitest.NewClock(t0)})
	if err != nil {
		return err
	}
	shared := e.secret("family.smith@example.com")
	f := tokenize.Email{}
	alice := tokenize.Scope{Tenant: acme, Field: email, Subject: e.subject("alice")}
	bob := tokenize.Scope{Tenant: acme, Field: email, Subject: e.subject("bob")}
	a, err := e.stored(tk, true, alice, f, shared)
	if err != nil {
		return fmt.Errorf("tokenstoretest: Tokenize: %w", err)
	}
	b, err := e.stored(tk, true, bob, f, shared)
	if err != nil {
		return fmt.Errorf("tokenstoretest: Tokenize: %w", err)
	}
	if a == b {
		return errors.New("tokenstoretest: two subjects with the same value got one token")
	}
	var errs []error
	if again, err := e.stored(tk, true, alice, f, shared); err != nil || again != a {
		errs = append(errs, fmt.Errorf("tokenstoretest: a convergent Tokenize of the same subject's value did not return their token (error %v)", err))
	}
	errs = append(errs,
		e.refused(tk, alice, f, b, "one subject's token for another subject"),
		e.refused(tk, bob, f, a, "one subject's token for another subject"))
	n, err := e.deleteSubject(acme, bob.Subject)
	if err != nil || n != 1 {
		errs = append(errs, fmt.Errorf("tokenstoretest: DeleteSubject of one of two subjects: want 1 row, got %d, %v", n, err))
	}
	errs = append(errs,
		e.refused(tk, bob, f, b, "a deleted subject's token"),
		e.reverses(tk, alice, f, a, shared, "the other subject's token after a DeleteSubject"))
	b2, err := e.stored(tk, true, bob, f, shared)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("tokenstoretest: Tokenize after DeleteSubject: %w", err))
	case b2 == b || b2 == a:
		errs = append(errs, errors.New("tokenstoretest: Tokenize after DeleteSubject returned a deleted or another subject's token"))
	}
	return errors.Join(errs...)
}

func checkTokenizerRoundTrip(e *env) error {
	clock := piitest.NewClock(t0)
	tk, err := e.tokenizer(tokenize.Options{Convergent: true, TTL: time.Hour, Clock: clock})
	if err != nil {
		return err
	}
	card := e.secret("4111 1111 1111 1111")
	s := tokenize.Scope{Tenant: acme, Field: "Customer.Card", Subject: e.subject("alice")}
	f := tokenize.Card{}
	tok, err := e.stored(tk, true, s, f, card)
	if err != nil {
		return fmt.Errorf("tokenstoretest: Tokenize: %w", err)
	}
	errs := []error{e.reverses(tk, s, f, tok, card, "a fresh token")}
	if again, err := e.stored(tk, true, s, f, card); err != nil || again != tok {
		errs = append(errs, fmt.Errorf("tokenstoretest: a convergent Tokenize did not return the live token (error %v)", err))
	}
	clock.Add(time.Hour)
	errs = append(errs, e.refused(tk, s, f, tok, "a token at its expiry"))
	next, err := e.stored(tk, true, s, f, card)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("tokenstoretest: Tokenize after expiry: %w", err))
	case next == tok:
		errs = append(errs, errors.New("tokenstoretest: Tokenize after expiry returned the expired token"))
	}
	n, err := e.deleteExpired(clock.Now())
	if err != nil || n != 1 {
		errs = append(errs, fmt.Errorf("tokenstoretest: DeleteExpired after one token expired: want 1 row, got %d, %v", n, err))
	}
	if err == nil && next != tok {
		errs = append(errs, e.reverses(tk, s, f, next, card, "the token drawn after expiry"))
	}
	return errors.Join(errs...)
}

func checkNoAliasing(e *env) error {
	r := e.rec(acme, email, e.subject("alice"), t0, t0.Add(time.Hour))
	want := clone(r)
	if err := e.putAll(r); err != nil {
		return err
	}
	// The caller reuses its record after Put.
	r.Lookup[0] ^= 0xff
	r.Sealed[0] ^= 0xff
	r.Subject, r.Tenant = "changed", "changed"
	var errs []error
	if err := e.mustGet(want, t0, "a record changed by the caller after Put"); err != nil {
		errs = append(errs, err)
	}
	got, err := e.get(want.Token, t0)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("tokenstoretest: Get: %w", err))...)
	}
	// The caller changes what Get returned.
	if len(got.Sealed) > 0 {
		got.Sealed[0] ^= 0xff
	}
	if len(got.Lookup) > 0 {
		got.Lookup[0] ^= 0xff
	}
	got.Subject = "changed"
	errs = append(errs, e.mustGet(want, t0, "a record after the caller changed what Get returned"))
	if found, err := e.find(want.Lookup, t0); err == nil && len(found.Sealed) > 0 {
		found.Sealed[0] ^= 0xff
		errs = append(errs, e.mustFind(want, want.Lookup, t0, "a record after the caller changed what Find returned"))
	}
	return errors.Join(errs...)
}

const workers = 16

func checkConcurrent(e *env) error {
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range 8 {
				r := e.rec(acme, email, e.subject(fmt.Sprint("w", w)), t0.Add(time.Duration(i)*time.Second), time.Time{})
				if err := e.put(r); err != nil {
					errs[w] = fmt.Errorf("tokenstoretest: concurrent Put of a new token: %w", err)
					return
				}
				if err := e.mustGet(r, t0.Add(time.Hour), "a token put concurrently"); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Racing Puts of one token: exactly one wins.
	token := e.secret("tok-" + randomHex(10))
	recs := make([]*tokenize.Record, workers)
	for w := range recs {
		recs[w] = e.rec(acme, email, e.subject(fmt.Sprint("racer", w)), t0, time.Time{})
		recs[w].Token = token
	}
	results := make([]error, workers)
	for w := range workers {
		wg.Go(func() { results[w] = e.put(recs[w]) })
	}
	wg.Wait()
	winner := -1
	for w, err := range results {
		switch {
		case err == nil && winner >= 0:
			return errors.New("tokenstoretest: two concurrent Puts of one token both succeeded")
		case err == nil:
			winner = w
		case !errors.Is(err, tokenize.ErrTokenExists):
			return fmt.Errorf("tokenstoretest: a concurrent Put of a taken token: want an error matching tokenize.ErrTokenExists, got %w", err)
		}
	}
	if winner < 0 {
		return errors.New("tokenstoretest: of concurrent Puts of one new token, none succeeded")
	}
	return e.mustGet(recs[winner], t0.Add(time.Hour), "the token that won a race of Puts")
}

func checkNoTokensInErrors(e *env) error {
	r := e.rec(acme, email, e.subject("alice"), t0, t0.Add(time.Hour))
	if err := e.putAll(r); err != nil {
		return err
	}
	// Provoke every refusal a store makes; leaks() scans what comes back.
	taken := e.rec(globex, phone, e.subject("mallory"), t0, time.Time{})
	taken.Token = r.Token
	_ = e.put(taken)
	_, _ = e.get(e.secret("tok-"+randomHex(10)), t0)
	_, _ = e.get(r.Token, t0.Add(2*time.Hour))
	_, _ = e.find(randomBytes(32), t0)
	_, _ = e.find(r.Lookup, t0.Add(2*time.Hour))
	_, _ = e.deleteSubject(acme, e.subject("nobody"))
	return nil
}
