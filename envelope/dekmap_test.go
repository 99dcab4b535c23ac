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

// TestDEKMapIndex runs random puts and removals of every kind and checks
// after each that the scope index is the map's, and that delScope leaves
// nothing of its scope.
func TestDEKMapIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	d := newDEKMap()
	ref := func() dekRef {
		return dekRef{fmt.Sprint("t", r.IntN(2)), fmt.Sprint("s", r.IntN(20)), uint32(r.IntN(3))}
	}
	var dropped int
	drop := func(*dekEntry) { dropped++ }
	for range 5000 {
		switch op := r.IntN(10); {
		case op < 5:
			d.put(&dekEntry{ref: ref()})
		case op < 7:
			d.del(ref())
		case op < 8:
			x := ref()
			sr := scopeRef{x.tenant, x.subject}
			d.delScope(sr, drop)
			for k := range d.m {
				require.False(t, k.tenant == sr.tenant && k.subject == sr.subject)
			}
		case op < 9:
			id := uint32(r.IntN(3))
			d.delIf(func(e *dekEntry) bool { return e.ref.id == id }, drop)
		default:
			d.trim(r.IntN(60)+1, drop)
		}
		checkIndex(t, &d)
	}
	require.Positive(t, dropped)
}
