// Package compat checks, in tests only, that the envelope and tokenize
// types plug into retention's small interfaces; retention itself imports
// neither.
package compat

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/tokenize"
)

var (
	_ retention.Shredder     = (*envelope.Sealer)(nil)
	_ retention.TokenDeleter = (*tokenize.Tokenizer)(nil)
)

func TestReadCheckFitsEnvelope(t *testing.T) {
	m, err := retention.New(&retention.Options{Holds: retention.NewMemoryHolds(), LedgerKey: make([]byte, 32)})
	require.NoError(t, err)
	opts := envelope.Options{ReadCheck: m.ReadCheck}
	require.NotNil(t, opts.ReadCheck)
}
