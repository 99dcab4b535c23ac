package main

import (
	"context"
	"errors"
	"strings"

	"github.com/fieldguard/pii/keyprovider"
)

// exitCode maps an error to the exit code scripts read.
func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return exitInterrupted
	case errors.Is(err, keyprovider.ErrAuthentication), errors.Is(err, keyprovider.ErrPermission):
		return exitAccess
	case strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "accepts "),
		strings.HasPrefix(err.Error(), "requires at least"), strings.HasPrefix(err.Error(), "unknown flag"):
		return exitUsage
	}
	return exitFailure
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
