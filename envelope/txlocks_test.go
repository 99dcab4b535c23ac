package envelope_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider"
)

// The tests here cover the rules of tx.go ("Keys and the caller's
// transaction") about the process-wide locks and the call's own keys:
// lookups outside a transaction share one KMS call per missing key;
// a lookup under an executor takes none of those locks; under one
// executor a whole call, nested calls included, shares the keys it
// loads; outside a transaction a call keeps none of its own.
//
// A gate parks chosen reads (or KMS calls) so that the test knows where
// every goroutine is: parked at the gate, or waiting for a sync.Mutex in
// a named function of the Sealer (read from the goroutine stacks). Nothing
// waits on time but the watchdog, which fails a test that hangs.

// gate parks the calls hold selects until the test releases them one by
// one or opens the gate for all.
type gate struct {
	hold    func(op string, kind envelope.Kind, tx bool) bool
	arrived chan *parked
	open    chan struct{}
	once    sync.Once
}

type parked struct{ release chan struct{} }

func newGate(hold func(op string, kind envelope.Kind, tx bool) bool) *gate {
	return &gate{hold: hold, arrived: make(chan *parked, 64), open: make(chan struct{})}
}

func (g *gate) park(ctx context.Context, op string, kind envelope.Kind) {
	if !g.hold(op, kind, pii.ExecutorFrom(ctx, nil) != nil) {
		return
	}
	p := &parked{release: make(chan struct{})}
	select {
	case g.arrived <- p:
	case <-g.open:
		return
	}
	select {
	case <-p.release:
	case <-g.open:
	case <-ctx.Done():
	}
}

// openAll lets every parked call and every later one through.
func (g *gate) openAll() { g.once.Do(func() { close(g.open) }) }

// gateStore parks reads at g after they read (what they return is what
// the store held before the test released them).
type gateStore struct {
	envelope.KeyStore
	g *gate
}

func (s gateStore) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	rec, err := s.KeyStore.Get(ctx, ref)
	s.g.park(ctx, "Get", ref.Kind)
	return rec, err
}

func (s gateStore) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	rec, err := s.KeyStore.Latest(ctx, kind, tenant, scope)
	s.g.park(ctx, "Latest", kind)
	return rec, err
}

func (s gateStore) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	recs, err := s.KeyStore.LatestMany(ctx, scopes)
	var kind envelope.Kind // the kind of the first scope asked
	if len(scopes) > 0 {
		kind = scopes[0].Kind
	}
	s.g.park(ctx, "LatestMany", kind)
	return recs, err
}

// gateKP parks wraps and unwraps at g before they reach the provider.
type gateKP struct {
	*testkp.Provider
	g *gate
}

func (k gateKP) Wrap(ctx context.Context, key, ad []byte) ([]byte, keyprovider.KeyID, error) {
	k.g.park(ctx, "Wrap", "")
	return k.Provider.Wrap(ctx, key, ad)
}

func (k gateKP) Unwrap(ctx context.Context, w, ad []byte) ([]byte, error) {
	k.g.park(ctx, "Unwrap", "")
	return k.Provider.Unwrap(ctx, w, ad)
}

var _ keyprovider.KeyProvider = gateKP{}

// mutexWaiters counts the goroutines waiting for a sync.Mutex in one of
// the Sealer's methods fns: those whose traceback header gives the wait
// reason "sync.Mutex.Lock" and that have one of fns on their stack.
func mutexWaiters(fns []string) int {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	c := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		if !strings.Contains(head, "[sync.Mutex.Lock") {
			continue
		}
		for _, fn := range fns {
			if strings.Contains(g, "/envelope.(*Sealer)."+fn+"(") {
				c++
				break
			}
		}
	}
	return c
}

// awaitParked waits until n calls, between them, are parked at g or wait
// for a sync.Mutex in one of the Sealer's methods fns, and returns those
// parked at g in their order of arrival.
func awaitParked(t *testing.T, ctx context.Context, g *gate, fns []string, n int) []*parked {
	t.Helper()
	var got []*parked
	for {
		select {
		case p := <-g.arrived:
			got = append(got, p)
			continue
		case <-ctx.Done():
			t.Fatalf("watchdog: %d calls parked at the gate, %d waiting in %s, want %d between them", len(got), mutexWaiters(fns), fns, n)
		default:
		}
		if len(got)+mutexWaiters(fns) >= n {
			return got
		}
		runtime.Gosched()
	}
}

