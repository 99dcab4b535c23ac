package retention_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/piitest"
	"github.com/fieldguard/pii/retention"
)

type Member struct {
	ID          string     `pii:"subject"`
	Tenant      string     `pii:"tenant"`
	Region      string     `pii:"-"`
	Email       string     `pii:"email,retain=1y,from=LastSeen,then=null,purpose=support"`
	Invoice     string     `pii:"name,retain=2y,min=1y,then=redact,purpose=billing"`
	Card        string     `pii:"card,retain=90d,grace=30d,from=LastSeen,then=generalize:last4"`
	Notes       string     `pii:"health,retain=30d,then=block"`
	Handle      string     `pii:"user.handle,retain=1y,from=LastSeen,then=anonymize"`
	Secret      string     `pii:"email,encrypt,index=SecretIndex,retain=1y,from=LastSeen,then=shred"`
	SecretIndex string     `pii:"-"`
	Phone       string     `pii:"phone"`
	Ref         string     `pii:"user.ref,retain=30d,from=Closed,then=delete"`
	Closed      *time.Time `pii:"-"`
	LastSeen    time.Time  `pii:"-"`
	CreatedAt   time.Time  `pii:"-"`
}

func member(id string, created, lastSeen time.Time) *Member {
	return &Member{ID: id, Tenant: "acme", Region: "eu", Email: id + "@example.com", Invoice: "Invoice " + id,
		Card: "4111111111111111", Notes: "notes " + id, Handle: "h-" + id, Secret: "ciphertext-" + id,
		SecretIndex: "idx-" + id, Phone: "+44 20 7946 0018", Ref: "ref-" + id, LastSeen: lastSeen, CreatedAt: created}
}

type shredder struct {
	mu    sync.Mutex
	calls []string
}

func (s *shredder) ForgetSubject(_ context.Context, tenant, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, tenant+"/"+subject)
	return nil
}

func (s *shredder) DeleteSubject(_ context.Context, tenant, subject string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "tokens/"+tenant+"/"+subject)
	return 1, nil
}

func (s *shredder) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

type env struct {
	m      *retention.Manager
	clock  *piitest.Clock
	store  *retention.MemoryStore
	ledger retention.Ledger
	shred  *shredder
}

func newEnv(t *testing.T, now time.Time, pol *retention.Policies) *env {
	t.Helper()
	e := &env{clock: piitest.NewClock(now), ledger: retention.NewMemoryLedger(), shred: &shredder{}}
	var err error
	e.m, err = retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: e.clock, LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
		Shredder: e.shred, Tokens: e.shred, Ledger: e.ledger, Policies: pol,
		Jurisdiction: func(ptr any) string {
			if m, ok := ptr.(*Member); ok {
				return m.Region
			}
			return ""
		}})
	require.NoError(t, err)
	e.store, err = retention.NewMemoryStore(&Member{}, e.ledger)
	require.NoError(t, err)
	require.NoError(t, e.m.Register(e.store))
	return e
}

// entries returns the entries of a ledger, in order.
func entries(t testing.TB, l retention.Ledger) []retention.Entry {
	t.Helper()
	var es []retention.Entry
	require.NoError(t, l.Scan(context.Background(), func(e retention.Entry) error { es = append(es, e); return nil }))
	return es
}

// storeLen returns the number of records in st.
func storeLen(t testing.TB, st retention.Store) int {
	t.Helper()
	cl, err := st.Claim(context.Background(), retention.Query{All: true, ReadOnly: true})
	require.NoError(t, err)
	defer cl.Rollback()
	return len(cl.Records())
}

// readable is Manager.ReadCheck by schema path, as application code
// calls it.
func readable(ctx context.Context, m *retention.Manager, ptr any, path string) error {
	s, err := pii.SchemaOf(ptr)
	if err != nil {
		return err
	}
	return m.ReadCheck(ctx, s, s.Field(path), ptr)
}

func states(t *testing.T, m *retention.Manager, now time.Time, rec *Member) map[string]retention.State {
	t.Helper()
	items, err := m.Due(now, rec)
	require.NoError(t, err)
	out := map[string]retention.State{}
	for _, it := range items {
		out[it.Path] = it.State
	}
	return out
}

