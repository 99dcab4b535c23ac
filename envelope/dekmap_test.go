package envelope

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkIndex fails unless d's scope index names exactly the entries of
// its map.
func checkIndex(t *testing.T, d *dekMap) {
	t.Helper()
	want := map[scopeRef][]uint32{}
	for ref, e := range d.m {
		require.Equal(t, ref, e.ref)
		sr := scopeRef{ref.tenant, ref.subject}
		want[sr] = append(want[sr], ref.id)
	}
	require.Len(t, d.byScope, len(want))
	for sr, ids := range d.byScope {
		require.ElementsMatch(t, want[sr], ids, "scope %v", sr)
		require.Len(t, slices.Compact(slices.Sorted(slices.Values(ids))), len(ids), "scope %v: an id twice", sr)
	}
}

// TestDEKMapIndex runs random puts and removals of every kind against a
// plain map as the model and checks after each that the map holds exactly
// the model's entries (so a scope's removal takes that tenant's subject
// and nothing of the same subject id in the other tenant) and that the
// scope index is the map's.
func TestDEKMapIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	d := newDEKMap()
	model := map[dekRef]*dekEntry{}
	ref := func() dekRef {
		return dekRef{fmt.Sprint("t", r.IntN(2)), fmt.Sprint("s", r.IntN(20)), uint32(r.IntN(3))}
	}
	var dropped int
	// dropper returns a drop callback that checks each entry dropped is
	// one the operation may drop (want) and that the model holds it.
	dropper := func(want func(dekRef) bool) func(*dekEntry) {
		return func(e *dekEntry) {
			dropped++
			require.True(t, want(e.ref), "dropped %v", e.ref)
			require.Same(t, model[e.ref], e, "dropped what the model holds")
			delete(model, e.ref)
		}
	}
	for range 5000 {
		switch op := r.IntN(10); {
		case op < 5:
			e := &dekEntry{ref: ref()}
			d.put(e)
			model[e.ref] = e
		case op < 7:
			x := ref()
			require.Same(t, model[x], d.del(x))
			delete(model, x)
		case op < 8:
			x := ref()
			d.delScope(scopeRef{x.tenant, x.subject}, dropper(func(k dekRef) bool {
				return k.tenant == x.tenant && k.subject == x.subject
			}))
			for k := range model {
				require.False(t, k.tenant == x.tenant && k.subject == x.subject, "left in its scope: %v", k)
			}
		case op < 9:
			id := uint32(r.IntN(3))
			d.delIf(func(e *dekEntry) bool { return e.ref.id == id }, dropper(func(k dekRef) bool { return k.id == id }))
			for k := range model {
				require.NotEqual(t, id, k.id)
			}
		default:
			d.trim(r.IntN(60)+1, dropper(func(dekRef) bool { return true }))
		}
		require.Equal(t, model, d.m)
		checkIndex(t, &d)
	}
	require.Positive(t, dropped)
}
