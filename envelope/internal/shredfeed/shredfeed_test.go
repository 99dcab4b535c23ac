package shredfeed

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBucketFrozen: every process sharing a key store, whatever release it
// runs, maps a scope to the same bucket (the values are those of
// envelope.ShredBucket before it moved here).
func TestBucketFrozen(t *testing.T) {
	for _, tt := range []struct {
		tenant, scope string
		want          uint16
	}{
		{"acme", "s:alice", 2125},
		{"", "t", 594},
		{"globex", "s:bob", 3397},
	} {
		require.Equal(t, tt.want, Bucket(tt.tenant, tt.scope), "%s/%s", tt.tenant, tt.scope)
	}
}
