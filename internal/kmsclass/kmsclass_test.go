package kmsclass_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/kmsclass"
	"github.com/fieldguard/pii/keyprovider"
)

// TestName: each class has its name, whether it is the sentinel itself or
// an error Classify made; the breaker's refusal is named apart from the
// unavailable class it belongs to, and a deadline is unavailable.
func TestName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{keyprovider.Classify("x", keyprovider.ErrUnavailable, kmsclass.CircuitOpen), "circuit_open"},
		{context.Canceled, "canceled"},
		{keyprovider.Classify("x", keyprovider.ErrInvalidArgument, context.DeadlineExceeded), "unavailable"},
		{keyprovider.ErrUnavailable, "unavailable"},
		{keyprovider.ErrPermission, "permission"},
		{keyprovider.ErrKeyNotFound, "key_not_found"},
		{keyprovider.ErrKeyDisabled, "key_disabled"},
		{keyprovider.ErrKeyDestroyed, "key_destroyed"},
		{keyprovider.ErrAuthentication, "authentication"},
		{keyprovider.ErrInvalidArgument, "invalid_argument"},
		{keyprovider.Classify("unwrap", keyprovider.ErrAuthentication, errors.New("backend: secret detail")), "authentication"},
		{errors.New("x"), "other"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, kmsclass.Name(tc.err), "%v", tc.err)
	}
}
