package guard

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/clock"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/mask"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
	"github.com/fieldguard/pii/tokenize"
	"github.com/fieldguard/pii/tokenize/sqltokenstore"
)

// Options configure a Guard. Nil means the defaults.
type Options struct {
	// Dialect of the database; the zero value asks the driver.
	Dialect pii.Dialect
	// Prefix names the Guard's tables: PREFIX+"keys", "tokens", "ledger",
	// "holds", "pending_shreds", "audit" (and "rotation", the state of a
	// running Rotate). Default "pii_". Schema-qualified prefixes
	// ("privacy.pii_") are accepted.
	Prefix string
	// Clock tells the time in every part; nil is the system clock.
	Clock pii.Clock
	// Views are the rules (and styles, sensitive categories, reveal
	// budget) of views; nil is mask's defaults. Leave their Audit and
	// Clock nil: Audit and Clock above apply.
	Views *mask.ViewsOptions
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
	// TokenFormats overrides the token format of a category (see
	// tokenize.Options.Formats), for example
	// {"phone": tokenize.Phone{DefaultRegion: "GB"}}.
	TokenFormats map[string]tokenize.TokenFormat
	// LedgerKey is for adopting an erasure ledger and holds written before
	// the Guard, under a key of your own: the ledger keeps keyed hashes,
	// so its key must stay the same for Replay and existing holds to find
	// their records. Leave it nil otherwise: the Guard then makes its own
	// ledger key once, wrapped by the KMS in the key store like the
	// tokenizer's root key, so no key lives in your configuration.
	LedgerKey []byte
}

// Guard is the one object a service holds for its personal data. It is safe
// for concurrent use; make one per process and share it.
type Guard struct {
	db      *sql.DB            // nil for NewMemory
	dialect sqldialect.Dialect // resolved; 0 for NewMemory
	names   tableNames
	clock   pii.Clock
	opts    Options
	kp      *keyprovider.Client

	keys    envelope.KeyStore
	seal    *envelope.Sealer
	tokens  tokenize.TokenStore
	ledger  retention.Ledger
	holds   retention.Holds
	audit   mask.AuditSink
	auditDB *auditTable // the SQL audit table when Options.Audit is nil
	memLog  *memoryAudit
	views   *mask.Views
	checker *retention.Manager // validates registrations before the real Manager exists

	memRot *memRotation // NewMemory's rotation state

	mu     sync.Mutex
	stores []retention.Store
	ready  atomic.Pointer[core]
}

// core is what the Guard builds on first use, once its secrets are loaded
// from the key store: the tokenizer (its root key) and the retention
// Manager (its ledger and pseudonym keys).
type core struct {
	tok *tokenize.Tokenizer
	mgr *retention.Manager
}

// Names of the Guard's secrets in the key store (envelope.KindSecret,
// tenant ""). They are part of the stored format: never rename them.
const (
	secretTokenizer = "guard/tokenizer-root"
	secretLedger    = "guard/ledger-key"
	secretPseudonym = "guard/pseudonym-key"
)

// tableNames are the Guard's tables.
type tableNames struct {
	keys, tokens, ledger, holds, pending, audit, rotation string
}

func namesOf(prefix string) (tableNames, error) {
	if prefix == "" {
		prefix = "pii_"
	}
	n := tableNames{
		keys: prefix + "keys", tokens: prefix + "tokens", ledger: prefix + "ledger", holds: prefix + "holds",
		pending: prefix + "pending_shreds", audit: prefix + "audit", rotation: prefix + "rotation",
	}
	for _, t := range []string{n.keys, n.tokens, n.ledger, n.holds, n.pending, n.audit, n.rotation} {
		if err := sqldialect.ValidTable("table", t); err != nil {
			return n, fmt.Errorf("guard: Options.Prefix %q: %w", prefix, err)
		}
	}
	return n, nil
}

// New builds a Guard on db with kp as the key provider (wrapped in a
// keyprovider.Client with defaults unless it is one). It does no I/O: call
// CreateTables once (or apply DDL with your migration tool). The
// tokenizer's root key and the retention ledger's keys are made on first
// use, wrapped by kp and kept in the key table, where a KMS rotation
// (Rotate) rewraps them with the other keys.
func New(kp keyprovider.KeyProvider, db *sql.DB, opts *Options) (*Guard, error) {
	if db == nil {
		return nil, errors.New("guard: New needs a *sql.DB (NewMemory builds a Guard without one, for tests)")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	d, err := sqldialect.Resolve(db, o.Dialect)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	names, err := namesOf(o.Prefix)
	if err != nil {
		return nil, err
	}
	keys, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d.Public(), Table: names.keys})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	tokens, err := sqltokenstore.New(db, &sqltokenstore.Options{Dialect: d.Public(), Table: names.tokens})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	so := &sqlstore.Options{Dialect: d.Public(), LedgerTable: names.ledger, HoldsTable: names.holds, PendingTable: names.pending}
	ledger, err := sqlstore.NewLedger(db, so)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	holds, err := sqlstore.NewHolds(db, so)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	g := &Guard{db: db, dialect: d, names: names, keys: keys, tokens: tokens, ledger: ledger, holds: holds}
	if o.Audit == nil {
		g.auditDB = &auditTable{db: db, d: d, table: names.audit}
		g.audit = g.auditDB
	}
	return g.finish(kp, o)
}

