package guard

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/keyprovider"
)

// KeyVersions is the key-version life cycle Rotate drives: add a version
// that is enabled but not primary, promote it, disable the old one.
// keyprovider/local implements it. A backend that only rotates in one step
// (keyprovider.Rotator: Cloud KMS, Vault Transit) is driven through that,
// and its old versions are disabled with the provider's own tools.
type KeyVersions interface {
	AddVersion(ctx context.Context) (keyprovider.KeyID, error)
	Promote(ctx context.Context, version string) error
	Disable(ctx context.Context, version string) error
	Versions(ctx context.Context) ([]keyprovider.Version, error)
}

// RotateOptions configure Rotate.
type RotateOptions struct {
	// RotateBranchKeys also rotates every tenant's branch key and rewraps
	// the data keys under it.
	RotateBranchKeys bool
	// DisableOld disables the previous KMS key version once every key is
	// rewrapped and verified (it needs a provider with KeyVersions).
	DisableOld bool
	// BatchSize is the number of keys rewrapped per batch (default 250);
	// the position is saved after each batch.
	BatchSize int
	// Progress, if set, is told each step's progress: "add", "promote",
	// "prove", "rewrap", "rotate branch keys", "rewrap data keys",
	// "verify", "disable".
	Progress func(step string, done, total int64)
	// SecondReader opens the key provider as another process would
	// (local.Open of the same keyset, kmsuri.Open of the same URI), with
	// nothing cached. Rotate proves with it that the new version unwraps
	// elsewhere before anything but a probe is wrapped under it. Nil uses
	// a new keyprovider.Client over the Guard's backend, which proves the
	// backend but not another process's view of it.
	SecondReader func(ctx context.Context) (keyprovider.KeyProvider, error)
}

// Rotation state keys (PREFIX+"rotation").
const (
	rsStep      = "step"
	rsOld       = "old_kek"
	rsNew       = "new_kek"
	rsRewrap    = "rewrap_cursor"
	rsDEKs      = "dek_cursor"
	rsBranch    = "branch_rotated:" // + tenant
	stepAdding  = "adding"
	stepAdded   = "added"
	stepPromote = "promoted"
	stepRewrap  = "rewrapped"
	stepBranch  = "branches"
	stepVerify  = "verified"
	stepDone    = "done"
)

// ErrRotateVerify reports records that did not open with fresh keys after
// a rotation's rewrap; the old version is kept.
var ErrRotateVerify = errors.New("guard: Rotate: records do not open after the rewrap; the old key version is kept")

