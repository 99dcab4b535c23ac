package guard

import (
	"context"
	"errors"

	"github.com/fieldguard/pii/keyprovider"
)

// Compromised names a compromised key: exactly one of its fields is set.
type Compromised struct {
	KMSKey    *keyprovider.KeyID // a KMS key version
	BranchKey *BranchKey         // one tenant's branch key version
	DEK       *DEK               // one data key
}

// BranchKey names a tenant's branch key version.
type BranchKey struct {
	Tenant  string
	Version uint32
}

// DEK names one data key as the key store names it.
type DEK struct {
	Tenant, Scope string
	ID            uint32
}

// BreachReport says what a compromised key exposes: tenants, subjects,
// categories and fields, as JSON a notification process can read.
func (g *Guard) BreachReport(ctx context.Context, c Compromised) ([]byte, error) {
	return nil, errors.New("guard: BreachReport: not implemented yet")
}