var (
	created  = day(2024, 1, 1)
	lastSeen = day(2025, 1, 1)
)

func TestDueStates(t *testing.T) {
	closed := day(2025, 3, 1)
	tests := []struct {
		name string
		now  time.Time
		rec  func() *Member
		want map[string]retention.State
	}{
		{"nothing before any period ends", day(2024, 1, 20), func() *Member { return member("a", created, lastSeen) }, map[string]retention.State{}},
		{"block after 30 days", day(2024, 2, 1), func() *Member { return member("a", created, lastSeen) },
			map[string]retention.State{"Notes": retention.Blocked}},
		{"card in grace", day(2025, 4, 15), func() *Member { return member("a", created, lastSeen) },
			map[string]retention.State{"Notes": retention.Blocked, "Card": retention.Grace}},
		{"card due after grace", day(2025, 5, 2), func() *Member { return member("a", created, lastSeen) },
			map[string]retention.State{"Notes": retention.Blocked, "Card": retention.Due}},
		{"all due", day(2026, 1, 2), func() *Member { return member("a", created, lastSeen) },
			map[string]retention.State{"Notes": retention.Blocked, "Card": retention.Due, "Email": retention.Due,
				"Handle": retention.Due, "Secret": retention.Due, "Invoice": retention.Due}},
		{"unset from= clock has not started", day(2030, 1, 1), func() *Member { return member("a", created, time.Time{}) },
			map[string]retention.State{"Notes": retention.Blocked, "Invoice": retention.Due}},
		{"delete from a pointer clock", day(2025, 4, 1), func() *Member {
			m := member("a", created, day(2025, 3, 20))
			m.Closed = &closed
			return m
		}, map[string]retention.State{"Notes": retention.Blocked, "Ref": retention.Due}},
		{"applied values are not due again", day(2026, 1, 2), func() *Member {
			m := member("a", created, lastSeen)
			m.Email, m.Card, m.Invoice, m.Secret = "", "************1111", "[REDACTED]", ""
			return m
		}, map[string]retention.State{"Notes": retention.Blocked, "Handle": retention.Due}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.now, nil)
			require.Equal(t, tt.want, states(t, e.m, tt.now, tt.rec()))
		})
	}
}

func TestNext(t *testing.T) {
	e := newEnv(t, day(2024, 1, 1), nil)
	rec := member("a", created, lastSeen)
	var got []string
	now := day(2024, 1, 1)
	for {
		next, ok, err := e.m.Next(now, rec)
		require.NoError(t, err)
		if !ok {
			break
		}
		require.True(t, next.After(now))
		got = append(got, next.Format(time.DateOnly))
		now = next
	}
	require.Equal(t, []string{"2024-01-31", "2025-04-01", "2025-05-01", "2026-01-01"}, got)
}

func TestReadCheck(t *testing.T) {
	ctx := context.Background()
	auditor := retention.WithRole(ctx, "auditor")
	e := newEnv(t, day(2025, 4, 15), nil)
	rec := member("a", created, lastSeen)
	require.NoError(t, readable(ctx, e.m, rec, "Email"), "within retention")
	require.ErrorIs(t, readable(ctx, e.m, rec, "Card"), retention.ErrBlocked, "grace period")
	require.NoError(t, readable(auditor, e.m, rec, "Card"))
	require.ErrorIs(t, readable(ctx, e.m, rec, "Notes"), retention.ErrBlocked)
	require.ErrorIs(t, readable(ctx, e.m, rec, "Notes"), retention.ErrExpired, "ErrBlocked is an ErrExpired")
	require.NoError(t, readable(auditor, e.m, rec, "Notes"))

	e.clock.Set(day(2026, 2, 1))
	require.ErrorIs(t, readable(ctx, e.m, rec, "Email"), retention.ErrExpired, "past retention, before the sweep")
	require.ErrorIs(t, readable(auditor, e.m, rec, "Email"), retention.ErrExpired, "erasure is not blocking: auditors too")
	rec.Email = ""
	require.NoError(t, readable(ctx, e.m, rec, "Email"), "once erased there is nothing to hide")
	rec.Card = "************1111"
	require.NoError(t, readable(ctx, e.m, rec, "Card"), "the generalized value is fine to show")

	s, err := pii.SchemaOf(rec)
	require.NoError(t, err)
	require.ErrorIs(t, e.m.ReadCheck(ctx, s, s.Field("Handle"), rec), retention.ErrExpired)
	require.Error(t, readable(ctx, e.m, rec, "Nope"))
}

