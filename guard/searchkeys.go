// Rotation of the tenants' search root keys, with the re-index of every
// registered table.

package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/searchkeys"
	"github.com/fieldguard/pii/retention"
	"github.com/fieldguard/pii/retention/sqlstore"
)

// registeredTable is what internal/guardtool.RegisterTable registers: retention's store over
// the table, and the migration that re-indexes it.
type registeredTable struct {
	*sqlstore.Table
	mg *Migration
}

// reindexer is a registered store the Guard can re-index itself: the
// tables of NewTable and guardtool.RegisterTable.
type reindexer interface{ searchMigration() *Migration }

func (s *tableStore) searchMigration() *Migration      { return s.mg }
func (s *registeredTable) searchMigration() *Migration { return s.mg }

// searchMigration returns the migration that re-indexes the table of
// prototype, or nil when the type has nothing a search key covers (no
// index or encrypt=det field).
func searchMigration(g tableGuard, prototype any, opts *TableOptions) *Migration {
	if !searchable(prototype) {
		return nil
	}
	mg, err := newMigration(g, prototype, opts)
	if err != nil {
		return nil // NewTable and guardtool.RegisterTable map the type the same way and report it
	}
	return mg
}

func searchable(prototype any) bool {
	sc, err := pii.SchemaOf(prototype)
	if err != nil {
		return false
	}
	for _, f := range sc.Fields {
		if f.Opts.Index || f.Opts.Encrypt == pii.EncryptDet {
			return true
		}
	}
	return false
}

// SearchRotateOptions configure RotateSearchKeys. Nil means the defaults.
type SearchRotateOptions struct {
	// Reindex seals again every row of the registered stores that are
	// not tables of NewTable (or of the pii command) and hold blind indexes or
	// encrypt=det values (Sealer.Seal of a sealed struct re-indexes it).
	// RotateSearchKeys refuses to retire the old versions without it when
	// there are such stores.
	Reindex func(ctx context.Context) error
	// Migrate configures the re-index of each table: batch size, rate
	// limit, progress (Job "reindex:<table>"), job table. DryRun and
	// Restart are not allowed.
	Migrate *MigrateOptions
}

// SearchRotation says where RotateSearchKeys stands.
type SearchRotation struct {
	// Step is the step the call took or waits to take: "added" (new
	// versions made; lookups compute them), "promoted" (writes use them),
	// or "done" (rows re-indexed, old versions retired).
	Step string
	// Ready is when the next call can take the next step: every process
	// must first have seen this one (Cache.MaxAge plus a margin). Zero
	// when done.
	Ready time.Time
	// Tenants is the number of tenants rotated.
	Tenants int
}

// searchJob names the rotation's row in the job table.
const searchJob = "search-rotation"