// NewMemory builds a Guard whose stores live in memory and die with the
// process: for tests and examples. It is wired like New; only the stores
// differ.
func NewMemory(kp keyprovider.KeyProvider, opts *Options) (*Guard, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	names, err := namesOf(o.Prefix)
	if err != nil {
		return nil, err
	}
	g := &Guard{names: names, keys: envelope.NewMemoryStore(), tokens: tokenize.NewMemoryStore(),
		ledger: retention.NewMemoryLedger(), holds: retention.NewMemoryHolds(), memRot: &memRotation{}}
	if o.Audit == nil {
		g.memLog = &memoryAudit{}
		g.audit = g.memLog
	}
	return g.finish(kp, o)
}

// finish wires what New and NewMemory share: the Sealer (its read check
// is the retention Manager's, reached through the Guard so neither needs
// the other to exist first), the views and the registration checker.
func (g *Guard) finish(kp keyprovider.KeyProvider, o Options) (*Guard, error) {
	if kp == nil {
		return nil, errors.New("guard: nil key provider")
	}
	if o.LedgerKey != nil && len(o.LedgerKey) < 16 {
		return nil, errors.New("guard: Options.LedgerKey must be at least 16 bytes (or nil: the Guard makes its own)")
	}
	if o.LedgerKey != nil {
		o.LedgerKey = append([]byte(nil), o.LedgerKey...)
	}
	if o.Audit != nil {
		g.audit = o.Audit
	}
	g.opts = o
	g.clock = clock.Or(o.Clock)
	if c, ok := kp.(*keyprovider.Client); ok {
		g.kp = c
	} else {
		g.kp = keyprovider.NewClient(kp, nil)
	}
	var err error
	g.seal, err = envelope.New(g.kp, &envelope.Options{Store: g.keys, Clock: o.Clock, ReadCheck: g.readCheck})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	var vo mask.ViewsOptions
	if o.Views != nil {
		if o.Views.Audit != nil || o.Views.Clock != nil {
			return nil, errors.New("guard: set Options.Audit and Options.Clock, not Options.Views.Audit or Options.Views.Clock")
		}
		vo = *o.Views
	}
	vo.Audit, vo.Clock = g.audit, o.Clock
	g.views, err = mask.NewViews(&vo)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	// The checker validates each registered type's policies (as the real
	// Manager will) before the real one exists; its keys are throw-away
	// and it never writes.
	throwaway := make([]byte, 32)
	rand.Read(throwaway)
	g.checker, err = retention.New(&retention.Options{
		LedgerKey: throwaway, PseudonymKey: throwaway, Policies: o.Retention, Shredder: g.seal,
		Holds: retention.NewMemoryHolds(), Ledger: retention.NewMemoryLedger(),
	})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	return g, nil
}

// readCheck is the Sealer's read check: the retention Manager's, built on
// first use.
func (g *Guard) readCheck(ctx context.Context, s *pii.Schema, f *pii.Field, ptr any) error {
	c, err := g.core(ctx)
	if err != nil {
		return err
	}
	return c.mgr.ReadCheck(ctx, s, f, ptr)
}