func TestOverrides(t *testing.T) {
	now := day(2025, 3, 1) // LastSeen + 2 months
	pol := &retention.Policies{}
	require.NoError(t, pol.Set(retention.Scope{}, "Member", "Email", retention.Policy{Retain: mustDur("6m")}))
	require.NoError(t, pol.Set(retention.Scope{Tenant: "acme"}, "Member", "Email", retention.Policy{Retain: mustDur("30d")}))
	require.NoError(t, pol.Set(retention.Scope{Jurisdiction: "us"}, "Member", "Email", retention.Policy{Retain: mustDur("3y")}))
	require.NoError(t, pol.Set(retention.Scope{Tenant: "acme", Jurisdiction: "us"}, "Member", "Email", retention.Policy{Then: pii.Action{Kind: "redact"}}))
	require.NoError(t, pol.Set(retention.Scope{Purpose: "support"}, "", "", retention.Policy{Grace: mustDur("7d")}))
	e := newEnv(t, now, pol)
	tests := []struct {
		name, tenant, region string
		want                 retention.State
		action               string
		present              bool
	}{
		{"type-wide override: 6m", "other", "eu", 0, "", false},
		{"tenant beats type-wide: 30d + 7d grace", "acme", "eu", retention.Due, "null", true},
		{"jurisdiction: 3y", "other", "us", 0, "", false},
		{"tenant wins over jurisdiction for retain; both scopes set the action", "acme", "us", retention.Due, "redact", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := member("a", created, lastSeen)
			rec.Tenant, rec.Region = tt.tenant, tt.region
			items, err := e.m.Due(now, rec)
			require.NoError(t, err)
			var found *retention.Item
			for i := range items {
				if items[i].Path == "Email" {
					found = &items[i]
				}
			}
			require.Equal(t, tt.present, found != nil)
			if found != nil {
				require.Equal(t, tt.want, found.State)
				require.Equal(t, tt.action, found.Action.String())
				require.Equal(t, mustDur("7d"), found.Policy.Grace, "purpose-scoped override applies to purpose=support")
			}
		})
	}
	// A tenant override makes records due that the tag alone would not: the
	// sweeper's candidate query must include them.
	rec := member("a", created, lastSeen)
	require.NoError(t, e.store.Put(rec, rec.CreatedAt))
	st, err := e.m.Sweep(context.Background(), nil)
	require.NoError(t, err)
	require.Positive(t, st.Applied)
	require.Empty(t, e.store.Get("acme", "a").(*Member).Email)
}