// Rotate runs a KMS key rotation as one resumable call, in the order Tink,
// Vault and the cloud KMSs use, so no reader is handed a key it cannot
// open:
//
//  1. add a new key version, enabled but not primary (KeyVersions; a
//     keyprovider.Rotator adds and promotes in one step);
//  2. prove that a second reader (RotateOptions.SecondReader) sees it
//     enabled (when the reader lists versions), promote it, and prove at
//     once that the reader unwraps a probe wrapped under it; if it cannot,
//     the old version is promoted back before anything else is wrapped
//     under the new one, and Rotate fails;
//  3. rewrap every KMS-wrapped key under it in batches (branch keys, search
//     root keys and the Guard's secrets: the tokenizer's root key, the
//     ledger and pseudonym keys), each new wrap unwrapped and compared
//     before it replaces the old (envelope.Sealer.RewrapBranchKeys);
//  4. with RotateBranchKeys, start a new branch key in every tenant and
//     rewrap every data key under it (RewrapDEKs);
//  5. verify that every KMS-wrapped key is under the new version and that
//     every record of every registered store opens with cold caches, every
//     key through the KMS (values of forgotten subjects count as opened);
//  6. with DisableOld, disable the old version.
//
// The state (the versions, the step, the rewrap cursors, the tenants whose
// branch key was rotated) is kept in the PREFIX+"rotation" table (in
// memory for NewMemory), so a call after an interruption resumes where the
// last one stopped, and one after a finished rotation starts a new one.
// Run one Rotate at a time.
func (g *Guard) Rotate(ctx context.Context, opts *RotateOptions) (err error) {
	ctx, span := startJob(ctx, "rotate")
	defer func() { endJob(span, err) }()
	var o RotateOptions
	if opts != nil {
		o = *opts
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 250
	}
	progress := func(step string, done, total int64) {
		if o.Progress != nil {
			o.Progress(step, done, total)
		}
	}
	rs := g.rotState()
	step, err := rs.get(ctx, rsStep)
	if err != nil {
		return err
	}
	if step == stepDone {
		if err := rs.reset(ctx); err != nil {
			return err
		}
		step = ""
	}
	kv, _ := g.kp.Backend().(KeyVersions)
	_, canRotate := g.kp.Backend().(keyprovider.Rotator)
	if kv == nil && !canRotate && (step == "" || step == stepAdding) {
		return fmt.Errorf("guard: Rotate: the key provider %T can neither add versions (KeyVersions) nor rotate (keyprovider.Rotator): %w", g.kp.Backend(), errors.ErrUnsupported)
	}

	// 1. Add.
	if step == "" || step == stepAdding {
		progress("add", 0, 1)
		newID, oldID, err := g.addVersion(ctx, rs, kv, step == stepAdding)
		if err != nil {
			return err
		}
		if err := rs.set(ctx, rsNew, newID.String()); err != nil {
			return err
		}
		if oldID != nil {
			if err := rs.set(ctx, rsOld, oldID.String()); err != nil {
				return err
			}
		}
		step = stepAdded
		if err := rs.set(ctx, rsStep, step); err != nil {
			return err
		}
		progress("add", 1, 1)
	}
	oldK, err := rs.get(ctx, rsOld)
	if err != nil {
		return err
	}
	newK, err := rs.get(ctx, rsNew)
	if err != nil {
		return err
	}
	oldID, newID := parseKEK(oldK), parseKEK(newK)

	// 2. Prove, promote, prove again.
	if step == stepAdded {
		progress("prove", 0, 2)
		if err := g.proveListed(ctx, o, newID); err != nil {
			return err
		}
		progress("prove", 1, 2)
		progress("promote", 0, 1)
		if kv != nil {
			if err := kv.Promote(ctx, newID.Version); err != nil {
				return fmt.Errorf("guard: Rotate: promote: %w", err)
			}
		}
		progress("promote", 1, 1)
		if err := g.prove(ctx, o, newID); err != nil {
			if kv != nil && oldID.Version != "" {
				if perr := kv.Promote(ctx, oldID.Version); perr != nil {
					return fmt.Errorf("%w (and promoting the old version back failed: %w)", err, perr)
				}
			}
			return err
		}
		progress("prove", 2, 2)
		step = stepPromote
		if err := rs.set(ctx, rsStep, step); err != nil {
			return err
		}
	}

	// 3. Rewrap what the KMS wraps.
	if step == stepPromote {
		total, err := g.countKeys(ctx, envelope.KMSWrappedKinds()...)
		if err != nil {
			return err
		}
		if err := g.rewrapJob(ctx, rs, rsRewrap, "rewrap", total, o, g.seal.RewrapBranchKeys); err != nil {
			return err
		}
		step = stepRewrap
		if err := rs.set(ctx, rsStep, step); err != nil {
			return err
		}
	}

	// 4. Branch keys and data keys.
	if step == stepRewrap {
		if o.RotateBranchKeys {
			tenants := map[string]bool{}
			if err := listAll(ctx, g.keys, envelope.KindBranch, func(r envelope.Record) error {
				tenants[r.Tenant] = true
				return nil
			}); err != nil {
				return err
			}
			names := sortedKeys(tenants)
			for i, t := range names {
				done, err := rs.get(ctx, rsBranch+t)
				if err != nil {
					return err
				}
				if done == "" {
					v, err := g.seal.RotateBranchKey(ctx, t)
					if err != nil {
						return fmt.Errorf("guard: Rotate: %w", err)
					}
					if err := rs.set(ctx, rsBranch+t, fmt.Sprint(v)); err != nil {
						return err
					}
				}
				progress("rotate branch keys", int64(i+1), int64(len(names)))
			}
			total, err := g.countKeys(ctx, envelope.KindDEK)
			if err != nil {
				return err
			}
			if err := g.rewrapJob(ctx, rs, rsDEKs, "rewrap data keys", total, o, g.seal.RewrapDEKs); err != nil {
				return err
			}
		}
		step = stepBranch
		if err := rs.set(ctx, rsStep, step); err != nil {
			return err
		}
	}

	// 5. Verify.
	if step == stepBranch {
		if err := g.verifyRotation(ctx, newID, progress); err != nil {
			return err
		}
		step = stepVerify
		if err := rs.set(ctx, rsStep, step); err != nil {
			return err
		}
	}

	// 6. Disable the old version.
	if step == stepVerify {
		if o.DisableOld {
			if kv == nil {
				return fmt.Errorf("guard: Rotate: DisableOld: the key provider %T has no version life cycle (KeyVersions); disable version %s with the provider's tools", g.kp.Backend(), oldID.Version)
			}
			progress("disable", 0, 1)
			if oldID.Version != "" && oldID.Version != newID.Version {
				if err := kv.Disable(ctx, oldID.Version); err != nil {
					return fmt.Errorf("guard: Rotate: disable: %w", err)
				}
			}
			progress("disable", 1, 1)
		}
		if err := rs.set(ctx, rsStep, stepDone); err != nil {
			return err
		}
	}
	return nil
}

