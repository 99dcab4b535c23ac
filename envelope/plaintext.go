package envelope

import (
	"context"

	"github.com/fieldguard/pii"
)

type plaintextKey struct{}

// AcceptPlaintext returns a context under which Open passes plaintext
// values through unchanged, as Options.AllowPlaintext does for every call,
// and calls seen (when not nil) once for each such value: for the reads
// of a table whose existing columns are being sealed in place (guard's
// Table.Migrate), which accept both forms and count what is still in
// clear, so an operator knows when none is left. seen must be safe for
// concurrent use if ctx is.
func AcceptPlaintext(ctx context.Context, seen func(f *pii.Field)) context.Context {
	if seen == nil {
		seen = func(*pii.Field) {}
	}
	return context.WithValue(ctx, plaintextKey{}, seen)
}

// passPlaintext reports whether Open lets the plaintext value of f
// through, counting it when ctx asks.
func (s *Sealer) passPlaintext(ctx context.Context, f *pii.Field) bool {
	if seen, ok := ctx.Value(plaintextKey{}).(func(*pii.Field)); ok {
		seen(f)
		return true
	}
	return s.opts.AllowPlaintext
}
