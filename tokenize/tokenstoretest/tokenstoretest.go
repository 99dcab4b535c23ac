package tokenstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/tokenize"
)

// Run runs the conformance suite against the stores newStore returns, one
// subtest per check (see the package documentation for the list). newStore
// is called once per subtest and must return an empty store.
func Run(t *testing.T, newStore func(t *testing.T) tokenize.TokenStore) {
	t.Helper()
	if newStore == nil {
		t.Fatal("tokenstoretest: newStore is nil")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			st := newStore(t)
			if st == nil {
				t.Fatal("tokenstoretest: newStore returned a nil store")
			}
			if err := runOn(t.Context(), c, st); err != nil {
				t.Error(err)
			}
		})
	}
}

// A check returns nil when the store in e conforms, or an error that says
// what went wrong. Checks are plain functions so the suite's own tests can
// run them against deliberately broken stores.
type check struct {
	name string
	run  func(e *env) error
}

var checks = []check{
	{"PutGet", checkPutGet},
	{"TokenExists", checkTokenExists},
	{"Expiry", checkExpiry},
	{"FindNewest", checkFindNewest},
	{"RowSubstitution", checkRowSubstitution},
	{"DeleteSubject", checkDeleteSubject},
	{"TwoTenantsSharingSubjectID", checkTwoTenants},
	{"TwoSubjectsSharingValue", checkTwoSubjects},
	{"DeleteExpired", checkDeleteExpired},
	{"TokenizerRoundTrip", checkTokenizerRoundTrip},
	{"NoAliasing", checkNoAliasing},
	{"Concurrent", checkConcurrent},
	{"NoTokensInErrors", checkNoTokensInErrors},
}

func runOn(ctx context.Context, c check, st tokenize.TokenStore) error {
	e := &env{ctx: ctx, st: st}
	return errors.Join(c.run(e), e.leaks())
}

// runCheck runs the named check against st, for the suite's own tests.
func runCheck(ctx context.Context, name string, st tokenize.TokenStore) error {
	for _, c := range checks {
		if c.name == name {
			return runOn(ctx, c, st)
		}
	}
	return fmt.Errorf("tokenstoretest: no check named %q", name)
}

// t0 is the suite's time origin, on a whole microsecond.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

var errPanic = errors.New("tokenstoretest: store panicked")

// env carries the store of one check and records every error it returned
// and every token, value and subject id the check used, for the leak scan.
type env struct {
	ctx context.Context
	st  tokenize.TokenStore

	mu      sync.Mutex
	errs    []error
	secrets []string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// secret remembers s for the leak scan and returns it.
func (e *env) secret(s string) string {
	e.mu.Lock()
	e.secrets = append(e.secrets, s)
	e.mu.Unlock()
	return s
}

// subject returns a subject id of the given name, made unique so that the
// leak scan can find it.
func (e *env) subject(name string) string { return e.secret(name + "-" + randomHex(4)) }

// rec returns a new record with a fresh token, lookup and sealed value.
func (e *env) rec(tenant, field, subject string, created, expires time.Time) *tokenize.Record {
	return &tokenize.Record{
		Token: e.secret("tok-" + randomHex(10)), Tenant: tenant, Field: field, Subject: subject,
		KeyID: "k1", Lookup: randomBytes(32), Sealed: randomBytes(44), Created: created, Expires: expires,
	}
}

func (e *env) record(err error) {
	if err == nil || errors.Is(err, errPanic) {
		return
	}
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

// call runs f, turning a panic into an error matching errPanic and
// recording any other error for the leak scan.
func (e *env) call(op string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in %s: %v", errPanic, op, r)
		}
		e.record(err)
	}()
	return f()
}

func (e *env) put(r *tokenize.Record) error {
	return e.call("Put", func() error { return e.st.Put(e.ctx, r) })
}

func (e *env) get(token string, now time.Time) (r *tokenize.Record, err error) {
	err = e.call("Get", func() error { r, err = e.st.Get(e.ctx, token, now); return err })
	return r, err
}

func (e *env) find(lookup []byte, now time.Time) (r *tokenize.Record, err error) {
	err = e.call("Find", func() error { r, err = e.st.Find(e.ctx, lookup, now); return err })
	return r, err
}

func (e *env) deleteSubject(tenant, subject string) (n int64, err error) {
	err = e.call("DeleteSubject", func() error { n, err = e.st.DeleteSubject(e.ctx, tenant, subject); return err })
	return n, err
}

