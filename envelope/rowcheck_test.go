package envelope_test

import (
	"context"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

// swapStore is a KeyStore that answers some requests with another row:
// what someone who can write the key table can do.
type swapStore struct {
	envelope.KeyStore
	mu sync.Mutex
	// swap, when it returns ok, replaces the row returned for a request.
	// op is "get", "latest" or "insert"; asked has ID 0 for latest.
	swap func(op string, asked envelope.KeyRef) (envelope.Record, bool)
	// list, when set, replaces List's rows.
	list func(kind envelope.Kind, rows []envelope.Record) []envelope.Record
}

func (s *swapStore) sub(op string, asked envelope.KeyRef) (envelope.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.swap == nil {
		return envelope.Record{}, false
	}
	return s.swap(op, asked)
}

func (s *swapStore) Get(ctx context.Context, ref envelope.KeyRef) (envelope.Record, error) {
	if r, ok := s.sub("get", ref); ok {
		return r, nil
	}
	return s.KeyStore.Get(ctx, ref)
}

func (s *swapStore) Latest(ctx context.Context, kind envelope.Kind, tenant, scope string) (envelope.Record, error) {
	if r, ok := s.sub("latest", envelope.KeyRef{Kind: kind, Tenant: tenant, Scope: scope}); ok {
		return r, nil
	}
	return s.KeyStore.Latest(ctx, kind, tenant, scope)
}

func (s *swapStore) Insert(ctx context.Context, rec envelope.Record) (envelope.Record, bool, error) {
	stored, inserted, err := s.KeyStore.Insert(ctx, rec)
	if r, ok := s.sub("insert", rec.KeyRef); ok && err == nil {
		return r, inserted, nil
	}
	return stored, inserted, err
}

func (s *swapStore) List(ctx context.Context, kind envelope.Kind, after envelope.KeyRef, limit int) ([]envelope.Record, error) {
	rows, err := s.KeyStore.List(ctx, kind, after, limit)
	if err == nil && s.list != nil {
		rows = s.list(kind, rows)
	}
	return rows, err
}

func dek(tenant, subject string, id uint32) envelope.KeyRef {
	return envelope.KeyRef{Kind: envelope.KindDEK, Tenant: tenant, Scope: "s:" + subject, ID: id}
}

func branch(tenant string, v uint32) envelope.KeyRef {
	return envelope.KeyRef{Kind: envelope.KindBranch, Tenant: tenant, ID: v}
}

// dekIDOf returns the DEK id a v1 text ciphertext names.
func dekIDOf(t *testing.T, ct string) uint32 {
	t.Helper()
	require.Equal(t, "pii1.", ct[:5])
	b, err := base64.RawURLEncoding.DecodeString(ct[5:])
	require.NoError(t, err)
	return uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// rowWorld is a key store holding keys for alice and bob in acme and for
// alice in globex (subject ids repeat across tenants), two DEKs for acme's
// alice, two branch versions in acme, search roots and a forgotten
// subject, with a value sealed under each.
type rowWorld struct {
	kp    keyprovider.KeyProvider
	store envelope.KeyStore
	ct    map[string]string // by name
	b     map[string]envelope.Binding
}

func newRowWorld(t *testing.T) *rowWorld {
	ctx := context.Background()
	w := &rowWorld{kp: newKP(), store: envelope.NewMemoryStore(), ct: map[string]string{}, b: map[string]envelope.Binding{}}
	s, err := envelope.New(w.kp, &envelope.Options{Store: w.store, Cache: envelope.CacheLimits{MaxMessages: 1}})
	require.NoError(t, err)
	seal := func(name, tenant, subject string) {
		b := envelope.Binding{Tenant: tenant, Type: "Customer", Field: "Name", Record: name, Subject: subject}
		ct, err := s.EncryptString(ctx, "value of "+name, b)
		require.NoError(t, err)
		w.ct[name], w.b[name] = ct, b
	}
	seal("alice1", "acme", "alice") // acme/s:alice DEK 1, branch 1
	seal("bob", "acme", "bob")
	seal("galice", "globex", "alice")
	_, err = s.RotateBranchKey(ctx, "acme")
	require.NoError(t, err)
	seal("alice2", "acme", "alice") // DEK 2 under branch 2
	seal("dave", "acme", "dave")
	require.NoError(t, s.ForgetSubject(ctx, "acme", "dave"))
	for _, tenant := range []string{"acme", "globex"} {
		b := envelope.Binding{Tenant: tenant, Type: "Customer", Field: "Email"}
		det, err := s.EncryptDeterministic(ctx, "alice@example.com", b)
		require.NoError(t, err)
		w.ct["det-"+tenant], w.b["det-"+tenant] = det, b
	}
	require.Equal(t, uint32(1), dekIDOf(t, w.ct["alice1"]))
	require.Equal(t, uint32(2), dekIDOf(t, w.ct["alice2"]))
	return w
}

func (w *rowWorld) row(t *testing.T, ref envelope.KeyRef) envelope.Record {
	t.Helper()
	r, err := w.store.Get(context.Background(), ref)
	require.NoError(t, err, "%+v", ref)
	return r
}

// TestKeyRowsCheckedAgainstRequest: every row a KeyStore returns must be
// the one asked for (kind, tenant, scope, id); a store serving another
// subject's, tenant's, id's or kind's row makes Open fail with ErrDecrypt
// and Seal fail, never open a value or seal one under the wrong key.
func TestKeyRowsCheckedAgainstRequest(t *testing.T) {
	ctx := context.Background()
	tomb := func(tenant, subject string) envelope.KeyRef {
		return envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: tenant, Scope: "s:" + subject}
	}
	latestOf := func(r envelope.KeyRef) envelope.KeyRef { r.ID = 0; return r }
	cases := []struct {
		name  string
		swap  func(t *testing.T, w *rowWorld) (op string, asked envelope.KeyRef, with envelope.Record)
		open  string // value whose Open must fail
		seal  string // binding whose new Seal must fail
		bytes bool   // also check the error says which check failed
	}{
		{"get dek: another subject's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", dek("acme", "alice", 1), w.row(t, dek("acme", "bob", 1))
		}, "alice1", "", true},
		{"get dek: another tenant's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", dek("acme", "alice", 1), w.row(t, dek("globex", "alice", 1))
		}, "alice1", "", true},
		{"get dek: another id", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", dek("acme", "alice", 1), w.row(t, dek("acme", "alice", 2))
		}, "alice1", "", true},
		{"get dek: another kind", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", dek("acme", "alice", 1), w.row(t, branch("acme", 1))
		}, "alice1", "", true},
		{"latest dek: another subject's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", latestOf(dek("acme", "alice", 0)), w.row(t, dek("acme", "bob", 1))
		}, "", "alice1", true},
		{"latest dek: another tenant's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", latestOf(dek("acme", "alice", 0)), w.row(t, dek("globex", "alice", 1))
		}, "", "alice1", true},
		{"latest dek: another kind", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", latestOf(dek("acme", "alice", 0)), w.row(t, branch("acme", 2))
		}, "", "alice1", true},
		{"insert dek: another subject's row back", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "insert", dek("acme", "carol", 1), w.row(t, dek("acme", "bob", 1))
		}, "", "carol", true},
		{"insert dek: another id back", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			// dave was forgotten at watermark 1: his next DEK is 2.
			r := w.row(t, dek("acme", "alice", 1))
			r.KeyRef = dek("acme", "dave", 1)
			return "insert", dek("acme", "dave", 2), r
		}, "", "dave", true},
		{"get branch: another tenant's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", branch("acme", 1), w.row(t, branch("globex", 1))
		}, "alice1", "", true},
		{"get branch: another version", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", branch("acme", 1), w.row(t, branch("acme", 2))
		}, "alice1", "", true},
		{"latest branch: another tenant's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme"}, w.row(t, branch("globex", 1))
		}, "", "carol", true},
		{"latest branch: another kind", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme"}, w.row(t, dek("acme", "alice", 2))
		}, "", "carol", true},
		{"insert branch: another tenant's row back", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "insert", branch("initech", 1), w.row(t, branch("acme", 1))
		}, "", "initech", true},
		{"get search root: another tenant's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "acme", ID: 1},
				w.row(t, envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "globex", ID: 1})
		}, "det-acme", "", true},
		{"get search root: another kind", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "get", envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "acme", ID: 1}, w.row(t, branch("acme", 1))
		}, "det-acme", "", true},
		{"insert search root: another tenant's row back", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "insert", envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "initech", ID: 1},
				w.row(t, envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "acme", ID: 1})
		}, "", "det-initech", true},
		{"latest tombstone: another subject's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", tomb("acme", "alice"), w.row(t, envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: "acme", Scope: "s:dave", ID: 1})
		}, "", "alice1", true},
		{"latest tombstone: another tenant's", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", tomb("globex", "dave"), w.row(t, envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: "acme", Scope: "s:dave", ID: 1})
		}, "", "gdave", true},
		{"latest dek: the scope's tombstone", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", latestOf(dek("acme", "dave", 0)), w.row(t, envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: "acme", Scope: "s:dave", ID: 1})
		}, "", "dave", true},
		{"latest tombstone: the scope's DEK", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", tomb("acme", "alice"), w.row(t, dek("acme", "alice", 2))
		}, "", "alice1", true},
		{"latest branch: version 0", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			r := w.row(t, branch("acme", 1))
			r.ID = 0
			return "latest", envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme"}, r
		}, "", "carol", true},
		{"latest tombstone: another kind (reading a shredded value)", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			return "latest", tomb("acme", "dave"), w.row(t, dek("acme", "alice", 2))
		}, "dave", "", true},
		// Rows relabelled as the one asked for: the associated data of the
		// unwrap, built from the request, catches them.
		{"get dek: another subject's, relabelled", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			r := w.row(t, dek("acme", "bob", 1))
			r.KeyRef = dek("acme", "alice", 1)
			return "get", r.KeyRef, r
		}, "alice1", "", false},
		{"get dek: another id, relabelled", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			r := w.row(t, dek("acme", "alice", 2))
			r.KeyRef = dek("acme", "alice", 1)
			return "get", r.KeyRef, r
		}, "alice1", "", false},
		{"latest dek: an older id relabelled as newest", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			r := w.row(t, dek("acme", "alice", 1))
			r.KeyRef = dek("acme", "alice", 2)
			return "latest", latestOf(r.KeyRef), r
		}, "", "alice1", false},
		{"get branch: another tenant's, relabelled", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			r := w.row(t, branch("globex", 1))
			r.KeyRef = branch("acme", 1)
			return "get", r.KeyRef, r
		}, "alice1", "", false},
		{"get search root: another tenant's, relabelled", func(t *testing.T, w *rowWorld) (string, envelope.KeyRef, envelope.Record) {
			r := w.row(t, envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "globex", ID: 1})
			r.KeyRef = envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "acme", ID: 1}
			return "get", r.KeyRef, r
		}, "det-acme", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newRowWorld(t)
			op, asked, with := tc.swap(t, w)
			st := &swapStore{KeyStore: w.store}
			hits := 0
			st.swap = func(o string, a envelope.KeyRef) (envelope.Record, bool) {
				if o == op && a == asked {
					hits++
					return with, true
				}
				return envelope.Record{}, false
			}
			// A fresh Sealer: every key comes from the store.
			s, err := envelope.New(w.kp, &envelope.Options{Store: st})
			require.NoError(t, err)
			check := func(err error) {
				t.Helper()
				require.Error(t, err)
				require.NotErrorIs(t, err, envelope.ErrShredded)
				if tc.bytes {
					require.ErrorContains(t, err, "key store returned a record other than the one asked for")
				}
			}
			if tc.open != "" {
				b := w.b[tc.open]
				pt, err := s.DecryptString(ctx, w.ct[tc.open], b)
				require.ErrorIs(t, err, envelope.ErrDecrypt)
				require.Empty(t, pt)
				check(err)
			}
			if tc.seal != "" {
				var err error
				var ct string
				switch tc.seal {
				case "det-initech":
					ct, err = s.EncryptDeterministic(ctx, "x", envelope.Binding{Tenant: "initech", Type: "Customer", Field: "Email"})
				case "initech":
					ct, err = s.EncryptString(ctx, "x", envelope.Binding{Tenant: "initech", Type: "Customer", Field: "Name", Subject: "erin"})
				case "gdave":
					ct, err = s.EncryptString(ctx, "x", envelope.Binding{Tenant: "globex", Type: "Customer", Field: "Name", Subject: "dave"})
				case "dave":
					ct, err = s.EncryptString(ctx, "x", envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Subject: "dave"})
				case "carol":
					ct, err = s.EncryptString(ctx, "x", envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Subject: "carol"})
				default:
					ct, err = s.EncryptString(ctx, "x", w.b[tc.seal])
				}
				require.Empty(t, ct)
				check(err)
			}
			require.Positive(t, hits, "the substituted request was made")
		})
	}
}

