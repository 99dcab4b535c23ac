package guard

// API sketch agreed for issue 13. Bodies are filled in by the guard core
// (guard.go, protect.go, export.go, breach.go, rotate.go) and the table
// helper (table*.go); nothing here is final until its tests land.

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/tokenize"
)

var errTODO = errors.New("guard: not implemented yet")

// Dialect is the SQL dialect, the same type every SQL store of this module
// uses.
type Dialect = sqldialect.Dialect

// Options configure a Guard. Nil means the defaults.
type Options struct {
	// Dialect of the database; Detect (the zero value) asks the driver.
	Dialect Dialect
	// Prefix names the Guard's tables: PREFIX+"keys", "tokens", "ledger",
	// "holds", "audit". Default "pii_". Schema-qualified prefixes
	// ("privacy.pii_") are accepted.
	Prefix string
	// Clock tells the time in every part; nil is the system clock.
	Clock pii.Clock
	// Policy is the mask policy for views; nil is mask's default policy.
	Policy *mask.Policy
	// Audit receives reveal, export and alert events; nil writes them to
	// the PREFIX+"audit" table (in NewMemory: kept in memory).
	Audit mask.AuditSink
	// Retention overrides tag policies; nil means none.
	Retention *retention.Policies
	// CloseOnForget: see retention.Options.CloseOnForget.
	CloseOnForget bool
	// ConvergentTokens, TokenTTL: see tokenize.Options.
	ConvergentTokens bool
	TokenTTL         time.Duration
}

// Guard is the one object a service holds for its personal data. It is safe
// for concurrent use; make one per process and share it.
type Guard struct{}

// New builds a Guard on db with kp as the key provider (wrapped in a
// keyprovider.Client with defaults unless it is one). It does no I/O: call
// CreateTables once (or apply DDL with your migration tool).
func New(kp keyprovider.KeyProvider, db *sql.DB, opts *Options) (*Guard, error) {
	return nil, errTODO
}

// NewMemory builds a Guard whose stores live in memory and die with the
// process: for tests and examples.
func NewMemory(kp keyprovider.KeyProvider, opts *Options) (*Guard, error) {
	return nil, errTODO
}

// DDL returns the statements CreateTables runs; opts.Dialect must be set.
func DDL(opts *Options) (string, error) { return "", errTODO }

// CreateTables creates the Guard's tables (and those of tables registered
// through NewTable) if they do not exist.
func (g *Guard) CreateTables(ctx context.Context) error { return errTODO }

// Register adds stores of types the Guard does not write itself, so Forget,
// Sweep, Export and every shred check consider them.
func (g *Guard) Register(stores ...retention.Store) error { return errTODO }

// Permit decides which tokens Open reverses; see tokenize.Permit. A nil
// Permit reverses none.
type Permit = tokenize.Permit

// Protect tokenizes, seals and indexes the tagged struct ptr points to, in
// place. It is idempotent.
func (g *Guard) Protect(ctx context.Context, ptr any) error { return errTODO }

// Open opens the sealed fields of ptr, then reverses the tokens permit
// allows, field by field.
func (g *Guard) Open(ctx context.Context, ptr any, permit Permit) error { return errTODO }

// View turns the protected struct ptr points to into what viewer may see:
// opened where allowed, masked elsewhere, never sealed text.
func (g *Guard) View(ctx context.Context, viewer mask.Viewer, ptr any) error { return errTODO }

// Forget answers an erasure request for (tenant, subject) across every
// registered type.
func (g *Guard) Forget(ctx context.Context, tenant, subject string) (*retention.ForgetReport, error) {
	return nil, errTODO
}

// Sweep runs the retention sweep over every registered type.
func (g *Guard) Sweep(ctx context.Context, opts *retention.SweepOptions) ([]retention.Progress, error) {
	return nil, errTODO
}

// Export returns every tagged value held about (tenant, subject) across the
// registered types, opened, as portable JSON; audited like a reveal.
func (g *Guard) Export(ctx context.Context, viewer mask.Viewer, tenant, subject string) ([]byte, error) {
	return nil, errTODO
}

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
	return nil, errTODO
}

// RotateOptions configure Rotate.
type RotateOptions struct {
	// RotateBranchKeys also rotates every tenant's branch key and rewraps
	// the data keys under it.
	RotateBranchKeys bool
	// DisableOld disables the previous KMS key version once every key is
	// rewrapped and verified.
	DisableOld bool
	BatchSize  int
	Progress   func(step string, done, total int64)
}

// Rotate runs a KMS key rotation as one resumable call: add a new version,
// prove a second reader unwraps under it, promote it, rewrap every
// KMS-wrapped key (branch keys, search roots, the tokenizer root), verify
// every registered record opens, and disable the old version. A call after
// an interruption resumes where the last one stopped.
func (g *Guard) Rotate(ctx context.Context, opts *RotateOptions) error { return errTODO }