func mustDur(s string) pii.Duration {
	d, err := pii.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestRegisterRefusesUnworkablePolicies(t *testing.T) {
	type Enc struct {
		ID  string `pii:"subject"`
		DOB string `pii:"dob,encrypt,retain=1y,then=generalize:year"`
	}
	type Anon struct {
		ID string `pii:"subject"`
		H  string `pii:"user.handle,retain=1y,then=anonymize"`
	}
	type Shred struct {
		ID string `pii:"id"`
		E  string `pii:"email,encrypt,retain=1y,then=shred"`
	}
	type BadType struct {
		ID string `pii:"subject"`
		N  int    `pii:"user.n,retain=1y,then=redact"`
	}
	tests := []struct {
		name string
		v    any
		opts retention.Options
		pol  func(*retention.Policies)
		want string
	}{
		{"generalize on ciphertext", &Enc{}, retention.Options{}, nil, "needs the plaintext"},
		{"anonymize without key", &Anon{}, retention.Options{}, nil, "PseudonymKey"},
		{"shred without shredder", &Shred{}, retention.Options{}, nil, "Shredder"},
		{"shred without subject", &Shred{}, retention.Options{Shredder: &shredder{}}, nil, "subject field"},
		{"redact on int", &BadType{}, retention.Options{}, nil, "string or []byte"},
		{"override with a bad action for the type", &Enc{}, retention.Options{}, func(p *retention.Policies) {
			p.Set(retention.Scope{Tenant: "t"}, "Enc", "DOB", retention.Policy{Then: pii.Action{Kind: "anonymize"}})
		}, "needs the plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.LedgerKey = ledgerKey
			opts.Holds = retention.NewMemoryHolds()
			if tt.pol != nil {
				opts.Policies = &retention.Policies{}
				tt.pol(opts.Policies)
			}
			m, err := retention.New(&opts)
			require.NoError(t, err)
			st, err := retention.NewMemoryStore(tt.v, nil)
			require.NoError(t, err)
			err = m.Register(st)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "retention: "))
		})
	}
	_, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: []byte("short")})
	require.Error(t, err)
	pol := &retention.Policies{}
	require.Error(t, pol.Set(retention.Scope{}, "T", "F", retention.Policy{}))
	require.Error(t, pol.Set(retention.Scope{}, "T", "F", retention.Policy{Then: pii.Action{Kind: "explode"}}))
	require.Error(t, pol.Set(retention.Scope{}, "", "F", retention.Policy{Retain: mustDur("1y")}))
}

// TestSweepProperty: over random records and times, one sweep touches no
// record with nothing due and leaves nothing due behind.
func TestSweepProperty(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			now := day(2026, 1, 1).AddDate(0, 0, r.IntN(900))
			e := newEnv(t, now, nil)
			recs := map[string]*Member{}
			for i := 0; i < 60; i++ {
				id := fmt.Sprintf("m%03d", i)
				c := day(2022, 1, 1).AddDate(0, 0, r.IntN(1500))
				var ls time.Time
				if r.IntN(5) > 0 {
					ls = c.AddDate(0, 0, r.IntN(900))
				}
				rec := member(id, c, ls)
				if r.IntN(4) == 0 {
					cl := c.AddDate(0, 0, r.IntN(1200))
					rec.Closed = &cl
				}
				recs[id] = rec
				require.NoError(t, e.store.Put(rec, c))
			}
			due := map[string]bool{}
			for id, rec := range recs {
				for _, s := range states(t, e.m, now, rec) {
					if s == retention.Due {
						due[id] = true
					}
				}
			}
			_, err := e.m.Sweep(context.Background(), &retention.SweepOptions{BatchSize: 1 + r.IntN(10)})
			require.NoError(t, err)
			for id, rec := range recs {
				got := e.store.Get("acme", id)
				if !due[id] {
					require.Equal(t, rec, got, "record %s had nothing due and must be untouched", id)
					continue
				}
				if got == nil {
					continue // deleted
				}
				for path, s := range states(t, e.m, now, got.(*Member)) {
					require.NotEqual(t, retention.Due, s, "%s.%s still due after the sweep", id, path)
				}
			}
			// A second sweep is a no-op.
			st, err := e.m.Sweep(context.Background(), nil)
			require.NoError(t, err)
			require.Zero(t, st.Applied)
		})
	}
}