// TestRewrapChecksListedRows: a store listing rows of another kind, or
// going back, stops a rewrap job with an error.
func TestRewrapChecksListedRows(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		list func(kind envelope.Kind, rows []envelope.Record) []envelope.Record
	}{
		{"another kind", func(kind envelope.Kind, rows []envelope.Record) []envelope.Record {
			for i := range rows {
				rows[i].Kind = envelope.KindSearch
			}
			return rows
		}},
		{"going back", func(kind envelope.Kind, rows []envelope.Record) []envelope.Record {
			if len(rows) > 1 {
				rows[0], rows[1] = rows[1], rows[0]
			}
			return rows
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRowWorld(t)
			s, err := envelope.New(w.kp, &envelope.Options{Store: &swapStore{KeyStore: w.store, list: tc.list}})
			require.NoError(t, err)
			_, err = s.RewrapDEKs(ctx, envelope.RewrapOptions{})
			require.ErrorContains(t, err, "key store returned a record other than the one asked for")
			_, err = s.RewrapBranchKeys(ctx, envelope.RewrapOptions{})
			require.ErrorContains(t, err, "key store returned a record other than the one asked for")
		})
	}
}

// adBlindKP is a key provider that ignores associated data, as a
// misconfigured KMS may: branch keys can then be copied between tenants.
type adBlindKP struct{ keyprovider.KeyProvider }