// RotateSearchKeys rotates every tenant's search root key (the key of blind
// indexes and deterministic values) without a lookup ever missing a row,
// one step per call; call it again at or after the Ready it returns
// (from a cron job, say) until Step is "done". The steps, for all tenants
// together:
//
//  1. add a new version; lookups in every process compute blind indexes
//     and deterministic values under it too (within Cache.MaxAge);
//  2. at Ready, promote it: Seal writes under it from then on;
//  3. at Ready (every process now writes under it), re-index every
//     registered table in resumable batches (a Migration's job
//     "reindex:<table>", verified), and opts.Reindex for other stores;
//     then retire the old versions.
//
// The state lives in the key store and the job table, so a call after an
// interruption resumes; a call after "done" starts a new rotation. Run one
// at a time. See envelope's package doc, "Key rotation".
func (g *Guard) RotateSearchKeys(ctx context.Context, opts *SearchRotateOptions) (SearchRotation, error) {
	var o SearchRotateOptions
	if opts != nil {
		o = *opts
	}
	mo := o.Migrate.withDefaults()
	if mo.DryRun || mo.Restart {
		return SearchRotation{}, errors.New("guard: RotateSearchKeys: Migrate.DryRun and Migrate.Restart do not apply")
	}
	if g.db == nil {
		return SearchRotation{}, errors.New("guard: RotateSearchKeys needs a Guard built by New with a *sql.DB")
	}
	jt, err := newJobTable(g.dialect, mo.JobTable)
	if err != nil {
		return SearchRotation{}, err
	}
	if err := jt.create(ctx, g.db); err != nil {
		return SearchRotation{}, err
	}
	job, _, found, err := jt.load(ctx, g.db, searchJob, false)
	if err != nil {
		return SearchRotation{}, err
	}
	running := found && job.Phase != "done"
	s := searchkeys.Of(g.seal)
	states, err := g.searchStates(ctx)
	if err != nil {
		return SearchRotation{}, err
	}
	rot := SearchRotation{Tenants: len(states)}
	var pending, old []string
	for t, st := range states {
		switch {
		case st.Pending != 0:
			pending = append(pending, t)
		case len(st.Lookup) > 1:
			old = append(old, t)
		}
	}
	setPhase := func(phase string) error {
		return jt.saveState(ctx, g.db, &jobState{MigrateReport: MigrateReport{Job: searchJob, Phase: phase}})
	}
	latest := func(ts []string) (time.Time, bool) {
		var r time.Time
		for _, t := range ts {
			r = maxTime(r, states[t].Ready)
		}
		return r, !r.After(g.clock.Now())
	}
	switch {
	case len(pending) > 0:
		rot.Step = "added"
		ready, ok := latest(pending)
		if !ok {
			rot.Ready = ready
			return rot, nil
		}
		for _, t := range pending {
			if err := s.Promote(ctx, t, states[t].Pending); err != nil {
				return rot, err
			}
		}
		rot.Step = "promoted"
		if rot.Ready, err = g.searchReady(ctx, pending); err != nil {
			return rot, err
		}
		return rot, setPhase("pass")
	case len(old) > 0:
		rot.Step = "promoted"
		ready, ok := latest(old)
		if !ok {
			rot.Ready = ready
			return rot, nil
		}
		if err := g.reindexAll(ctx, &o, mo); err != nil {
			return rot, err
		}
		for _, t := range old {
			if err := s.Retire(ctx, t); err != nil {
				return rot, err
			}
		}
		rot.Step = "done"
		return rot, setPhase("done")
	case running:
		rot.Step = "done"
		return rot, setPhase("done")
	}
	// Start a rotation.
	if err := setPhase("pass"); err != nil {
		return rot, err
	}
	var all []string
	for t := range states {
		if _, err := s.Add(ctx, t); err != nil {
			return rot, err
		}
		all = append(all, t)
	}
	rot.Step = "added"
	rot.Ready, err = g.searchReady(ctx, all)
	return rot, err
}

// searchReady returns when the next step may be taken for every tenant of
// ts.
func (g *Guard) searchReady(ctx context.Context, ts []string) (time.Time, error) {
	var r time.Time
	for _, t := range ts {
		st, err := searchkeys.Of(g.seal).State(ctx, t)
		if err != nil {
			return time.Time{}, err
		}
		r = maxTime(r, st.Ready)
	}
	return r, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// searchStates reads the search key state of every tenant that has one.
func (g *Guard) searchStates(ctx context.Context) (map[string]searchkeys.State, error) {
	steps := searchkeys.Of(g.seal)
	out := map[string]searchkeys.State{}
	after := ""
	for first := true; ; first = false {
		ts, err := steps.Tenants(ctx, after, 100)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if _, dup := out[t]; dup && !first {
				return nil, fmt.Errorf("guard: RotateSearchKeys: the key store listed tenants out of order")
			}
			st, err := steps.State(ctx, t)
			if err != nil {
				return nil, err
			}
			out[t] = st
		}
		if len(ts) < 100 {
			return out, nil
		}
		after = ts[len(ts)-1]
	}
}

// reindexAll re-indexes every registered store that holds what a search
// key covers.
func (g *Guard) reindexAll(ctx context.Context, o *SearchRotateOptions, mo MigrateOptions) error {
	var foreign []string
	for _, st := range g.registered() {
		if r, ok := st.(reindexer); ok {
			if mg := r.searchMigration(); mg != nil {
				if _, err := mg.run(ctx, "reindex", &mo); err != nil {
					return err
				}
			}
			continue
		}
		if searchableStore(st) {
			foreign = append(foreign, st.Schema().Name)
		}
	}
	if len(foreign) > 0 {
		if o.Reindex == nil {
			return fmt.Errorf("guard: RotateSearchKeys: registered stores of %v hold blind indexes or encrypt=det values the Guard cannot re-index itself: pass SearchRotateOptions.Reindex", foreign)
		}
		return o.Reindex(ctx)
	}
	return nil
}

func searchableStore(st retention.Store) bool {
	sc := st.Schema()
	return sc != nil && searchable(sc.Type)
}
