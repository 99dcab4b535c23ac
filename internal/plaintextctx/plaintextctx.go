// Package plaintextctx marks a context under which envelope's Open passes
// plaintext values through unchanged (as envelope.Options.AllowPlaintext
// does for every call) and counts them: for the reads of a table whose
// existing columns are being sealed in place (guard's
// TableOptions.AcceptPlaintext and Table.Migrate), which accept both forms
// and count what is still in clear, so an operator knows when none is
// left.
package plaintextctx

import (
	"context"

	"github.com/fieldguard/pii"
)

type key struct{}

// With returns a context under which Open lets plaintext values through
// and calls seen (when not nil) once for each. seen must be safe for
// concurrent use if ctx is.
func With(ctx context.Context, seen func(f *pii.Field)) context.Context {
	if seen == nil {
		seen = func(*pii.Field) {}
	}
	return context.WithValue(ctx, key{}, seen)
}

// From returns the function With attached to ctx, and whether there is
// one.
func From(ctx context.Context) (seen func(f *pii.Field), ok bool) {
	seen, ok = ctx.Value(key{}).(func(*pii.Field))
	return seen, ok
}