func (k adBlindKP) Wrap(ctx context.Context, key, _ []byte) ([]byte, keyprovider.KeyID, error) {
	return k.KeyProvider.Wrap(ctx, key, nil)
}

func (k adBlindKP) Unwrap(ctx context.Context, wrapped, _ []byte) ([]byte, error) {
	return k.KeyProvider.Unwrap(ctx, wrapped, nil)
}

// TestDEKRowCopiedDoesNotOpen: a DEK row copied to another tenant under the
// same branch key, or to another subject, or to another id, does not
// unwrap: the wrap's associated data binds tenant, scope and id. Without
// that, the copy would let one key serve two subjects, so shredding one
// would destroy the other's values and leave its own readable.
func TestDEKRowCopiedDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		to   envelope.KeyRef
		b    envelope.Binding // a new value sealed there would use the copy
	}{
		{"another tenant, same branch key", dek("globex", "alice", 1), envelope.Binding{Tenant: "globex", Type: "T", Field: "F", Subject: "alice"}},
		{"another subject", dek("acme", "bob", 1), envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Subject: "bob"}},
		{"another id", dek("acme", "alice", 2), envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Subject: "alice"}},
		{"another branch version with the same key", dek("acme", "alice", 1), envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Subject: "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kp := adBlindKP{newKP()}
			store := envelope.NewMemoryStore()
			s, err := envelope.New(kp, &envelope.Options{Store: store})
			require.NoError(t, err)
			ab := envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r", Subject: "alice"}
			ct, err := s.EncryptString(ctx, "alice's value", ab)
			require.NoError(t, err)
			// The attacker copies acme's branch key to globex (the KMS
			// does not bind the tenant, so it unwraps there too) and
			// alice's DEK row to the target.
			br, err := store.Get(ctx, branch("acme", 1))
			require.NoError(t, err)
			br.KeyRef = branch("globex", 1)
			_, _, err = store.Insert(ctx, br)
			require.NoError(t, err)
			d, err := store.Get(ctx, dek("acme", "alice", 1))
			require.NoError(t, err)
			if tc.to == d.KeyRef {
				// Same DEK row, claimed to be wrapped by branch version 2,
				// a copy of version 1 (the same key).
				br, err := store.Get(ctx, branch("acme", 1))
				require.NoError(t, err)
				br.KeyRef = branch("acme", 2)
				_, _, err = store.Insert(ctx, br)
				require.NoError(t, err)
				nd := d
				nd.Parent = 2
				require.NoError(t, store.Replace(ctx, d, nd))
				fresh, err := envelope.New(kp, &envelope.Options{Store: store})
				require.NoError(t, err)
				_, err = fresh.DecryptString(ctx, ct, ab)
				require.ErrorIs(t, err, envelope.ErrDecrypt, "the wrap binds its branch version")
				return
			}
			d.KeyRef = tc.to
			_, inserted, err := store.Insert(ctx, d)
			require.NoError(t, err)
			require.True(t, inserted)

			fresh, err := envelope.New(kp, &envelope.Options{Store: store})
			require.NoError(t, err)
			// Alice's value still opens where it belongs ...
			pt, err := fresh.DecryptString(ctx, ct, ab)
			require.NoError(t, err)
			require.Equal(t, "alice's value", pt)
			// ... and the copy neither seals new values ...
			out, err := fresh.EncryptString(ctx, "new value", tc.b)
			require.ErrorIs(t, err, envelope.ErrDecrypt, "the copied row must not unwrap")
			require.Empty(t, out)
			// ... nor opens alice's value where it was copied to (the
			// DEK ids match, so only the wrap's binding stands between).
			moved := ab
			moved.Tenant, moved.Subject = tc.to.Tenant, tc.to.Scope[2:]
			if tc.to.ID == 1 {
				_, err = fresh.DecryptString(ctx, ct, moved)
				require.ErrorIs(t, err, envelope.ErrDecrypt)
			}
		})
	}
}

