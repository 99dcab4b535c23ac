package envelope_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

// Subscriber is a record with its own data subject and three encrypted
// fields, as a bulk import writes them.
type Subscriber struct {
	Tenant string `pii:"tenant"`
	ID     string `pii:"subject"`
	Name   string `pii:"name,encrypt"`
	Email  string `pii:"email,encrypt"`
	DOB    []byte `pii:"dob,encrypt"`
}

func subscribers(tenant string, from, n int) []Subscriber {
	out := make([]Subscriber, n)
	for i := range out {
		id := fmt.Sprintf("m%06d", from+i)
		out[i] = Subscriber{Tenant: tenant, ID: id, Name: "Name " + id, Email: id + "@example.com", DOB: []byte("1970-01-01/" + id)}
	}
	return out
}

// countStore counts the KeyStore calls a Sealer makes, and runs hooks
// around InsertMany (what another process does meanwhile).
type countStore struct {
	envelope.KeyStore
	mu     sync.Mutex
	calls  map[string]int
	before func(recs []envelope.Record)
	after  func(recs []envelope.Record)
}

func newCountStore() *countStore {
	return &countStore{KeyStore: envelope.NewMemoryStore(), calls: map[string]int{}}
}

func (c *countStore) count(m string) {
	c.mu.Lock()
	c.calls[m]++
	c.mu.Unlock()
}

// took returns the calls counted since the last took.
func (c *countStore) took() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *countStore) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	c.count("Get")
	return c.KeyStore.Get(ctx, ref)
}

func (c *countStore) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	c.count("Latest")
	return c.KeyStore.Latest(ctx, kind, tenant, scope)
}

func (c *countStore) Insert(ctx context.Context, rec envelope.Record) (envelope.Record, bool, error) {
	c.count("Insert")
	return c.KeyStore.Insert(ctx, rec)
}

func (c *countStore) GetMany(ctx context.Context, refs []envelope.KeyRef) ([]envelope.Record, error) {
	c.count("GetMany")
	return c.KeyStore.GetMany(ctx, refs)
}

func (c *countStore) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	c.count("LatestMany")
	return c.KeyStore.LatestMany(ctx, scopes)
}

func (c *countStore) InsertMany(ctx context.Context, recs []envelope.Record) ([]envelope.Record, []bool, error) {
	c.count("InsertMany")
	if c.before != nil {
		c.before(recs)
	}
	stored, inserted, err := c.KeyStore.InsertMany(ctx, recs)
	if c.after != nil {
		c.after(recs)
	}
	return stored, inserted, err
}

func dekRows(t *testing.T, st envelope.KeyStore) map[envelope.KeyRef]bool {
	t.Helper()
	out := map[envelope.KeyRef]bool{}
	recs, err := st.List(context.Background(), envelope.KindDEK, envelope.KeyRef{}, 0)
	require.NoError(t, err)
	for _, r := range recs {
		out[r.KeyRef] = true
	}
	return out
}