// watchdog is the context the calls of a test run under: it ends a test
// that hangs (a call waiting for a lock it must not need). It bounds no
// timing the test asserts.
func watchdog(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type lockCustomer struct {
	Tenant string `pii:"tenant"`
	ID     string `pii:"subject"`
	Name   string `pii:"name,encrypt"`
	TaxID  string `pii:"national_id,encrypt=det"`
}

func bindingOf(tenant, subject string) envelope.Binding {
	return envelope.Binding{Tenant: tenant, Type: "lockCustomer", Field: "Name", Record: "r-" + subject, Subject: subject}
}

func detBinding(tenant string) envelope.Binding {
	return envelope.Binding{Tenant: tenant, Type: "lockCustomer", Field: "TaxID"}
}

// lockWorld is a key store holding the keys of tenants acme and globex
// (branch key, search root, alice's DEK), made by another process, and
// values sealed under them.
type lockWorld struct {
	kp     *testkp.Provider
	store  envelope.KeyStore
	ct     map[string]string // tenant -> alice's name, sealed
	counts *countStore       // the calls of the last cold Sealer
}

func newLockWorld(t *testing.T) *lockWorld {
	ctx := context.Background()
	w := &lockWorld{kp: newKP(), store: envelope.NewMemoryStore(), ct: map[string]string{}}
	other, err := envelope.New(w.kp, &envelope.Options{Store: w.store})
	require.NoError(t, err)
	for _, tenant := range []string{"acme", "globex"} {
		ct, err := other.EncryptString(ctx, "Alice", bindingOf(tenant, "alice"))
		require.NoError(t, err)
		w.ct[tenant] = ct
		_, err = other.EncryptDeterministic(ctx, "TAX-1", detBinding(tenant))
		require.NoError(t, err)
	}
	return w
}

// cold returns a new Sealer ("process") on w's keys, through a gateStore.
func (w *lockWorld) cold(t *testing.T, g *gate) *envelope.Sealer {
	w.counts = &countStore{KeyStore: w.store, calls: map[string]int{}}
	s, err := envelope.New(w.kp, &envelope.Options{Store: gateStore{w.counts, g}})
	require.NoError(t, err)
	return s
}

func (w *lockWorld) open(s *envelope.Sealer, tenant string) func(context.Context) error {
	return func(ctx context.Context) error {
		pt, err := s.DecryptString(ctx, w.ct[tenant], bindingOf(tenant, "alice"))
		if err == nil && pt != "Alice" {
			panic("opened to another value")
		}
		return err
	}
}

func sealFor(s *envelope.Sealer, tenant, subject string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.EncryptString(ctx, "v", bindingOf(tenant, subject))
		return err
	}
}

func detFor(s *envelope.Sealer, tenant string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.EncryptDeterministic(ctx, "TAX-1", detBinding(tenant))
		return err
	}
}

func rotateFor(s *envelope.Sealer, tenant string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.RotateBranchKey(ctx, tenant)
		return err
	}
}

func sealSlice(s *envelope.Sealer, tenant string) func(context.Context) error {
	return func(ctx context.Context) error {
		return s.Seal(ctx, []lockCustomer{{Tenant: tenant, ID: "bob", Name: "Bob"}, {Tenant: tenant, ID: "carol", Name: "Carol"}})
	}
}

// branchReads holds the reads of branch keys outside a transaction.
func branchReads(op string, kind envelope.Kind, tx bool) bool {
	return kind == envelope.KindBranch && !tx
}

func reads(op string, kind envelope.Kind, tx bool) func(string, envelope.Kind, bool) bool {
	return func(o string, k envelope.Kind, t bool) bool { return o == op && k == kind && t == tx }
}