func TestSweepShredsAndRecords(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, day(2026, 2, 1), nil)
	a := member("alice", created, lastSeen)
	b := member("bob", day(2025, 6, 1), day(2025, 12, 1))
	require.NoError(t, e.store.Put(a, created))
	require.NoError(t, e.store.Put(b, b.CreatedAt))

	var dry []retention.Entry
	st, err := e.m.Sweep(ctx, &retention.SweepOptions{DryRun: true, OnAction: func(x retention.Entry) { dry = append(dry, x) }})
	require.NoError(t, err)
	require.EqualValues(t, 5, st.Applied)
	require.EqualValues(t, 1, st.KeysShredded)
	require.Len(t, dry, 6, "five fields and the key")
	require.Equal(t, retention.OutcomeDryRun, dry[5].Outcome)
	require.Empty(t, e.shred.Calls(), "a dry run shreds nothing")
	require.Equal(t, a, e.store.Get("acme", "alice"), "a dry run changes nothing")
	require.Empty(t, entries(t, e.ledger))

	var progress []retention.Progress
	st, err = e.m.Sweep(ctx, &retention.SweepOptions{Progress: func(p retention.Progress) { progress = append(progress, p) }})
	require.NoError(t, err)
	require.EqualValues(t, 5, st.Applied)
	require.EqualValues(t, 2, st.Scanned)
	require.NotEmpty(t, progress)
	require.Equal(t, "Member", progress[0].Type)
	require.Equal(t, []string{"acme/alice", "tokens/acme/alice"}, e.shred.Calls())
	got := e.store.Get("acme", "alice").(*Member)
	require.Empty(t, got.Email)
	require.Empty(t, got.Secret)
	require.Empty(t, got.SecretIndex, "shred clears the blind index")
	require.True(t, strings.HasPrefix(got.Handle, "anon_"))
	require.Equal(t, "[REDACTED]", got.Invoice)
	require.Equal(t, "notes alice", got.Notes, "block keeps the value")
	require.Equal(t, b.Email, e.store.Get("acme", "bob").(*Member).Email)

	es := entries(t, e.ledger)
	require.Len(t, es, 6)
	key := es[5]
	require.Equal(t, "", key.Field)
	require.Equal(t, "", key.Record)
	require.Equal(t, string(pii.ActionShred), key.Action)
	require.Contains(t, key.Reason, "nothing under the key must be kept")
	for i, x := range es {
		require.Equal(t, e.m.Hash(retention.Subject("acme", "alice")), x.Subject)
		if i < 5 {
			require.Equal(t, e.m.Hash(retention.RecordTarget("acme", "Member", "alice")), x.Record)
		}
		require.Equal(t, retention.OutcomeApplied, x.Outcome)
		require.NotEmpty(t, x.Policy)
		require.NotEmpty(t, x.Reason)
		require.Equal(t, day(2026, 2, 1), x.At)
	}
	requireNoPersonalData(t, es, a, b)
}

// requireNoPersonalData checks that no id or value of the records appears
// anywhere in the ledger.
func requireNoPersonalData(t *testing.T, entries []retention.Entry, recs ...*Member) {
	t.Helper()
	for _, x := range entries {
		text := fmt.Sprintf("%+v", x)
		for _, r := range recs {
			for _, v := range []string{r.ID, r.Email, r.Invoice, r.Card, r.Handle, r.Secret, r.Ref, r.Phone} {
				require.NotContains(t, text, v)
			}
		}
	}
}

func TestHolds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, day(2026, 2, 1), nil)
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, e.store.Put(member(id, created, lastSeen), created))
	}
	_, err := e.m.Hold(ctx, retention.Subject("acme", "a"), "litigation 17", time.Time{})
	require.NoError(t, err)
	_, err = e.m.Hold(ctx, retention.RecordTarget("acme", "Member", "b"), "audit", day(2026, 3, 1))
	require.NoError(t, err)
	_, err = e.m.Hold(ctx, retention.Subject("acme", "c"), "lapsed", day(2026, 1, 1))
	require.NoError(t, err)
	_, err = e.m.Hold(ctx, retention.Subject("acme", ""), "x", time.Time{})
	require.Error(t, err)

	st, err := e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 10, st.Held)
	require.Equal(t, "a@example.com", e.store.Get("acme", "a").(*Member).Email)
	require.Equal(t, "b@example.com", e.store.Get("acme", "b").(*Member).Email)
	require.Empty(t, e.store.Get("acme", "c").(*Member).Email, "a lapsed hold holds nothing")
	require.Equal(t, []string{"acme/c", "tokens/acme/c"}, e.shred.Calls())

	// Forget honours the hold too: the key shred is pending.
	rep, err := e.m.Forget(ctx, "acme", "a")
	require.NoError(t, err)
	require.False(t, rep.KeyShredded)
	require.True(t, rep.ShredPending)
	require.Positive(t, rep.Kept)
	for _, x := range rep.Entries[:len(rep.Entries)-1] {
		require.Equal(t, retention.OutcomeHeld, x.Outcome)
		require.Contains(t, x.Reason, "litigation 17")
	}
	require.Equal(t, retention.OutcomePending, rep.Entries[len(rep.Entries)-1].Outcome)
	require.Equal(t, []string{"acme/c", "tokens/acme/c"}, e.shred.Calls())

	// Release applies what became due while held (5 actions) and completes
	// the erasure request without it being asked again (Phone and Ref).
	st, err = e.m.Release(ctx, retention.Subject("acme", "a"))
	require.NoError(t, err)
	require.EqualValues(t, 7, st.Applied)
	require.Contains(t, e.shred.Calls(), "acme/a")
	got := e.store.Get("acme", "a").(*Member)
	require.Empty(t, got.Email)
	require.Empty(t, got.Phone)
	require.Equal(t, "b@example.com", e.store.Get("acme", "b").(*Member).Email, "the record hold still holds")

	e.clock.Set(day(2026, 3, 2))
	_, err = e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, e.store.Get("acme", "b").(*Member).Email, "the record hold lapsed")
}