// parseKEK reads a keyprovider.KeyID back from its String form.
func parseKEK(s string) keyprovider.KeyID {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '#' {
			return keyprovider.KeyID{Key: s[:i], Version: s[i+1:]}
		}
	}
	return keyprovider.KeyID{Key: s}
}

// primary returns the provider's primary version: listed, or learnt by
// wrapping a throw-away key.
func (g *Guard) primary(ctx context.Context) (keyprovider.KeyID, error) {
	if vs, err := g.kp.Versions(ctx); err == nil {
		for _, v := range vs {
			if v.Primary {
				return v.ID, nil
			}
		}
	}
	probe := make([]byte, 32)
	_, id, err := g.kp.Wrap(ctx, probe, []byte("fieldguard.pii/guard primary probe"))
	if err != nil {
		return keyprovider.KeyID{}, fmt.Errorf("guard: Rotate: %w", err)
	}
	return id, nil
}

// addVersion adds the new version (or, resuming after an interruption
// during the add, adopts the enabled version that is neither primary nor
// the old one) and returns it with the old primary.
func (g *Guard) addVersion(ctx context.Context, rs rotationState, kv KeyVersions, resuming bool) (newID keyprovider.KeyID, oldID *keyprovider.KeyID, err error) {
	if !resuming {
		old, err := g.primary(ctx)
		if err != nil {
			return newID, nil, err
		}
		if err := rs.set(ctx, rsOld, old.String()); err != nil {
			return newID, nil, err
		}
		if err := rs.set(ctx, rsStep, stepAdding); err != nil {
			return newID, nil, err
		}
	}
	oldK, err := rs.get(ctx, rsOld)
	if err != nil {
		return newID, nil, err
	}
	old := parseKEK(oldK)
	if kv == nil {
		id, err := g.kp.Rotate(ctx)
		if err != nil {
			return newID, nil, fmt.Errorf("guard: Rotate: %w", err)
		}
		return id, &old, nil
	}
	if resuming {
		vs, err := kv.Versions(ctx)
		if err != nil {
			return newID, nil, fmt.Errorf("guard: Rotate: %w", err)
		}
		var adopt *keyprovider.Version
		for i, v := range vs {
			if v.ID.Version != old.Version && !v.Primary && v.Status == keyprovider.StatusEnabled && (adopt == nil || v.Created.After(adopt.Created)) {
				adopt = &vs[i]
			}
		}
		if adopt != nil {
			return adopt.ID, &old, nil
		}
	}
	id, err := kv.AddVersion(ctx)
	if err != nil {
		return newID, nil, fmt.Errorf("guard: Rotate: add version: %w", err)
	}
	return id, &old, nil
}

var proveAD = []byte("fieldguard.pii/guard rotation probe")

// secondReader opens the second reader: RotateOptions.SecondReader, or a
// new Client over the Guard's backend.
func (g *Guard) secondReader(ctx context.Context, o RotateOptions) (keyprovider.KeyProvider, error) {
	if o.SecondReader == nil {
		return keyprovider.NewClient(g.kp.Backend(), nil), nil
	}
	r, err := o.SecondReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("guard: Rotate: second reader: %w", err)
	}
	return r, nil
}

// proveListed checks, before the new version is promoted, that the second
// reader lists it as enabled (when it can list versions: a reader that
// has the version can unwrap under it).
func (g *Guard) proveListed(ctx context.Context, o RotateOptions, newID keyprovider.KeyID) error {
	r, err := g.secondReader(ctx, o)
	if err != nil {
		return err
	}
	var vs []keyprovider.Version
	switch d := r.(type) {
	case *keyprovider.Client:
		vs, err = d.Versions(ctx)
		if errors.Is(err, errors.ErrUnsupported) {
			return nil
		}
	case keyprovider.Describer:
		vs, err = d.Versions(ctx)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("guard: Rotate: second reader: %w", err)
	}
	for _, v := range vs {
		if v.ID.Version == newID.Version && v.Status == keyprovider.StatusEnabled {
			return nil
		}
	}
	return fmt.Errorf("guard: Rotate: the second reader does not see version %s enabled; it is not promoted", newID.Version)
}

