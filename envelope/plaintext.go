package envelope

import (
	"context"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/plaintextctx"
)

// passPlaintext reports whether Open lets the plaintext value of f
// through (Options.AllowPlaintext, or a context from guard's migration
// reads: internal/plaintextctx), counting it when ctx asks.
func (s *Sealer) passPlaintext(ctx context.Context, f *pii.Field) bool {
	if seen, ok := plaintextctx.From(ctx); ok {
		seen(f)
		return true
	}
	return s.opts.AllowPlaintext
}
