package guard

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention"
)

// Export returns what is held about one tenant's subject, opened, in a
// fixed shape; another tenant's subject with the same id is not in it;
// every value is audited.
func TestExportGolden(t *testing.T) {
	eachGuard(t, nil, func(t *testing.T, f *gfix) {
		ctx := context.Background()
		st := registerStores(t, f)
		for _, tenant := range []string{"acme", "globex"} {
			c := newCust(tenant, "c1")
			c.Name = "Ada of " + tenant
			require.NoError(t, f.g.Protect(ctx, &c))
			st.put(t, &c)
			k := gticket{ID: "t1", Customer: "c1", Tenant: tenant, Body: "refund please", Ref: "REFAB12", CreatedAt: t0}
			require.NoError(t, f.g.Protect(ctx, &k))
			st.put(t, &k)
		}
		other := newCust("acme", "c2")
		require.NoError(t, f.g.Protect(ctx, &other))
		st.put(t, &other)

		viewer := mask.Viewer{ID: "dpo-1", Role: "dpo", Channel: mask.ChannelSecureChat}
		raw, err := f.g.Export(ctx, viewer, "acme", "c1")
		require.NoError(t, err)
		var doc Export
		require.NoError(t, json.Unmarshal(raw, &doc))
		require.Equal(t, ExportFormat, doc.Format)
		require.Equal(t, "acme", doc.Tenant)
		require.Equal(t, "c1", doc.Subject)
		require.Equal(t, t0, doc.GeneratedAt)

		type row struct {
			Src, Category, Value string
			Status               string
		}
		var got []row
		for _, it := range doc.Items {
			v, _ := it.Value.(string)
			if it.Status == statusPseudonym {
				v = "(pseudonym)"
			}
			got = append(got, row{it.Source.Type + "/" + it.Source.Record + "/" + it.Source.Field, it.Category, v, it.Status})
			require.Equal(t, "acme", doc.Tenant)
		}
		require.Equal(t, []row{
			{"gcust/c1/Name", "name", "Ada of acme", "held"},
			{"gcust/c1/Email", "email", "c1@example.com", "held"},
			{"gcust/c1/DOB", "dob", "1815-12-10", "held"},
			{"gcust/c1/Phone", "phone", "+44 20 7946 0958", "held"},
			{"gcust/c1/Card", "card", "4111 1111 1111 1111", "held"},
			{"gcust/c1/Handle", "username", "(pseudonym)", "pseudonym"},
			{"gcust/c1/Alt", "email", "ada.alt@example.org", "held"},
			{"gticket/t1/Body", "free_text", "refund please", "held"},
			{"gticket/t1/Ref", "user.ref", "REFAB12", "held"},
		}, got)

		dob := doc.Items[2]
		require.Equal(t, &pii.Retention{Max: "P1Y", Clock: "Seen", Action: "null"}, dob.Retention)
		require.Equal(t, []string{"encrypt"}, dob.Protection)
		require.Equal(t, []string{"encrypt", "index", "mask=email"}, doc.Items[1].Protection)
		require.True(t, doc.Items[4].Sensitive, "card")
		if f.db != nil {
			require.Equal(t, "gcust", doc.Items[0].Source.Table)
		}
		require.NotContains(t, string(raw), "globex")
		require.NotContains(t, string(raw), "pii1.", "nothing sealed in an export")

		evs, err := f.g.auditEvents(ctx)
		require.NoError(t, err)
		require.Len(t, evs, len(doc.Items))
		for i, ev := range evs {
			require.Equal(t, mask.EventExport, ev.Kind)
			require.Equal(t, "dpo-1", ev.Viewer)
			require.Equal(t, "acme", ev.Tenant)
			require.Equal(t, doc.Items[i].Source.Field, ev.Field)
			require.Equal(t, "subject access request", ev.Reason)
		}

		// After an erasure, nothing is held.
		_, err = f.g.Forget(ctx, "acme", "c1")
		require.NoError(t, err)
		raw, err = f.g.Export(ctx, viewer, "acme", "c1")
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &doc))
		require.Empty(t, doc.Items)
		_, err = f.g.Export(ctx, mask.Viewer{}, "acme", "c1")
		require.Error(t, err, "an export is audited: the viewer needs an ID")
	})
}

// A store that returns another tenant's record makes Export fail rather
// than export it.
func TestExportChecksStoreRows(t *testing.T) {
	ctx := context.Background()
	f := memGuard(t)
	ms, err := retention.NewMemoryStore(&gcust{}, nil)
	require.NoError(t, err)
	a := newCust("acme", "c1")
	b := newCust("globex", "c1")
	require.NoError(t, f.g.Protect(ctx, &a))
	require.NoError(t, f.g.Protect(ctx, &b))
	require.NoError(t, ms.Put(&a, t0))
	require.NoError(t, ms.Put(&b, t0))
	require.NoError(t, f.g.Register(leaky{ms}))
	_, err = f.g.Export(ctx, mask.Viewer{ID: "x"}, "acme", "c1")
	require.ErrorContains(t, err, "another tenant")
	evs, _ := f.g.auditEvents(ctx)
	require.Empty(t, evs)
}

// leaky ignores the query's tenant.
type leaky struct{ *retention.MemoryStore }

func (l leaky) Claim(ctx context.Context, q retention.Query) (retention.Claim, error) {
	q.Tenant = "globex"
	return l.MemoryStore.Claim(ctx, q)
}