// prove wraps a probe key under the (now primary) new version and checks
// that a second reader unwraps it to the same key.
func (g *Guard) prove(ctx context.Context, o RotateOptions, newID keyprovider.KeyID) error {
	probe := make([]byte, 32)
	rand.Read(probe)
	defer clear(probe)
	w, id, err := g.kp.Wrap(ctx, probe, proveAD)
	if err != nil {
		return fmt.Errorf("guard: Rotate: prove: %w", err)
	}
	if id.String() != newID.String() {
		return fmt.Errorf("guard: Rotate: prove: the probe was wrapped under %s, not the new version %s", id, newID)
	}
	reader, err := g.secondReader(ctx, o)
	if err != nil {
		return err
	}
	back, err := reader.Unwrap(ctx, w, proveAD)
	if err != nil {
		return fmt.Errorf("guard: Rotate: the second reader cannot unwrap under the new version: %w", err)
	}
	same := bytes.Equal(back, probe)
	clear(back)
	if !same {
		return errors.New("guard: Rotate: the second reader unwrapped the probe to another key")
	}
	return nil
}

// rewrapJob runs a resumable envelope rewrap, saving its cursor after
// every batch.
func (g *Guard) rewrapJob(ctx context.Context, rs rotationState, key, step string, total int64, o RotateOptions,
	job func(context.Context, envelope.RewrapOptions) (envelope.Progress, error)) error {
	cursor, err := rs.get(ctx, key)
	if err != nil {
		return err
	}
	_, err = job(ctx, envelope.RewrapOptions{BatchSize: o.BatchSize, Cursor: cursor, Progress: func(p envelope.Progress) error {
		if o.Progress != nil {
			o.Progress(step, int64(p.Scanned), total)
		}
		return rs.set(ctx, key, p.Cursor)
	}})
	if err != nil {
		return fmt.Errorf("guard: Rotate: %w", err)
	}
	return rs.set(ctx, key, "")
}

// countKeys counts the key store's records of the kinds.
func (g *Guard) countKeys(ctx context.Context, kinds ...envelope.Kind) (int64, error) {
	var n int64
	for _, k := range kinds {
		if err := listAll(ctx, g.keys, k, func(envelope.Record) error { n++; return nil }); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// verifyRotation checks that every KMS-wrapped key is under newID and that
// every registered record opens with cold caches.
func (g *Guard) verifyRotation(ctx context.Context, newID keyprovider.KeyID, progress func(string, int64, int64)) error {
	stale := 0
	for _, k := range envelope.KMSWrappedKinds() {
		if err := listAll(ctx, g.keys, k, func(r envelope.Record) error {
			if r.KEK != newID.String() {
				stale++
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if stale > 0 {
		return fmt.Errorf("%w: %d KMS-wrapped keys are not under %s", ErrRotateVerify, stale, newID)
	}
	// Cold: a Sealer and a tokenizer of their own, every key through the KMS.
	_, err := g.Verify(ctx, &VerifyOptions{Progress: func(r VerifyReport) error {
		progress("verify", r.Records, 0)
		return nil
	}})
	if errors.Is(err, ErrVerify) {
		return fmt.Errorf("%w: %s", ErrRotateVerify, strings.TrimPrefix(err.Error(), "guard: Verify: "))
	}
	return err
}

// rotationState keeps Rotate's progress.
type rotationState interface {
	get(ctx context.Context, name string) (string, error)
	set(ctx context.Context, name, value string) error
	reset(ctx context.Context) error
}

func (g *Guard) rotState() rotationState {
	if g.db == nil {
		return g.memRot
	}
	return &sqlRotation{db: g.db, d: g.dialect, table: g.names.rotation}
}

// rotationDDL is the table a running Rotate keeps its state in, so a call
// after an interruption resumes.
func rotationDDL(d sqldialect.Dialect, table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);`
}

func (g *Guard) createRotation(ctx context.Context) error {
	_, err := g.db.ExecContext(ctx, rotationDDL(g.dialect, g.names.rotation))
	return err
}

type sqlRotation struct {
	db    *sql.DB
	d     sqldialect.Dialect
	table string
}

func (s *sqlRotation) get(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT value FROM `+s.table+` WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("guard: rotation state: %w", err)
	}
	return v, nil
}

func (s *sqlRotation) set(ctx context.Context, name, value string) error {
	_, err := s.db.ExecContext(ctx, s.d.Rebind(`INSERT INTO `+s.table+` (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, value)
	if err != nil {
		return fmt.Errorf("guard: rotation state: %w", err)
	}
	return nil
}

func (s *sqlRotation) reset(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table); err != nil {
		return fmt.Errorf("guard: rotation state: %w", err)
	}
	return nil
}

type memRotation struct {
	mu sync.Mutex
	m  map[string]string
}

func (m *memRotation) get(_ context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[name], nil
}

func (m *memRotation) set(_ context.Context, name, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]string{}
	}
	m.m[name] = value
	return nil
}

func (m *memRotation) reset(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m = nil
	return nil
}
