package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/retention"
)

// flaws switch on one deliberate bug each in the reference store.
type flaws struct {
	ignoresTenant   bool // Subject and Record queries match every tenant
	commitUnclaimed bool // Commit writes changes of records the claim did not select
	partialCommit   bool // Commit applies changes one by one and stops at a bad one (no rollback)
	aliases         bool // Claim returns the stored values, so a rolled-back change stays
	noLock          bool // claims take no lock
}

// refStore is a minimal correct Store of Record unless a flaw is set.
type refStore struct {
	f      flaws
	schema *pii.Schema
	lock   chan struct{} // held by an open claim
	mu     sync.Mutex
	recs   map[[2]string]*Record
}

func newRef(f flaws) (*refStore, PutFunc) {
	s, err := pii.SchemaOf(&Record{})
	if err != nil {
		panic(err)
	}
	st := &refStore{f: f, schema: s, lock: make(chan struct{}, 1), recs: map[[2]string]*Record{}}
	return st, func(r *Record, created time.Time) error {
		c := *r
		c.CreatedAt = created
		st.mu.Lock()
		st.recs[[2]string{c.Tenant, c.ID}] = &c
		st.mu.Unlock()
		return nil
	}
}

func (s *refStore) Schema() *pii.Schema { return s.schema }

func (s *refStore) Claim(ctx context.Context, q retention.Query) (retention.Claim, error) {
	locked := !q.ReadOnly && !s.f.noLock
	if locked {
		s.lock <- struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks [][2]string
	for k := range s.recs {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	after, _ := q.After.([2]string)
	var out []retention.Record
	for _, k := range ks {
		if q.After != nil && strings.Compare(k[0]+"\x00"+k[1], after[0]+"\x00"+after[1]) <= 0 {
			continue
		}
		r := s.recs[k]
		tenantOK := r.Tenant == q.Tenant || s.f.ignoresTenant
		ok := false
		switch {
		case q.All:
			ok = true
		case q.Record != "":
			ok = tenantOK && r.ID == q.Record
		case q.Subject != "":
			ok = tenantOK && r.Subject == q.Subject
		default:
			for _, c := range q.Clocks {
				t := r.CreatedAt
				if c.Field == "Seen" {
					t = r.Seen
				}
				ok = ok || (!t.IsZero() && !t.After(c.Before))
			}
		}
		if !ok {
			continue
		}
		v := r
		if !s.f.aliases {
			c := *r
			v = &c
		}
		out = append(out, retention.Record{Tenant: r.Tenant, Key: r.ID, Pos: k, Created: r.CreatedAt, Value: v})
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return &refClaim{s: s, recs: out, locked: locked}, nil
}

type refClaim struct {
	s      *refStore
	recs   []retention.Record
	locked bool
	done   bool
}

func (c *refClaim) Records() []retention.Record { return c.recs }

func (c *refClaim) release() {
	if !c.done {
		c.done = true
		if c.locked {
			<-c.s.lock
		}
	}
}

func (c *refClaim) Rollback() error { c.release(); return nil }

func (c *refClaim) Commit(_ context.Context, changes []retention.Change, _ []retention.Entry) error {
	defer c.release()
	claimed := map[[2]string]bool{}
	for _, r := range c.recs {
		claimed[[2]string{r.Tenant, r.Key}] = true
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if !c.s.f.commitUnclaimed && !c.s.f.partialCommit {
		for _, ch := range changes {
			if !claimed[[2]string{ch.Tenant, ch.Key}] {
				return fmt.Errorf("ref: a change names a record the claim did not select")
			}
		}
	}
	for _, ch := range changes {
		k := [2]string{ch.Tenant, ch.Key}
		if c.s.f.partialCommit && !claimed[k] {
			return fmt.Errorf("ref: a change names a record the claim did not select")
		}
		if ch.Delete {
			delete(c.s.recs, k)
			continue
		}
		v := *ch.Value.(*Record)
		c.s.recs[k] = &v
	}
	return nil
}

func runRef(t *testing.T, f flaws) map[string]error {
	out := map[string]error{}
	for _, c := range storeChecks {
		st, put := newRef(f)
		out[c.name] = runStore(context.Background(), c.name, st, put)
	}
	return out
}

func TestReferenceStorePasses(t *testing.T) {
	for name, err := range runRef(t, flaws{}) {
		require.NoError(t, err, name)
	}
}

func TestMemoryStorePasses(t *testing.T) {
	Run(t, Harness{NewStore: func(t *testing.T) (retention.Store, PutFunc) {
		ms, err := retention.NewMemoryStore(&Record{}, nil)
		require.NoError(t, err)
		return ms, func(r *Record, created time.Time) error {
			c := *r
			c.CreatedAt = created
			return ms.Put(&c, created)
		}
	}, NewHolds: func(*testing.T) retention.Holds { return retention.NewMemoryHolds() }})
}

// TestBrokenStoresFail: each deliberately broken store fails the checks
// that exist to catch its bug.
func TestBrokenStoresFail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      flaws
		caught []string
		msg    string
	}{
		{"ignores tenant", flaws{ignoresTenant: true}, []string{"TenantIsolation"}, "returned"},
		{"commit writes unclaimed records", flaws{commitUnclaimed: true}, []string{"CommitClaimedOnly"}, "did not select succeeded"},
		{"commit is not all or nothing", flaws{partialCommit: true}, []string{"CommitClaimedOnly"}, "all or nothing"},
		{"rollback not honoured (claims alias the stored values)", flaws{aliases: true}, []string{"RollbackChangesNothing"}, "rolled back"},
		{"claims take no lock", flaws{noLock: true}, []string{"ClaimLocks"}, "not locked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runRef(t, tc.f)
			for _, name := range tc.caught {
				require.Error(t, got[name], name)
				require.ErrorContains(t, got[name], tc.msg)
				require.True(t, strings.HasPrefix(got[name].Error(), "storetest: "))
			}
		})
	}
}

// brokenHolds keeps holds with a flaw.
type brokenHolds struct {
	retention.Holds
	activeAtEnd bool // a hold is still active at its Until
	appendPut   bool // Put adds a second hold with the same ID instead of replacing it
	list        []retention.Hold
}

func (h *brokenHolds) Put(ctx context.Context, x retention.Hold) error {
	h.list = append(h.list, x)
	return h.Holds.Put(ctx, x)
}

func (h *brokenHolds) Active(ctx context.Context, now time.Time) ([]retention.Hold, error) {
	if h.activeAtEnd {
		return h.Holds.Active(ctx, now.Add(-time.Nanosecond))
	}
	if h.appendPut {
		var out []retention.Hold
		for _, x := range h.list {
			if x.Until.IsZero() || now.Before(x.Until) {
				out = append(out, x)
			}
		}
		return out, nil
	}
	return h.Holds.Active(ctx, now)
}

func TestBrokenHoldsFail(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, checkHoldsActive(ctx, retention.NewMemoryHolds()))
	require.NoError(t, checkHoldsReplace(ctx, retention.NewMemoryHolds()))
	require.ErrorContains(t, checkHoldsActive(ctx, &brokenHolds{Holds: retention.NewMemoryHolds(), activeAtEnd: true}), "not h3")
	require.ErrorContains(t, checkHoldsReplace(ctx, &brokenHolds{Holds: retention.NewMemoryHolds(), appendPut: true}), "must replace")
}

