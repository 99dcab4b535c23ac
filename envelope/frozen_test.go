package envelope_test

import (
	"context"
	"os"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/stretchr/testify/require"
)

// Test keys: fixed so the frozen ciphertexts below open. Never use fixed
// keys like these in production.
var (
	frozenDEK  = seq(32, 0x00)
	frozenKEK  = seq(32, 0x40)
	frozenRoot = seq(32, 0x80)
	frozenB    = envelope.Binding{Tenant: "acme", Type: "Customer", Field: "Email", Record: "c-42", Subject: "alice"}
)

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// One ciphertext per shipped version, made once by this code with the keys
// above (and fixed nonces) and frozen: if any of these stops opening, the
// format drifted.
const (
	frozenV1 = "pii1.AQAAAcDBwsPExcbHyMnKy2YpMkFuVouBCzOFp0iEN-6jsVjVmMgUcJi98P7KSCRJkqGcK0TOD3KpHLjDiZuoe08"
	frozenV2 = "pii2.AgA9ABqZl9KcTKzbbU0c5RjMcfwyJ2tOTtot2MwN6_5qDSzbAAonZZkN_KjW-sIy6uJOFG1SQ0B1FuqpUvlLiMDBwsPExcbHyMnKy1O3BvQTaTQswhT_oz9st0ko8jymnYAPJ0uYmPtLMkuvP4Yxeh2BSqfx563J_T79KFU"
	frozenV3 = "pii3.AxBA__B51M0LQ6HIOYMfj08SjdzlWQdiCtf6ECloNJlkrjooPNDTLH9movRKnxoNggo"
)

func frozenSealer(t testing.TB) *envelope.Sealer {
	s, err := envelope.New(testkp.New(frozenKEK), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	envelope.InstallDEK(s, frozenB.Tenant, frozenB.Subject, 1, frozenDEK)
	envelope.InstallSearchRoot(s, frozenB.Tenant, frozenRoot)
	return s
}

func TestFrozenCiphertexts(t *testing.T) {
	ctx := context.Background()
	s := frozenSealer(t)
	if os.Getenv("ENVELOPE_PRINT_FROZEN") != "" {
		envelope.SetNonceHook(s, func(b []byte) { copy(b, seq(len(b), 0xc0)) })
		v1, err := s.EncryptString(ctx, "alice@example.com", frozenB)
		require.NoError(t, err)
		si, err := envelope.New(testkp.New(frozenKEK), &envelope.Options{Store: envelope.NewMemoryStore(), Inline: true})
		require.NoError(t, err)
		envelope.SetNonceHook(si, func(b []byte) { copy(b, seq(len(b), 0xc0)) })
		v2, err := si.EncryptString(ctx, "alice@example.com", frozenB)
		require.NoError(t, err)
		v3, err := s.EncryptDeterministic(ctx, "alice@example.com", frozenB)
		require.NoError(t, err)
		t.Logf("\nfrozenV1 = %q\nfrozenV2 = %q\nfrozenV3 = %q", v1, v2, v3)
	}
	for _, tc := range []struct{ name, ct string }{{"v1", frozenV1}, {"v2", frozenV2}, {"v3", frozenV3}} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := s.DecryptString(ctx, tc.ct, frozenB)
			require.NoError(t, err)
			require.Equal(t, "alice@example.com", pt)
		})
	}
}