// TestLatestBranchNeverGoesBack: once a Sealer used branch version n of a
// tenant, a Latest that answers with an older version is refused.
func TestLatestBranchNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	w := newRowWorld(t)
	st := &swapStore{KeyStore: w.store}
	clk := piitest.NewClock(time.Now())
	s, err := envelope.New(w.kp, &envelope.Options{Clock: clk, Store: st, Cache: envelope.CacheLimits{MaxAge: time.Minute}})
	require.NoError(t, err)
	carol := envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Name", Subject: "carol"}
	_, err = s.EncryptString(ctx, "x", carol) // a new DEK under branch 2
	require.NoError(t, err)
	older := w.row(t, branch("acme", 1))
	st.mu.Lock()
	st.swap = func(op string, asked envelope.KeyRef) (envelope.Record, bool) {
		return older, op == "latest" && asked.Kind == envelope.KindBranch
	}
	st.mu.Unlock()
	clk.Add(2 * time.Minute)
	erin := carol
	erin.Subject = "erin"
	ct, err := s.EncryptString(ctx, "x", erin) // a new DEK: asks for the newest branch
	require.ErrorContains(t, err, "key store returned a record other than the one asked for")
	require.Empty(t, ct)
}

// TestKeyRowCopiedToAnotherTenantDoesNotUnwrap: a branch key or search
// root row copied to another tenant (or branch version) does not unwrap
// there: the key provider's associated data binds tenant and version.
// Without that, one tenant's keys would serve another.
func TestKeyRowCopiedToAnotherTenantDoesNotUnwrap(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		from, to envelope.KeyRef
		use      func(s *envelope.Sealer) error
	}{
		{"branch key to another tenant", branch("acme", 1), branch("initech", 1), func(s *envelope.Sealer) error {
			_, err := s.EncryptString(ctx, "x", envelope.Binding{Tenant: "initech", Type: "T", Field: "F", Subject: "erin"})
			return err
		}},
		{"branch key to a newer version", branch("acme", 1), branch("acme", 3), func(s *envelope.Sealer) error {
			_, err := s.EncryptString(ctx, "x", envelope.Binding{Tenant: "acme", Type: "T", Field: "F", Subject: "erin"})
			return err
		}},
		{"search root to another tenant",
			envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "acme", ID: 1},
			envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "initech", ID: 1},
			func(s *envelope.Sealer) error {
				_, err := s.BlindIndex(ctx, "initech", (*Customer)(nil), "Email", "alice@example.com")
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRowWorld(t)
			r := w.row(t, tc.from)
			r.KeyRef = tc.to
			_, inserted, err := w.store.Insert(ctx, r)
			require.NoError(t, err)
			require.True(t, inserted)
			s, err := envelope.New(w.kp, &envelope.Options{Store: w.store})
			require.NoError(t, err)
			require.ErrorIs(t, tc.use(s), envelope.ErrDecrypt)
		})
	}
}