// brokenPending lets a lower kind overwrite a higher one.
type brokenPending struct {
	mu sync.Mutex
	m  map[string]retention.PendingShred
}

func (p *brokenPending) PutPending(_ context.Context, x retention.PendingShred) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[x.ID] = x
	return nil
}

func (p *brokenPending) DeletePending(_ context.Context, id string, _ int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, id)
	return nil
}

func (p *brokenPending) Pending(_ context.Context, after string, limit int) ([]retention.PendingShred, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []retention.PendingShred
	for id, x := range p.m {
		if id > after {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b retention.PendingShred) int { return strings.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func TestBrokenPendingFails(t *testing.T) {
	err := checkPending(context.Background(), &brokenPending{m: map[string]retention.PendingShred{}})
	require.ErrorContains(t, err, "kinds only rise")
}

// countingPending counts the pending shreds put into a memory hold store.
type countingPending struct {
	retention.Holds
	retention.PendingShreds
	puts *int
}

func (c countingPending) PutPending(ctx context.Context, p retention.PendingShred) error {
	*c.puts++
	return c.PendingShreds.PutPending(ctx, p)
}

func newCounting(puts *int) countingPending {
	h := retention.NewMemoryHolds()
	return countingPending{Holds: h, PendingShreds: h.(retention.PendingShreds), puts: puts}
}

// TestRunChecksPendingShreds: Run checks the pending shreds kept by a hold
// store that implements retention.PendingShreds.
func TestRunChecksPendingShreds(t *testing.T) {
	var inHolds int
	Run(t, Harness{NewHolds: func(*testing.T) retention.Holds { return newCounting(&inHolds) }})
	require.Positive(t, inHolds, "the hold store's pending shreds are checked")
}
