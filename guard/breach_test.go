package guard

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
)

// Two tenants; the answers are known: which subjects each compromised key
// exposes, and through which fields.
func TestBreachReport(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		st := registerStores(t, f)
		for _, id := range []string{"acme/c1", "acme/c2", "globex/c1"} {
			tenant, sub := id[:len(id)-3], id[len(id)-2:]
			c := newCust(tenant, sub)
			require.NoError(t, f.g.Protect(ctx, &c))
			st.put(t, &c)
			k := gticket{ID: "t" + sub[1:], Customer: sub, Tenant: tenant, Body: "hello", CreatedAt: t0}
			require.NoError(t, f.g.Protect(ctx, &k))
			st.put(t, &k)
		}
		report := func(c Compromised) Breach {
			raw, err := f.g.BreachReport(ctx, c)
			require.NoError(t, err)
			var b Breach
			require.NoError(t, json.Unmarshal(raw, &b))
			require.Equal(t, BreachFormat, b.Format)
			return b
		}
		dekFields := []BreachField{
			{Type: "gcust", Field: "Name", Category: "name", Via: viaDEK, Scope: "subjects"},
			{Type: "gcust", Field: "Email", Category: "email", Via: viaDEK, Scope: "subjects"},
			{Type: "gcust", Field: "DOB", Category: "dob", Via: viaDEK, Scope: "subjects"},
			{Type: "gticket", Field: "Body", Category: "free_text", Via: viaDEK, Scope: "subjects"},
			{Type: "gticket", Field: "Invoice", Category: "financial", Via: viaDEK, Scope: "subjects"},
		}

		// One data key: one subject of one tenant.
		dek, err := f.g.keys.Latest(ctx, envelope.KindDEK, "acme", "s:c1")
		require.NoError(t, err)
		b := report(Compromised{Key: &envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:c1", ID: dek.ID}})
		require.Len(t, b.Tenants, 1)
		require.Equal(t, "acme", b.Tenants[0].Tenant)
		require.Equal(t, 1, b.Tenants[0].SubjectCount)
		require.Equal(t, []string{"c1"}, b.Tenants[0].Subjects)
		require.False(t, b.Tenants[0].AllSubjects)
		require.Equal(t, dekFields, b.Tenants[0].Fields)
		require.Equal(t, []string{"dob", "email", "financial", "free_text", "name"}, b.Categories)
		require.Empty(t, b.Secrets)

		// acme's branch key: both acme subjects, no globex one.
		b = report(Compromised{Key: &envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme", ID: 1}})
		require.Len(t, b.Tenants, 1)
		require.Equal(t, []string{"c1", "c2"}, b.Tenants[0].Subjects)
		require.Equal(t, 2, b.Tenants[0].DEKs)
		require.Equal(t, []uint32{1}, b.Tenants[0].BranchKeys)
		b = report(Compromised{Key: &envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "globex", ID: 1}})
		require.Equal(t, []string{"c1"}, b.Tenants[0].Subjects)
		require.Equal(t, "globex", b.Tenants[0].Tenant)

		// What names no branch key or data key is refused.
		kid := f.kp.Primary()
		for name, c := range map[string]Compromised{
			"nothing":       {},
			"two keys":      {KMSKey: &kid, Key: &envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme", ID: 1}},
			"search key":    {Key: &envelope.KeyRef{Kind: envelope.KindSearch, Tenant: "acme", ID: 1}},
			"tombstone":     {Key: &envelope.KeyRef{Kind: envelope.KindTombstone, Tenant: "acme", Scope: "s:c1"}},
			"branch scope":  {Key: &envelope.KeyRef{Kind: envelope.KindBranch, Tenant: "acme", Scope: "s:c1", ID: 1}},
			"dek bad scope": {Key: &envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "c1", ID: 1}},
		} {
			_, err := f.g.BreachReport(ctx, c)
			require.ErrorContains(t, err, "guard: BreachReport", name)
		}

		// The KMS key wraps everything: every tenant, the search roots
		// (the blind-indexed e-mail of every subject) and the secrets
		// (every token field).
		b = report(Compromised{KMSKey: ptrTo(f.kp.Primary())})
		require.True(t, b.AllTenants)
		require.Equal(t, []string{"ledger key", "pseudonym key", "tokenizer root key"}, b.Secrets)
		require.Len(t, b.Tenants, 2)
		for i, tn := range []string{"acme", "globex"} {
			bt := b.Tenants[i]
			require.Equal(t, tn, bt.Tenant)
			require.True(t, bt.AllSubjects)
			require.True(t, bt.SearchRoot)
			vias := map[string][]string{}
			for _, fd := range bt.Fields {
				vias[fd.Via] = append(vias[fd.Via], fd.Type+"."+fd.Field)
			}
			require.Equal(t, []string{"gcust.Email"}, vias[viaSearch])
			require.Equal(t, []string{"gcust.Phone", "gcust.Card", "gcust.Handle", "gcust.Alt", "gticket.Ref"}, vias[viaTokenizer])
		}
		require.Equal(t, []string{"c1", "c2"}, b.Tenants[0].Subjects)
		require.Equal(t, []string{"c1"}, b.Tenants[1].Subjects)

		// Another key's version exposes nothing here.
		other := f.kp.Primary()
		other.Version = "999"
		b = report(Compromised{KMSKey: &other})
		require.Empty(t, b.Tenants)
		require.Empty(t, b.Secrets)

		_, err = f.g.BreachReport(ctx, Compromised{})
		require.Error(t, err)
	})
}

func ptrTo[T any](v T) *T { return &v }