// TestSealSliceBatchesKeys: Seal over a slice of new subjects looks their
// keys up with one LatestMany per batch of 1,000 records, writes them
// with one InsertMany, and reads the watermarks once more (the check
// against a racing ForgetSubject); Open over the slice from a cold cache
// reads them with one GetMany per batch; nothing is asked per subject.
// Every shape of slice works.
func TestSealSliceBatchesKeys(t *testing.T) {
	ctx := context.Background()
	const n = 2500 // three batches
	shapes := []struct {
		name string
		arg  func(ms []Subscriber) any
	}{
		{"[]T", func(ms []Subscriber) any { return ms }},
		{"*[]T", func(ms []Subscriber) any { return &ms }},
		{"[]*T", func(ms []Subscriber) any {
			var ps []*Subscriber
			for i := range ms {
				ps = append(ps, &ms[i])
			}
			return ps
		}},
		{"*[]*T", func(ms []Subscriber) any {
			var ps []*Subscriber
			for i := range ms {
				ps = append(ps, &ms[i])
			}
			return &ps
		}},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			kp := newKP()
			st := newCountStore()
			// ShredCheck out of the way: the counts are of the batching,
			// not of the reads that confirm cached keys after a second.
			s, err := envelope.New(kp, &envelope.Options{Store: st, Cache: envelope.CacheLimits{ShredCheck: time.Hour}})
			require.NoError(t, err)
			want := subscribers("acme", 0, n)
			ms := slices.Clone(want)
			require.NoError(t, s.Seal(ctx, sh.arg(ms)))
			require.Equal(t, map[string]int{"Latest": 1, "Insert": 1, "LatestMany": 6, "InsertMany": 3}, st.took(),
				"the tenant's branch key once; per batch one lookup, one insert, one watermark check")
			require.Len(t, dekRows(t, st), n, "one DEK per subject")
			for i := range ms {
				require.NotEqual(t, want[i].Name, ms[i].Name)
				require.NotEqual(t, want[i].DOB, ms[i].DOB)
			}

			// Sealing again with a warm cache asks the store nothing.
			again := subscribers("acme", 0, n)
			require.NoError(t, s.Seal(ctx, sh.arg(again)))
			require.Empty(t, st.took())

			// A cold Sealer: one GetMany per batch, the branch key once.
			cold, err := envelope.New(kp, &envelope.Options{Store: st})
			require.NoError(t, err)
			got := slices.Clone(ms)
			require.NoError(t, cold.Open(ctx, sh.arg(got)))
			require.Equal(t, want, got)
			require.Equal(t, map[string]int{"Get": 1, "GetMany": 3}, st.took())

			// Resealing sealed records from a cold cache opens them first:
			// their keys come in one GetMany per batch as well.
			cold2, err := envelope.New(kp, &envelope.Options{Store: st})
			require.NoError(t, err)
			resealed := slices.Clone(ms)
			require.NoError(t, cold2.Seal(ctx, sh.arg(resealed)))
			require.Equal(t, ms, resealed, "sealing twice is a no-op")
			require.Equal(t, map[string]int{"Get": 1, "GetMany": 3}, st.took())
		})
	}
}

// Reading is a record without a data subject: its values use the
// tenant's time-bucketed DEK.
type Reading struct {
	Tenant string `pii:"tenant"`
	Value  string `pii:"health,encrypt"`
}

func TestSealSliceShapes(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	st := newCountStore()
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)

	t.Run("nothing to do", func(t *testing.T) {
		var none []Subscriber
		require.NoError(t, s.Seal(ctx, none))
		require.NoError(t, s.Seal(ctx, &none))
		require.NoError(t, s.Open(ctx, []*Subscriber{}))
		empty := []Subscriber{{Tenant: "acme", ID: "x"}} // no values
		require.NoError(t, s.Seal(ctx, empty))
		require.Empty(t, st.took())
	})
	t.Run("not records", func(t *testing.T) {
		for _, x := range []any{[]int{1}, &[]string{"a"}, [][]Subscriber{{}}} {
			require.ErrorContains(t, s.Seal(ctx, x), "envelope: need a pointer to a struct, or a slice of structs or of pointers to structs")
			require.ErrorContains(t, s.Open(ctx, x), "envelope: need a pointer to a struct, or a slice of structs or of pointers to structs")
		}
		ms := subscribers("acme", 0, 2)
		require.EqualError(t, s.Seal(ctx, []*Subscriber{&ms[0], nil, &ms[1]}), "envelope: record 1 of the slice is a nil pointer")
	})
	t.Run("empty subject", func(t *testing.T) {
		ms := subscribers("acme", 100, 3)
		ms[1].ID = ""
		err := s.Seal(ctx, ms)
		require.ErrorIs(t, err, envelope.ErrEmptySubject)
		var fe *pii.FieldError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "ID", fe.Path)
		require.Equal(t, "Name m000101", ms[1].Name, "the record is left as it was")
		require.Equal(t, "Name m000102", ms[2].Name, "records after it are left as they were")
		require.NotEqual(t, "Name m000100", ms[0].Name, "records before it are sealed")
	})
	t.Run("tenant scope", func(t *testing.T) {
		st.took()
		rs := make([]Reading, 300)
		for i := range rs {
			rs[i] = Reading{Tenant: "globex", Value: fmt.Sprint("reading ", i)}
		}
		require.NoError(t, s.Seal(ctx, rs))
		calls := st.took()
		require.Equal(t, 1, calls["InsertMany"])
		require.Equal(t, 1, calls["LatestMany"], "no watermark check for a tenant's own keys")
		require.Zero(t, calls["Get"]+calls["Insert"]-1, "the branch key of globex only")
		got := slices.Clone(rs)
		require.NoError(t, s.Open(ctx, got))
		require.Equal(t, "reading 299", got[299].Value)
	})
}

