package guard

import (
	"context"
	"errors"

	"github.com/fieldguard/pii/mask"
)

// Export returns every tagged value held about (tenant, subject) across the
// registered types, opened, as portable JSON; audited like a reveal.
func (g *Guard) Export(ctx context.Context, viewer mask.Viewer, tenant, subject string) ([]byte, error) {
	return nil, errors.New("guard: Export: not implemented yet")
}