// TestTxLookupTakesNoProcessLock: a lookup under the caller's executor
// may wait there on a row lock another transaction holds; it must not
// hold the Sealer's process-wide locks meanwhile, or every other lookup
// of the process (here: another tenant's, outside any transaction) waits
// with it. The transaction's read is parked at the gate; the other call
// must return. Red when a lookup under an executor takes kmsMu (branch
// keys, search roots, RotateBranchKey) or createMu (DEKs, one at a time
// or by batch).
func TestTxLookupTakesNoProcessLock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hold  func(string, envelope.Kind, bool) bool
		inTx  func(w *lockWorld, s *envelope.Sealer) func(context.Context) error
		other func(w *lockWorld, s *envelope.Sealer) func(context.Context) error
	}{
		{"open: branch key", reads("Get", envelope.KindBranch, true),
			func(w *lockWorld, s *envelope.Sealer) func(context.Context) error { return w.open(s, "acme") },
			func(w *lockWorld, s *envelope.Sealer) func(context.Context) error { return w.open(s, "globex") }},
		{"seal: current branch key", reads("Latest", envelope.KindBranch, true),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "acme", "bob") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "globex", "bob") }},
		{"seal: DEK", reads("Latest", envelope.KindDEK, true),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "acme", "bob") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "globex", "bob") }},
		{"seal a slice: DEKs", reads("LatestMany", envelope.KindDEK, true),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealSlice(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealSlice(s, "globex") }},
		{"rotate branch key", reads("Latest", envelope.KindBranch, true),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return rotateFor(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "globex", "bob") }},
		{"search root", reads("Get", envelope.KindSearch, true),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return detFor(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return detFor(s, "globex") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := watchdog(t)
			w := newLockWorld(t)
			g := newGate(tc.hold)
			t.Cleanup(g.openAll)
			s := w.cold(t, g)
			txDone := make(chan error, 1)
			go func() { txDone <- tc.inTx(w, s)(inTx(ctx)) }()
			select {
			case <-g.arrived: // the transaction's read waits at the gate
			case err := <-txDone:
				t.Fatalf("the call under the executor returned (%v) without the read the test parks", err)
			case <-ctx.Done():
				t.Fatal("watchdog: the call under the executor never made the read the test parks")
			}
			otherDone := make(chan error, 1)
			go func() { otherDone <- tc.other(w, s)(ctx) }()
			select {
			case err := <-otherDone:
				require.NoError(t, err)
			case <-ctx.Done():
				t.Fatal("watchdog: a call outside the transaction waited for the transaction's lookup")
			}
			g.openAll()
			require.NoError(t, <-txDone)
		})
	}
}

// TestMissesOutsideTxShareOneKMSCall: outside a transaction, calls that
// miss the same key at once make one KMS call between them: the first
// loads the key while the others wait for it (kmsMu) and then find it
// cached. The first call's read is parked at the gate until the others
// are either waiting for the lock or (when the lock is gone) parked too;
// they are then let through from the last to the first. Red when a
// lookup outside a transaction does not take kmsMu.
func TestMissesOutsideTxShareOneKMSCall(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hold    func(string, envelope.Kind, bool) bool
		first   func(w *lockWorld, s *envelope.Sealer) func(context.Context) error
		others  func(w *lockWorld, s *envelope.Sealer) func(context.Context) error
		waitIn  []string // where the others wait for the first
		unwraps int64    // KMS unwraps, all calls together
		wraps   int64
		inserts int // key rows inserted (Insert or InsertMany calls)
	}{
		{"opens", reads("Get", envelope.KindBranch, false),
			func(w *lockWorld, s *envelope.Sealer) func(context.Context) error { return w.open(s, "acme") },
			func(w *lockWorld, s *envelope.Sealer) func(context.Context) error { return w.open(s, "acme") },
			[]string{"branchKey"}, 1, 0, 0},
		{"open, then seals", branchReads,
			func(w *lockWorld, s *envelope.Sealer) func(context.Context) error { return w.open(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "acme", "bob") },
			[]string{"currentBranch", "encKeySlow"}, 1, 0, 1},
		{"rotation, then seals", branchReads,
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return rotateFor(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "acme", "bob") },
			[]string{"currentBranch", "encKeySlow"}, 0, 1, 2}, // the seals use the rotation's new key
		{"search roots", reads("Get", envelope.KindSearch, false),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return detFor(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return detFor(s, "acme") },
			[]string{"rootKey"}, 1, 0, 0},
		{"seals of a new subject", reads("Latest", envelope.KindDEK, false),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "acme", "bob") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealFor(s, "acme", "bob") },
			[]string{"encKeySlow"}, 1, 0, 1}, // one DEK made, under the branch key unwrapped once
		{"seals of slices of new subjects", reads("LatestMany", envelope.KindDEK, false),
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealSlice(s, "acme") },
			func(_ *lockWorld, s *envelope.Sealer) func(context.Context) error { return sealSlice(s, "acme") },
			[]string{"prepareSeal"}, 1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := watchdog(t)
			w := newLockWorld(t)
			g := newGate(tc.hold)
			t.Cleanup(g.openAll)
			s := w.cold(t, g)
			u0, w0 := w.kp.Unwraps.Load(), w.kp.Wraps.Load()
			missTogether(t, ctx, g, tc.first(w, s), tc.others(w, s), tc.waitIn)
			require.Equal(t, tc.unwraps, w.kp.Unwraps.Load()-u0, "KMS unwraps")
			require.Equal(t, tc.wraps, w.kp.Wraps.Load()-w0, "KMS wraps")
			calls := w.counts.took()
			require.Equal(t, tc.inserts, calls["Insert"]+calls["InsertMany"], "key row inserts: %v", calls)
		})
	}
}