// TestSealSliceLoserUsesWinner: another process makes the first DEK of
// some of the batch's subjects between our lookup and our insert. Our
// insert loses for those; their values must be sealed under the stored
// (winner's) DEK, which the other process can open, and each subject keeps
// one DEK.
func TestSealSliceLoserUsesWinner(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	st := newCountStore()
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	other, err := envelope.New(kp, &envelope.Options{Store: st.KeyStore})
	require.NoError(t, err)
	theirs := subscribers("acme", 0, 10)
	st.before = func([]envelope.Record) {
		st.before = nil
		require.NoError(t, other.Seal(ctx, theirs)) // wins subjects 0-9
	}
	ms := subscribers("acme", 0, 50)
	require.NoError(t, s.Seal(ctx, ms))
	require.Len(t, dekRows(t, st), 50, "one DEK per subject")
	got := slices.Clone(ms)
	require.NoError(t, other.Open(ctx, got), "sealed under the DEKs the store holds")
	require.Equal(t, subscribers("acme", 0, 50), got)
	for i := range theirs {
		require.Equal(t, dekIDOf(t, theirs[i].Name), dekIDOf(t, ms[i].Name))
	}
}

// TestSealSliceForgetAfterInsert: a ForgetSubject in another process
// lands right after our insert and shreds a DEK we just made. The batch
// must not use it: the value is sealed under the next key generation and
// opens everywhere.
func TestSealSliceForgetAfterInsert(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	st := newCountStore()
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	other, err := envelope.New(kp, &envelope.Options{Store: st.KeyStore})
	require.NoError(t, err)
	st.after = func([]envelope.Record) {
		st.after = nil
		require.NoError(t, other.ForgetSubject(ctx, "acme", "m000003"))
	}
	ms := subscribers("acme", 0, 10)
	require.NoError(t, s.Seal(ctx, ms))
	require.Equal(t, uint32(2), dekIDOf(t, ms[3].Name), "a new generation above the shredded DEK")
	require.Equal(t, uint32(1), dekIDOf(t, ms[4].Name))
	fresh, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	got := slices.Clone(ms)
	require.NoError(t, fresh.Open(ctx, got))
	require.Equal(t, subscribers("acme", 0, 10), got)
}

// TestSealSliceForgetDuringLookup: a ForgetSubject in this process lands
// between the batch's lookup of a known subject's DEK and its caching.
// The batch must not cache the DEK it read before the forget: the value
// is sealed under the next key generation and opens everywhere.
func TestSealSliceForgetDuringLookup(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	st := &lookupHook{KeyStore: envelope.NewMemoryStore()}
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	other, err := envelope.New(kp, &envelope.Options{Store: st.KeyStore})
	require.NoError(t, err)
	require.NoError(t, other.Seal(ctx, subscribers("acme", 0, 10))) // the subjects have DEKs
	st.after = func() {
		st.after = nil
		require.NoError(t, s.ForgetSubject(ctx, "acme", "m000003"))
	}
	ms := subscribers("acme", 0, 10)
	require.NoError(t, s.Seal(ctx, ms))
	require.Equal(t, uint32(2), dekIDOf(t, ms[3].Name), "a new generation, not the DEK read before the forget")
	require.Equal(t, uint32(1), dekIDOf(t, ms[4].Name))
	fresh, err := envelope.New(kp, &envelope.Options{Store: st.KeyStore})
	require.NoError(t, err)
	got := slices.Clone(ms)
	require.NoError(t, fresh.Open(ctx, got))
	require.Equal(t, subscribers("acme", 0, 10), got)
}

// lookupHook runs after, once set, after a LatestMany.
type lookupHook struct {
	envelope.KeyStore
	after func()
}

func (l *lookupHook) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	rows, err := l.KeyStore.LatestMany(ctx, scopes)
	if l.after != nil {
		l.after()
	}
	return rows, err
}

// batchSwap is a KeyStore whose batch methods answer with rows other than
// the ones asked for: what someone who can write the key table can do.
type batchSwap struct {
	envelope.KeyStore
	latest func(asked []envelope.ScopeRef, rows []envelope.Record) []envelope.Record
	get    func(asked []envelope.KeyRef, rows []envelope.Record) []envelope.Record
	insert func(stored []envelope.Record, inserted []bool) ([]envelope.Record, []bool)
}