func TestForget(t *testing.T) {
	ctx := context.Background()
	// Created a year ago: Invoice's min=1y ends 2025-01-01.
	e := newEnv(t, day(2024, 6, 1), nil)
	rec := member("u-ada", created, day(2024, 5, 1))
	other := member("u-bob", created, day(2024, 5, 1))
	require.NoError(t, e.store.Put(rec, created))
	require.NoError(t, e.store.Put(other, created))

	rep, err := e.m.Forget(ctx, "acme", "u-ada")
	require.NoError(t, err)
	outcome := map[string]retention.Outcome{}
	for _, x := range rep.Entries {
		outcome[x.Field+" "+x.Action] = x.Outcome
	}
	require.Equal(t, map[string]retention.Outcome{
		"Email null":            retention.OutcomeApplied,
		"Invoice redact":        retention.OutcomeDeferred,
		"Card generalize:last4": retention.OutcomeApplied,
		"Notes block":           retention.OutcomeBlocked,
		"Handle anonymize":      retention.OutcomeApplied,
		"Secret shred":          retention.OutcomeApplied,
		"Phone null":            retention.OutcomeApplied,
		"Ref null":              retention.OutcomeApplied,
		" shred":                retention.OutcomeApplied,
	}, outcome, "the record is kept for what min= and block keep, so delete becomes null")
	require.True(t, rep.KeyShredded, "the values kept (Invoice, Notes) are not sealed under the key")
	require.False(t, rep.ShredPending)
	require.Equal(t, []string{"acme/u-ada", "tokens/acme/u-ada"}, e.shred.Calls())
	for _, x := range rep.Entries {
		if x.Field == "Invoice" {
			require.Contains(t, x.Reason, "min=P1Y keeps it until 2025-01-01")
		}
	}
	got := e.store.Get("acme", "u-ada").(*Member)
	require.Equal(t, "Invoice u-ada", got.Invoice)
	require.Empty(t, got.Email)
	require.Empty(t, got.Phone)
	require.Equal(t, other, e.store.Get("acme", "u-bob"), "other subjects untouched")
	require.Len(t, entries(t, e.ledger), len(rep.Entries), "every outcome is in the ledger")
	requireNoPersonalData(t, entries(t, e.ledger), rec, other)

	// Once min= has ended, asking again finishes the job (block still keeps Notes).
	e.clock.Set(day(2025, 2, 1))
	rep, err = e.m.Forget(ctx, "acme", "u-ada")
	require.NoError(t, err)
	require.Equal(t, 1, rep.Applied)
	require.Equal(t, 1, rep.Kept)
	require.Equal(t, "[REDACTED]", e.store.Get("acme", "u-ada").(*Member).Invoice)
}