// missTogether runs first until it parks at g, then three calls of
// other until each is parked at g too or waits for a sync.Mutex in one of
// waitIn. It then lets the parked calls through from the last to arrive,
// one call's return after another, opens the gate, and checks that every
// call returns without error.
func missTogether(t *testing.T, ctx context.Context, g *gate, first, other func(context.Context) error, waitIn []string) {
	t.Helper()
	const others = 3
	done := make(chan error, others+1)
	go func() { done <- first(ctx) }()
	parkedCalls := awaitParked(t, ctx, g, nil, 1)
	require.Len(t, parkedCalls, 1)
	for range others {
		go func() { done <- other(ctx) }()
	}
	parkedCalls = append(parkedCalls, awaitParked(t, ctx, g, waitIn, others)...)
	wait := func() {
		t.Helper()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("watchdog: a call did not return")
		}
	}
	n := others + 1
	for i := len(parkedCalls) - 1; i > 0; i-- {
		close(parkedCalls[i].release)
		wait()
		n--
	}
	g.openAll()
	for range n {
		wait()
	}
}

// TestInlineMissesShareOneKMSCall: in inline mode, calls that open values
// under the same wrapped DEK at once make one unwrap between them, and
// calls that seal for a tenant without a DEK make one between them. Red
// when inlineDecKey does not take kmsMu, or inlineEncKey createMu.
func TestInlineMissesShareOneKMSCall(t *testing.T) {
	ctx := watchdog(t)
	kp := newKP()
	w, err := envelope.New(kp, &envelope.Options{Inline: true})
	require.NoError(t, err)
	b := bindingOf("acme", "alice")
	ct, err := w.EncryptString(ctx, "Alice", b)
	require.NoError(t, err)
	open := func(s *envelope.Sealer) func(context.Context) error {
		return func(ctx context.Context) error {
			pt, err := s.DecryptString(ctx, ct, b)
			if err == nil && pt != "Alice" {
				panic("opened to another value")
			}
			return err
		}
	}
	seal := func(s *envelope.Sealer) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.EncryptString(ctx, "Alice", b)
			return err
		}
	}
	for _, tc := range []struct {
		name, op string // the KMS call
		call     func(s *envelope.Sealer) func(context.Context) error
		waitIn   string
		calls    *atomic.Int64
	}{
		{"opens", "Unwrap", open, "inlineDecKey", &kp.Unwraps},
		{"seals", "Wrap", seal, "inlineEncKey", &kp.Wraps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(func(op string, _ envelope.Kind, _ bool) bool { return op == tc.op })
			t.Cleanup(g.openAll)
			s, err := envelope.New(gateKP{kp, g}, &envelope.Options{Inline: true})
			require.NoError(t, err)
			before := tc.calls.Load()
			missTogether(t, ctx, g, tc.call(s), tc.call(s), []string{tc.waitIn})
			require.Equal(t, int64(1), tc.calls.Load()-before)
		})
	}
}

type lockPair struct {
	Tenant string `pii:"tenant"`
	ID     string `pii:"subject"`
	A      string `pii:"name,encrypt"`
	B      string `pii:"email,encrypt"`
}