func (e *env) deleteExpired(now time.Time) (n int64, err error) {
	err = e.call("DeleteExpired", func() error { n, err = e.st.DeleteExpired(e.ctx, now); return err })
	return n, err
}

// putAll puts every record, failing on the first error.
func (e *env) putAll(rs ...*tokenize.Record) error {
	for _, r := range rs {
		if err := e.put(r); err != nil {
			return fmt.Errorf("tokenstoretest: Put of a new token: %w", err)
		}
	}
	return nil
}

// mustGet reads token at now and compares the row with want.
func (e *env) mustGet(want *tokenize.Record, now time.Time, what string) error {
	got, err := e.get(want.Token, now)
	if err != nil {
		return fmt.Errorf("tokenstoretest: %s: Get: %w", what, err)
	}
	return same(want, got, what+": Get")
}

// mustFind reads lookup at now and compares the row with want.
func (e *env) mustFind(want *tokenize.Record, lookup []byte, now time.Time, what string) error {
	got, err := e.find(lookup, now)
	if err != nil {
		return fmt.Errorf("tokenstoretest: %s: Find: %w", what, err)
	}
	return same(want, got, what+": Find")
}

// mustNotFind expects tokenize.ErrNotFound from Get (lookup nil) or Find.
func (e *env) mustNotFound(token string, lookup []byte, now time.Time, what string) error {
	var r *tokenize.Record
	var err error
	op := "Get"
	if lookup != nil {
		op = "Find"
		r, err = e.find(lookup, now)
	} else {
		r, err = e.get(token, now)
	}
	switch {
	case err == nil:
		return fmt.Errorf("tokenstoretest: %s: %s returned a row (subject %q), want tokenize.ErrNotFound", what, op, subjectOf(r))
	case !errors.Is(err, tokenize.ErrNotFound):
		return fmt.Errorf("tokenstoretest: %s: %s: want an error matching tokenize.ErrNotFound, got %w", what, op, err)
	}
	return nil
}

func subjectOf(r *tokenize.Record) string {
	if r == nil {
		return "<nil record>"
	}
	return r.Subject
}

// same reports how got differs from want, naming fields, not values
// (values are tokens and subject ids the leak scan looks for).
func same(want, got *tokenize.Record, what string) error {
	if got == nil {
		return fmt.Errorf("tokenstoretest: %s returned a nil record and no error", what)
	}
	var diff []string
	if got.Token != want.Token {
		diff = append(diff, "Token (another token's row)")
	}
	if got.Tenant != want.Tenant {
		diff = append(diff, "Tenant")
	}
	if got.Subject != want.Subject {
		diff = append(diff, "Subject")
	}
	if got.Field != want.Field {
		diff = append(diff, "Field")
	}
	if got.KeyID != want.KeyID {
		diff = append(diff, "KeyID")
	}
	if !bytes.Equal(got.Lookup, want.Lookup) {
		diff = append(diff, "Lookup")
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		diff = append(diff, "Sealed")
	}
	if !got.Created.Equal(want.Created) {
		diff = append(diff, fmt.Sprintf("Created (%v, want %v)", got.Created, want.Created))
	}
	if !got.Expires.Equal(want.Expires) {
		diff = append(diff, fmt.Sprintf("Expires (%v, want %v)", got.Expires, want.Expires))
	}
	if len(diff) > 0 {
		return fmt.Errorf("tokenstoretest: %s returned a row that differs from the one put in %s", what, strings.Join(diff, ", "))
	}
	return nil
}

func clone(r *tokenize.Record) *tokenize.Record {
	c := *r
	c.Lookup = bytes.Clone(r.Lookup)
	c.Sealed = bytes.Clone(r.Sealed)
	return &c
}

// leaks returns an error for every recorded error that contains a token,
// value or subject id the check used.
func (e *env) leaks() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, err := range e.errs {
		msg := err.Error()
		for _, s := range e.secrets {
			if strings.Contains(msg, s) {
				errs = append(errs, fmt.Errorf("tokenstoretest: an error contains a token, value or subject id the suite used: %q", strings.ReplaceAll(msg, s, "<"+fmt.Sprint(len(s))+" bytes>")))
				break
			}
		}
	}
	return errors.Join(errs...)
}