// shortKP unwraps to a 16-byte key: a key provider (or a tampered
// wrapped key) that yields a key of the wrong length is refused, never
// used as an AES-128 key.
type shortKP struct{ *testkp.Provider }

func (k shortKP) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	key, err := k.Provider.Unwrap(ctx, wrapped, ad)
	if err != nil {
		return nil, err
	}
	return key[:16], nil
}

func TestUnwrapWrongKeyLength(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	ct, err := s.EncryptString(ctx, "v", aliceB)
	require.NoError(t, err)
	_, err = s.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", "x")
	require.NoError(t, err)
	short, err := envelope.New(shortKP{kp}, &envelope.Options{Store: store})
	require.NoError(t, err)
	_, err = short.DecryptString(ctx, ct, aliceB)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	_, err = short.EncryptString(ctx, "v", aliceB)
	require.ErrorIs(t, err, envelope.ErrDecrypt)
	_, err = short.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", "x")
	require.ErrorIs(t, err, envelope.ErrDecrypt)
}

// TestLatestDEKNeverGoesBack: once a Sealer used DEK n of a scope, a
// Latest that answers with an older DEK of the same scope (a rollback of
// the key table, which would reuse a key past its message limit) is
// refused.
func TestLatestDEKNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	w := newRowWorld(t)
	st := &swapStore{KeyStore: w.store}
	clk := piitest.NewClock(time.Now())
	s, err := envelope.New(w.kp, &envelope.Options{Clock: clk, Store: st, Cache: envelope.CacheLimits{MaxAge: time.Minute}})
	require.NoError(t, err)
	ct, err := s.EncryptString(ctx, "x", w.b["alice1"])
	require.NoError(t, err)
	require.Equal(t, uint32(2), dekIDOf(t, ct))
	older := w.row(t, dek("acme", "alice", 1))
	st.mu.Lock()
	st.swap = func(op string, asked envelope.KeyRef) (envelope.Record, bool) {
		return older, op == "latest" && asked.Kind == envelope.KindDEK
	}
	st.mu.Unlock()
	clk.Add(2 * time.Minute) // the cached DEK expired: Latest is asked again
	ct, err = s.EncryptString(ctx, "x", w.b["alice1"])
	require.ErrorContains(t, err, "key store returned a record other than the one asked for")
	require.Empty(t, ct)
}