// TestTxCallSharesKeys: under the caller's executor a call keeps the keys
// it loads for itself (nothing it loads there goes to the shared caches):
// its other fields, the other records of its slice, and calls nested in
// it (from its ReadCheck, with the context it was given) use them without
// reading the key store again. Red when a call under an executor keeps no
// keys of its own (each lookup reads again), or when a nested call, or
// each record of a slice, starts a memo of its own.
func TestTxCallSharesKeys(t *testing.T) {
	ctx := context.Background()
	kp, inner := newKP(), envelope.NewMemoryStore()
	other, err := envelope.New(kp, &envelope.Options{Store: inner})
	require.NoError(t, err)
	sealed := []lockPair{{Tenant: "acme", ID: "alice", A: "a1", B: "b1"}, {Tenant: "acme", ID: "alice", A: "a2", B: "b2"}}
	want := slices.Clone(sealed)
	require.NoError(t, other.Seal(ctx, sealed))
	// A cold Sealer reads alice's DEK and the branch key wrapping it once
	// per call: one Get each, or one GetMany for a slice's DEKs.
	for _, tc := range []struct {
		name  string
		reads map[string]int
		open  func(s *envelope.Sealer, ctx context.Context) error
	}{
		{"the fields of a record", map[string]int{"Get": 2}, func(s *envelope.Sealer, ctx context.Context) error {
			got := sealed[0]
			err := s.Open(ctx, &got)
			require.Equal(t, want[0], got)
			return err
		}},
		{"the records of a slice", map[string]int{"GetMany": 1, "Get": 1}, func(s *envelope.Sealer, ctx context.Context) error {
			got := slices.Clone(sealed)
			err := s.Open(ctx, got)
			require.Equal(t, want, got)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &countStore{KeyStore: inner, calls: map[string]int{}}
			s, err := envelope.New(kp, &envelope.Options{Store: store})
			require.NoError(t, err)
			u0 := kp.Unwraps.Load()
			require.NoError(t, tc.open(s, inTx(ctx)))
			require.Equal(t, tc.reads, store.took())
			require.Equal(t, int64(1), kp.Unwraps.Load()-u0)
			// Nothing loaded under the executor is cached for later calls.
			require.NoError(t, tc.open(s, ctx))
			require.NotEmpty(t, store.took())
		})
	}
	t.Run("a call nested in another", func(t *testing.T) {
		store := &countStore{KeyStore: inner, calls: map[string]int{}}
		var s *envelope.Sealer
		nested := false
		s, err := envelope.New(kp, &envelope.Options{Store: store,
			ReadCheck: func(ctx context.Context, _ *pii.Schema, f *pii.Field, _ any) error {
				if f.Path != "B" || nested {
					return nil // A is opened: alice's DEK is loaded
				}
				nested = true
				got := sealed[1]
				err := s.Open(ctx, &got)
				require.Equal(t, want[1], got)
				return err
			}})
		require.NoError(t, err)
		got := sealed[0]
		require.NoError(t, s.Open(inTx(ctx), &got))
		require.True(t, nested)
		require.Equal(t, want[0], got)
		require.Equal(t, map[string]int{"Get": 2}, store.took(), "alice's DEK and the branch key, read once")
	})
}

// TestCallKeepsNoKeysOutsideTx: outside a transaction a call keeps no
// keys of its own, and a call nested in it under an executor (here two,
// from its ReadCheck: a transaction that rolls back, then one that
// commits) keeps its keys for itself alone: the second never seals under
// the DEK the first made and its rollback removed. Red when a call
// outside a transaction starts a memo of its own, which the nested calls
// then share.
func TestCallKeepsNoKeysOutsideTx(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.SQLite})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(ctx))
	kp := newKP()
	rec := &lockPair{Tenant: "acme", ID: "alice", A: "a", B: "b"}
	w, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	require.NoError(t, w.Seal(ctx, rec))

	bob := bindingOf("acme", "bob")
	var ct string
	checked := false
	var s *envelope.Sealer
	s, err = envelope.New(kp, &envelope.Options{Store: st,
		ReadCheck: func(ctx context.Context, _ *pii.Schema, _ *pii.Field, _ any) error {
			if checked {
				return nil
			}
			checked = true
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = s.EncryptString(pii.WithExecutor(ctx, tx), "rolled back", bob) // makes bob's first DEK, in tx
			require.NoError(t, err)
			require.NoError(t, tx.Rollback())
			tx, err = db.BeginTx(ctx, nil)
			require.NoError(t, err)
			ct, err = s.EncryptString(pii.WithExecutor(ctx, tx), "committed", bob)
			require.NoError(t, err)
			return tx.Commit()
		}})
	require.NoError(t, err)
	got := *rec
	require.NoError(t, s.Open(ctx, &got))
	require.True(t, checked)
	require.Equal(t, "a", got.A)
	fresh, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	pt, err := fresh.DecryptString(ctx, ct, bob)
	require.NoError(t, err, "sealed under a DEK whose row the rollback removed")
	require.Equal(t, "committed", pt)
}
