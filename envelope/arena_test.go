package envelope_test

import (
	"context"
	"runtime"
	"testing"
	"unsafe"
	"weak"

	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

// Wide has several encrypted string fields, each long enough to stay out
// of the runtime's tiny-object allocator.
type Wide struct {
	ID string `pii:"subject"`
	A  string `pii:"name,encrypt"`
	B  string `pii:"email,encrypt"`
	C  string `pii:"phone,encrypt"`
}

// TestFieldsDoNotShareMemory: every string Seal or Open writes is its own
// allocation, so a field dropped by the caller is collected even while its
// neighbours live (a shared arena would keep one field's plaintext alive
// as long as any other string carved from it).
func TestFieldsDoNotShareMemory(t *testing.T) {
	ctx := context.Background()
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	for _, op := range []string{"Seal", "Open"} {
		w := &Wide{ID: "alice", A: "Alice Pleasance Liddell", B: "alice@rabbit-hole.example", C: "+44 20 7946 0000 ext 1"}
		require.NoError(t, s.Seal(ctx, w))
		if op == "Open" {
			require.NoError(t, s.Open(ctx, w))
			require.Equal(t, "alice@rabbit-hole.example", w.B)
		}
		// A weak pointer to field B's bytes; B is then dropped while A and C
		// stay reachable.
		wp := weak.Make(unsafe.StringData(w.B))
		w.B = ""
		for range 3 {
			runtime.GC()
		}
		require.Nil(t, wp.Value(), "%s: field B's memory outlived it", op)
		require.NotEmpty(t, w.A+w.C)
		runtime.KeepAlive(w)
	}
}