// core returns the tokenizer and the retention Manager, loading (on the
// very first use anywhere: making) the Guard's secrets from the key store.
// Secrets are read and written outside any transaction in ctx.
func (g *Guard) core(ctx context.Context) (*core, error) {
	if c := g.ready.Load(); c != nil {
		return c, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.ready.Load(); c != nil {
		return c, nil
	}
	ctx = pii.WithExecutor(ctx, nil)
	root, err := g.seal.Secret(ctx, "", secretTokenizer)
	if err != nil {
		return nil, fmt.Errorf("guard: tokenizer root key: %w", err)
	}
	tok, err := tokenize.New(root, &tokenize.Options{Store: g.tokens, Convergent: g.opts.ConvergentTokens,
		TTL: g.opts.TokenTTL, Formats: g.opts.TokenFormats, Clock: g.opts.Clock})
	clear(root)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	ledgerKey := g.opts.LedgerKey
	if ledgerKey == nil {
		if ledgerKey, err = g.seal.Secret(ctx, "", secretLedger); err != nil {
			return nil, fmt.Errorf("guard: ledger key: %w", err)
		}
		defer clear(ledgerKey)
	}
	pseudonymKey, err := g.seal.Secret(ctx, "", secretPseudonym)
	if err != nil {
		return nil, fmt.Errorf("guard: pseudonym key: %w", err)
	}
	defer clear(pseudonymKey)
	mgr, err := retention.New(&retention.Options{
		Clock: g.opts.Clock, Policies: g.opts.Retention, LedgerKey: ledgerKey, PseudonymKey: pseudonymKey,
		Shredder: g.seal, CloseOnForget: g.opts.CloseOnForget, Tokens: tok, Ledger: g.ledger, Holds: g.holds,
	})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	if err := mgr.Register(g.stores...); err != nil {
		return nil, err
	}
	c := &core{tok: tok, mgr: mgr}
	g.ready.Store(c)
	return c, nil
}

// DDL returns the statements CreateTables runs for the Guard's own tables,
// for migration tools (goose, golang-migrate, atlas); opts.Dialect must be
// SQLite or Postgres. The tables of a Table (NewTable) have their own DDL.
func DDL(opts *Options) (string, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Dialect != pii.SQLite && o.Dialect != pii.Postgres {
		return "", errors.New("guard: DDL needs Options.Dialect set to SQLite or Postgres")
	}
	names, err := namesOf(o.Prefix)
	if err != nil {
		return "", err
	}
	var parts []string
	add := func(s string, err error) error {
		if err != nil {
			return fmt.Errorf("guard: %w", err)
		}
		parts = append(parts, strings.TrimSpace(s))
		return nil
	}
	if err := add(sqlkeystore.DDL(&sqlkeystore.Options{Dialect: o.Dialect, Table: names.keys})); err != nil {
		return "", err
	}
	if err := add(sqltokenstore.DDL(&sqltokenstore.Options{Dialect: o.Dialect, Table: names.tokens})); err != nil {
		return "", err
	}
	so := &sqlstore.Options{Dialect: o.Dialect, LedgerTable: names.ledger, HoldsTable: names.holds, PendingTable: names.pending}
	if err := add(sqlstore.DDL(so)); err != nil {
		return "", err
	}
	if o.Audit == nil {
		if err := add(auditDDL(sqldialect.Of(o.Dialect), names.audit), nil); err != nil {
			return "", err
		}
	}
	if err := add(rotationDDL(sqldialect.Of(o.Dialect), names.rotation), nil); err != nil {
		return "", err
	}
	return strings.Join(parts, "\n\n") + "\n", nil
}

// CreateTables creates the Guard's tables (and those of tables registered
// through NewTable) if they do not exist, each store's in a transaction of
// its own (the caller's under pii.WithExecutor). It is idempotent. A Guard
// from NewMemory has no tables of its own.
func (g *Guard) CreateTables(ctx context.Context) error {
	if g.db != nil {
		creators := []interface{ CreateTables(context.Context) error }{
			g.keys.(*sqlkeystore.Store), g.tokens.(*sqltokenstore.Store), g.ledger.(*sqlstore.Ledger), // the ledger, holds and pending shreds tables
		}
		for _, c := range creators {
			if err := c.CreateTables(ctx); err != nil {
				return fmt.Errorf("guard: CreateTables: %w", err)
			}
		}
		if g.auditDB != nil {
			if err := g.auditDB.create(ctx); err != nil {
				return fmt.Errorf("guard: CreateTables: %w", err)
			}
		}
		if err := g.createRotation(ctx); err != nil {
			return fmt.Errorf("guard: CreateTables: %w", err)
		}
	}
	for _, s := range g.registered() {
		if c, ok := s.(interface{ createTable(context.Context) error }); ok {
			if err := c.createTable(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Register adds stores of types the Guard does not write itself, so Forget,
// Sweep, Export and every shred check consider them. Each type's retention
// policies are checked now; an error names the field that cannot be
// applied.
func (g *Guard) Register(stores ...retention.Store) error {
	for _, st := range stores {
		if st == nil {
			return errors.New("guard: Register: nil store")
		}
	}
	if err := g.checker.Register(stores...); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.ready.Load(); c != nil {
		if err := c.mgr.Register(stores...); err != nil {
			return err
		}
	}
	g.stores = append(g.stores, stores...)
	return nil
}

// registered returns the registered stores.
func (g *Guard) registered() []retention.Store {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]retention.Store(nil), g.stores...)
}

// What a Table (table.go) uses of its Guard.

func (g *Guard) sqlDB() *sql.DB                 { return g.db }
func (g *Guard) sqlDialect() sqldialect.Dialect { return g.dialect }
func (g *Guard) sealer() *envelope.Sealer       { return g.seal }
func (g *Guard) storeOptions() *sqlstore.Options {
	return &sqlstore.Options{Dialect: g.dialect.Public(), LedgerTable: g.names.ledger, HoldsTable: g.names.holds, PendingTable: g.names.pending}
}
