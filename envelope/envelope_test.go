package envelope_test

import (
	"context"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{false, true} {
		s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: inline})
		require.NoError(t, err)
		for _, pt := range []string{"", "a", "alice@example.com", string(make([]byte, 5000))} {
			ct, err := s.EncryptString(ctx, pt, benchBinding)
			require.NoError(t, err)
			require.True(t, envelope.IsSealed(ct))
			got, err := s.DecryptString(ctx, ct, benchBinding)
			require.NoError(t, err)
			require.Equal(t, pt, got)

			bin, err := s.EncryptBytes(ctx, []byte(pt), benchBinding)
			require.NoError(t, err)
			if !inline {
				require.Len(t, bin, len(pt)+48)
			}
			gotb, err := s.DecryptBytes(ctx, bin, benchBinding)
			require.NoError(t, err)
			require.Equal(t, pt, string(gotb))
		}
	}
}