// TestForgetKeepsKeyWhileSealedValuesAreKept: an erasure request that must
// keep a value sealed under the subject's key (min=) erases the rest,
// leaves the key shred pending, and a later sweep completes it once min=
// lapses, without the request being made again.
func TestForgetKeepsKeyWhileSealedValuesAreKept(t *testing.T) {
	ctx := context.Background()
	pol := &retention.Policies{}
	require.NoError(t, pol.Set(retention.Scope{}, "Member", "Secret", retention.Policy{Min: mustDur("2y")}))
	e := newEnv(t, day(2024, 6, 1), pol)
	rec := member("u-ada", created, day(2024, 5, 1))
	require.NoError(t, e.store.Put(rec, created))

	rep, err := e.m.Forget(ctx, "acme", "u-ada")
	require.NoError(t, err)
	require.False(t, rep.KeyShredded)
	require.True(t, rep.ShredPending)
	key := rep.Entries[len(rep.Entries)-1]
	require.Equal(t, retention.OutcomePending, key.Outcome)
	require.Contains(t, key.Reason, "Member.Secret")
	require.Empty(t, e.shred.Calls(), "the kept Secret is sealed under the key")
	got := e.store.Get("acme", "u-ada").(*Member)
	require.Equal(t, rec.Secret, got.Secret)
	require.Empty(t, got.Email)

	// A sweep before min= lapses keeps it pending and writes nothing new.
	n := len(entries(t, e.ledger))
	_, err = e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, e.shred.Calls())
	require.Len(t, entries(t, e.ledger), n)

	// min=2y from LastSeen ends 2026-05-01; the next sweep completes the request.
	e.clock.Set(day(2026, 5, 2))
	st, err := e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.KeysShredded)
	require.Equal(t, []string{"acme/u-ada", "tokens/acme/u-ada"}, e.shred.Calls())
	got = e.store.Get("acme", "u-ada").(*Member)
	require.Empty(t, got.Secret)
	require.Empty(t, got.SecretIndex)
	last := entries(t, e.ledger)[len(entries(t, e.ledger))-1]
	require.Equal(t, retention.OutcomeApplied, last.Outcome)
	require.Equal(t, "", last.Field)
	require.Equal(t, e.m.Hash(retention.Subject("acme", "u-ada")), last.Subject)

	// Done: later sweeps shred nothing more.
	_, err = e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.Len(t, e.shred.Calls(), 2)
}

func TestForgetDeletesAndShreds(t *testing.T) {
	ctx := context.Background()
	type Lead struct {
		ID    string `pii:"subject"`
		Email string `pii:"email,encrypt,retain=1y,then=delete"`
		Note  string `pii:"name"`
	}
	ledger := retention.NewMemoryLedger()
	sh := &shredder{}
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), Clock: piitest.NewClock(day(2024, 1, 1)), LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
		Shredder: sh, Tokens: sh, Ledger: ledger})
	require.NoError(t, err)
	store, err := retention.NewMemoryStore(&Lead{}, ledger)
	require.NoError(t, err)
	members, err := retention.NewMemoryStore(&Member{}, ledger)
	require.NoError(t, err)
	require.NoError(t, m.Register(store, members))
	require.NoError(t, store.Put(&Lead{ID: "x", Email: "c1", Note: "n"}, day(2023, 12, 1)))
	mx := member("x", day(2020, 1, 1), day(2020, 1, 1))
	mx.Notes = ""
	require.NoError(t, members.Put(mx, day(2020, 1, 1)))

	// Lead has no tenant field: its records belong to the tenant "".
	rep, err := m.Forget(ctx, "", "x")
	require.NoError(t, err)
	require.True(t, rep.KeyShredded)
	require.Zero(t, storeLen(t, store), "then=delete deletes the record")
	require.Equal(t, mx, members.Get("acme", "x"), "the subject x of tenant acme is another person")
	require.Equal(t, []string{"/x", "tokens//x"}, sh.Calls(), "one shred and token deletion, in the tenant asked")
	last := rep.Entries[len(rep.Entries)-1]
	require.Equal(t, retention.OutcomeApplied, last.Outcome)
	require.Equal(t, "", last.Field)
	require.Equal(t, m.Hash(retention.Subject("", "x")), last.Subject)

	rep, err = m.Forget(ctx, "acme", "x")
	require.NoError(t, err)
	require.True(t, rep.KeyShredded)
	require.Positive(t, rep.Applied)
	require.Equal(t, []string{"/x", "tokens//x", "acme/x", "tokens/acme/x"}, sh.Calls())

	// Idempotent: a second request finds nothing left.
	rep, err = m.Forget(ctx, "acme", "x")
	require.NoError(t, err)
	require.Zero(t, rep.Applied)
	_, err = m.Forget(ctx, "acme", "")
	require.Error(t, err)
}