func (b *batchSwap) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	rows, err := b.KeyStore.LatestMany(ctx, scopes)
	if err == nil && b.latest != nil {
		rows = b.latest(scopes, rows)
	}
	return rows, err
}

func (b *batchSwap) GetMany(ctx context.Context, refs []envelope.KeyRef) ([]envelope.Record, error) {
	rows, err := b.KeyStore.GetMany(ctx, refs)
	if err == nil && b.get != nil {
		rows = b.get(refs, rows)
	}
	return rows, err
}

func (b *batchSwap) InsertMany(ctx context.Context, recs []envelope.Record) ([]envelope.Record, []bool, error) {
	stored, inserted, err := b.KeyStore.InsertMany(ctx, recs)
	if err == nil && b.insert != nil {
		stored, inserted = b.insert(stored, inserted)
	}
	return stored, inserted, err
}

// TestBatchRowsCheckedAgainstRequest: every row a batch method returns
// must be one asked for, once, with the fields asked for; a store that
// answers with another subject's or tenant's row, a row not asked for, a
// repeat, or results out of order makes the Seal or Open fail with
// ErrDecrypt before any value is sealed or opened, and a row relabelled
// as the one asked for does not unwrap.
func TestBatchRowsCheckedAgainstRequest(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	// Each case starts from the same stored keys: subjects 0-3 of acme
	// and subject 0 of globex have DEKs (the same rows every time, so the
	// cases' closures can name them).
	seed := envelope.NewMemoryStore()
	setup, err := envelope.New(kp, &envelope.Options{Store: seed})
	require.NoError(t, err)
	known := subscribers("acme", 0, 4)
	require.NoError(t, setup.Seal(ctx, known))
	gknown := subscribers("globex", 0, 1)
	require.NoError(t, setup.Seal(ctx, gknown))
	fresh := func() envelope.KeyStore {
		st := envelope.NewMemoryStore()
		for _, kind := range []envelope.Kind{envelope.KindBranch, envelope.KindDEK} {
			recs, err := seed.List(ctx, kind, envelope.KeyRef{}, 0)
			require.NoError(t, err)
			_, _, err = st.InsertMany(ctx, recs)
			require.NoError(t, err)
		}
		return st
	}
	row := func(tenant string, i int) envelope.Record {
		r, err := seed.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: tenant, Scope: fmt.Sprintf("s:m%06d", i), ID: 1})
		require.NoError(t, err)
		return r
	}
	isDEKOf := func(r envelope.Record, i int) bool {
		return r.Kind == envelope.KindDEK && r.Scope == fmt.Sprintf("s:m%06d", i)
	}
	replace := func(rows []envelope.Record, i int, with envelope.Record) []envelope.Record {
		for j := range rows {
			if isDEKOf(rows[j], i) && rows[j].Tenant == "acme" {
				rows[j] = with
			}
		}
		return rows
	}
	relabel := func(r envelope.Record, tenant string, i int) envelope.Record {
		r.Tenant, r.Scope = tenant, fmt.Sprintf("s:m%06d", i)
		return r
	}
	seals := []struct {
		name string
		sw   batchSwap
	}{
		{"LatestMany: another subject's row", batchSwap{latest: func(_ []envelope.ScopeRef, rows []envelope.Record) []envelope.Record {
			return replace(rows, 1, row("acme", 2))
		}}},
		{"LatestMany: another tenant's row", batchSwap{latest: func(_ []envelope.ScopeRef, rows []envelope.Record) []envelope.Record {
			return replace(rows, 0, row("globex", 0))
		}}},
		{"LatestMany: a row not asked for", batchSwap{latest: func(_ []envelope.ScopeRef, rows []envelope.Record) []envelope.Record {
			return append(rows, row("globex", 0))
		}}},
		{"LatestMany: a DEK with id 0", batchSwap{latest: func(_ []envelope.ScopeRef, rows []envelope.Record) []envelope.Record {
			r := row("acme", 1)
			r.ID = 0
			return replace(rows, 1, r)
		}}},
		{"LatestMany: a row twice", batchSwap{latest: func(_ []envelope.ScopeRef, rows []envelope.Record) []envelope.Record {
			return append(rows, rows[0])
		}}},
		{"InsertMany: fewer results", batchSwap{insert: func(s []envelope.Record, in []bool) ([]envelope.Record, []bool) {
			return s[:len(s)-1], in[:len(in)-1]
		}}},
		{"InsertMany: inserted under another KeyRef", batchSwap{insert: func(s []envelope.Record, in []bool) ([]envelope.Record, []bool) {
			s[0].ID++
			return s, in
		}}},
		{"InsertMany: results out of order", batchSwap{insert: func(s []envelope.Record, in []bool) ([]envelope.Record, []bool) {
			slices.Reverse(s)
			slices.Reverse(in)
			return s, in
		}}},
		{"InsertMany: inserted, but another row", batchSwap{insert: func(s []envelope.Record, in []bool) ([]envelope.Record, []bool) {
			s[0].Wrapped = row("acme", 1).Wrapped
			return s, in
		}}},
		{"InsertMany: not inserted, another subject's row relabelled", batchSwap{insert: func(s []envelope.Record, in []bool) ([]envelope.Record, []bool) {
			s[0] = relabel(row("acme", 1), s[0].Tenant, 10)
			in[0] = false
			return s, in
		}}},
	}
	for _, tc := range seals {
		t.Run("seal/"+tc.name, func(t *testing.T) {
			sw := tc.sw
			sw.KeyStore = fresh()
			s, err := envelope.New(kp, &envelope.Options{Store: &sw})
			require.NoError(t, err)
			ms := append(subscribers("acme", 0, 4), subscribers("acme", 10, 4)...) // known subjects and new ones
			err = s.Seal(ctx, ms)
			require.ErrorIs(t, err, envelope.ErrDecrypt)
			require.Equal(t, append(subscribers("acme", 0, 4), subscribers("acme", 10, 4)...), ms, "nothing sealed")
		})
	}
	t.Run("seal/LatestMany: a row relabelled as the one asked for", func(t *testing.T) {
		sw := batchSwap{KeyStore: fresh(), latest: func(_ []envelope.ScopeRef, rows []envelope.Record) []envelope.Record {
			return replace(rows, 1, relabel(row("acme", 2), "acme", 1))
		}}
		s, err := envelope.New(kp, &envelope.Options{Store: &sw})
		require.NoError(t, err)
		ms := subscribers("acme", 0, 4)
		require.ErrorIs(t, s.Seal(ctx, ms), envelope.ErrDecrypt, "the wrap is bound to the request, not the row")
		require.Equal(t, subscribers("acme", 0, 4), ms)
	})

	opens := []struct {
		name string
		sw   batchSwap
	}{
		{"GetMany: a row not asked for", batchSwap{get: func(_ []envelope.KeyRef, rows []envelope.Record) []envelope.Record {
			return append(rows, row("globex", 0))
		}}},
		{"GetMany: another tenant's row", batchSwap{get: func(_ []envelope.KeyRef, rows []envelope.Record) []envelope.Record {
			return replace(rows, 0, row("globex", 0))
		}}},
		{"GetMany: a row twice", batchSwap{get: func(_ []envelope.KeyRef, rows []envelope.Record) []envelope.Record {
			return append(rows, rows[len(rows)-1])
		}}},
	}
	for _, tc := range opens {
		t.Run("open/"+tc.name, func(t *testing.T) {
			sw := tc.sw
			sw.KeyStore = fresh()
			s, err := envelope.New(kp, &envelope.Options{Store: &sw})
			require.NoError(t, err)
			got := slices.Clone(known)
			require.ErrorIs(t, s.Open(ctx, got), envelope.ErrDecrypt)
			require.Equal(t, known, got, "nothing opened")
		})
	}
	t.Run("open/GetMany: a row relabelled as the one asked for", func(t *testing.T) {
		// It does not unwrap, so the batch leaves it; the value's own
		// lookup reads the right row.
		sw := batchSwap{KeyStore: fresh(), get: func(_ []envelope.KeyRef, rows []envelope.Record) []envelope.Record {
			return replace(rows, 1, relabel(row("acme", 2), "acme", 1))
		}}
		s, err := envelope.New(kp, &envelope.Options{Store: &sw})
		require.NoError(t, err)
		got := slices.Clone(known)
		require.NoError(t, s.Open(ctx, got))
		require.Equal(t, subscribers("acme", 0, 4), got)
	})
}