func TestMinOverrideDefersSweep(t *testing.T) {
	ctx := context.Background()
	pol := &retention.Policies{}
	// Billing records of acme must be kept 3 years from creation, whatever the tag says.
	require.NoError(t, pol.Set(retention.Scope{Tenant: "acme", Purpose: "billing"}, "Member", "Invoice", retention.Policy{Min: mustDur("3y")}))
	e := newEnv(t, day(2026, 2, 1), pol)
	rec := member("a", created, lastSeen)
	require.NoError(t, e.store.Put(rec, created))
	items, err := e.m.Due(day(2026, 2, 1), rec)
	require.NoError(t, err)
	var inv retention.Item
	for _, it := range items {
		if it.Path == "Invoice" {
			inv = it
		}
	}
	require.Equal(t, retention.Deferred, inv.State)
	require.Equal(t, day(2027, 1, 1), inv.At)
	require.Contains(t, inv.Reason, "min=P3Y")

	st, err := e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Deferred)
	require.Equal(t, "Invoice a", e.store.Get("acme", "a").(*Member).Invoice)

	next, ok, err := e.m.Next(day(2026, 2, 1), e.store.Get("acme", "a"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, day(2027, 1, 1), next)

	e.clock.Set(day(2027, 1, 1))
	_, err = e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, "[REDACTED]", e.store.Get("acme", "a").(*Member).Invoice)
}

func TestReplayAfterRestore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, day(2026, 2, 1), nil)
	backup := map[string]*Member{}
	for _, id := range []string{"a", "b", "c"} {
		rec := member(id, created, lastSeen)
		if id == "c" {
			rec.LastSeen = day(2026, 1, 15)
		}
		backup[id] = rec
		require.NoError(t, e.store.Put(rec, created))
	}
	closed := day(2025, 1, 1)
	backup["d"] = member("d", created, day(2026, 1, 15))
	backup["d"].Closed = &closed
	require.NoError(t, e.store.Put(backup["d"], created))

	_, err := e.m.Sweep(ctx, nil)
	require.NoError(t, err)
	_, err = e.m.Forget(ctx, "acme", "c")
	require.NoError(t, err)
	want := map[string]any{}
	for id := range backup {
		want[id] = e.store.Get("acme", id)
	}
	require.Nil(t, want["d"])

	// Restore the backup into a fresh store, then replay.
	restored, err := retention.NewMemoryStore(&Member{}, e.ledger)
	require.NoError(t, err)
	for _, rec := range backup {
		require.NoError(t, restored.Put(rec, created))
	}
	before := len(e.shred.Calls())
	st, err := e.m.Replay(ctx, e.ledger, restored)
	require.NoError(t, err)
	require.Positive(t, st.Applied)
	for id, w := range want {
		if w == nil {
			require.Nil(t, restored.Get("acme", id), "%s was deleted", id)
			continue
		}
		require.Equal(t, w, restored.Get("acme", id), id)
	}
	require.Greater(t, len(e.shred.Calls()), before, "shredded subjects are shredded again")
	st, err = e.m.Replay(ctx, e.ledger, restored)
	require.NoError(t, err)
	require.Zero(t, st.Applied, "replay is idempotent")
}

func TestManagerPrintsNoKeys(t *testing.T) {
	e := newEnv(t, day(2026, 1, 1), nil)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(verb, e.m)
		require.NotContains(t, out, string(ledgerKey))
		require.NotContains(t, out, fmt.Sprintf("%x", ledgerKey))
		require.NotContains(t, out, string(pseudonymKey))
		require.NotContains(t, out, fmt.Sprintf("%x", pseudonymKey))
	}
}

func TestStoreErrorsAreWrapped(t *testing.T) {
	e := newEnv(t, day(2026, 2, 1), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, e.store.Put(member("a", created, lastSeen), created))
	_, err := e.m.Sweep(ctx, nil)
	require.True(t, errors.Is(err, context.Canceled))
}
