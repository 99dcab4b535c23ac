package guard

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/searchkeys"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/piitest"
)

// trot is searched by a normalised blind index and a deterministic value.
type trot struct {
	Tenant     string `pii:"tenant"`
	ID         string `pii:"id"`
	Email      string `pii:"email,encrypt,index=EmailIndex,norm=email"`
	EmailIndex string `pii:"-"`
	Login      string `pii:"username,encrypt=det,norm=lower"`
}

// TestSearchKeyRotationNeverMisses runs writers and lookups in three
// processes (Sealers with their own caches, sharing the key store and
// the table) through a whole search key rotation: add, promote,
// re-index, retire. Every lookup of a committed row must find it.
//
// The fake clock jumps by a whole Cache.MaxAge at a time; a write or
// lookup in flight across a jump would take longer than MaxAge, which the
// rotation's waits assume no operation does, so jumps wait for the
// operations in flight (ops).
func TestSearchKeyRotationNeverMisses(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		master, err := local.GenerateMasterKey()
		require.NoError(t, err)
		kp, err := local.Create(filepath.Join(t.TempDir(), "keyset.json"), master)
		require.NoError(t, err)
		clk := piitest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		const maxAge = 5 * time.Minute // envelope's default Cache.MaxAge, which the Guard uses
		settle := maxAge + 30*time.Second
		var procs []*Guard
		var tables []*Table[trot]
		for range 3 {
			g, err := New(kp, db, &Options{Clock: clk})
			require.NoError(t, err)
			tb, err := newTable[trot](g, &TableOptions{Table: "l14_rot"})
			require.NoError(t, err)
			require.NoError(t, g.CreateTables(ctx))
			procs, tables = append(procs, g), append(tables, tb)
		}

		var (
			ops       sync.RWMutex // a clock jump waits for the operations in flight
			mu        sync.Mutex
			committed []trot // rows in clear, as written
			lookups   atomic.Int64
			writes    atomic.Int64
			stop      atomic.Bool
			failures  = make(chan error, 16)
			wg        sync.WaitGroup
		)
		fail := func(err error) {
			select {
			case failures <- err:
			default:
			}
		}
		// Rows no writer touches again: only the re-index can move them to
		// the new version, so it must change at least these (the writers
		// may well have rewritten all of their own rows by then).
		const static = 25
		for n := range static {
			r := trot{Tenant: "acme", ID: fmt.Sprintf("s-%05d", n),
				Email: fmt.Sprintf("Static.%d@Example.com", n), Login: fmt.Sprintf("S-%d", n)}
			clear := r
			require.NoError(t, tables[2].Insert(ctx, &r))
			committed = append(committed, clear)
		}
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// New rows, then (so that the table stops growing and
				// the re-index ends) the same rows written again: each
				// write computes its indexes under the version its
				// process writes under at the time.
				const fresh = 120
				for k := 0; !stop.Load(); k++ {
					n := k
					if k >= fresh {
						n = (k * 7) % fresh
					}
					r := trot{Tenant: "acme", ID: fmt.Sprintf("w%d-%05d", w, n),
						Email: fmt.Sprintf("Writer%d.%d@Example.com", w, n), Login: fmt.Sprintf("W%d-%d", w, n)}
					clear := r
					ops.RLock()
					var err error
					if k < fresh {
						err = tables[w].Insert(ctx, &r)
					} else {
						err = tables[w].Update(ctx, &r)
					}
					ops.RUnlock()
					if err != nil {
						fail(err)
						return
					}
					if k < fresh {
						mu.Lock()
						committed = append(committed, clear)
						mu.Unlock()
					}
					writes.Add(1)
				}
			}()
		}
		for l := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(l), 7))
				tb := tables[1+l]
				for !stop.Load() {
					mu.Lock()
					n := len(committed)
					var r trot
					if n > 0 {
						r = committed[rng.IntN(n)]
					}
					mu.Unlock()
					if n == 0 {
						runtime.Gosched()
						continue
					}
					field, value := "Email", strings.ToUpper(r.Email)
					if rng.IntN(2) == 0 {
						field, value = "Login", strings.ToUpper(r.Login)
					}
					ops.RLock()
					found, err := tb.FindBy(ctx, "acme", field, value)
					ops.RUnlock()
					if err != nil {
						fail(err)
						return
					}
					if len(found) != 1 || found[0].ID != r.ID {
						fail(fmt.Errorf("lookup by %s of row %s found %d rows", field, r.ID, len(found)))
						return
					}
					lookups.Add(1)
				}
			}()
		}
		// waitOps lets at least n more writes and lookups happen.
		waitOps := func(n int64) {
			w0, l0 := writes.Load(), lookups.Load()
			for (writes.Load() < w0+n || lookups.Load() < l0+n) && len(failures) == 0 {
				runtime.Gosched()
			}
		}
		jump := func(d time.Duration) {
			ops.Lock()
			clk.Add(d)
			ops.Unlock()
		}
		s := procs[0].seal
		waitOps(20)
		v, err := searchkeys.Of(s).Add(ctx, "acme")
		require.NoError(t, err)
		waitOps(20)
		require.ErrorIs(t, searchkeys.Of(s).Promote(ctx, "acme", v), searchkeys.ErrTooSoon)
		jump(maxAge / 2)
		waitOps(10)
		jump(settle - maxAge/2)
		waitOps(10)
		require.NoError(t, searchkeys.Of(s).Promote(ctx, "acme", v))
		waitOps(20)
		jump(settle)
		waitOps(10)
		mg, err := newMigration(procs[2], trot{}, &TableOptions{Table: "l14_rot"})
		require.NoError(t, err)
		rep, err := mg.Seal(ctx, &MigrateOptions{BatchSize: 7, JobTable: "l14_rot_jobs", Progress: func(MigrateReport) error {
			waitOps(2) // writes and lookups run during the re-index
			return nil
		}})
		require.NoError(t, err)
		require.GreaterOrEqual(t, rep.Changed, int64(static), "the rows no writer rewrote were re-indexed")
		require.NoError(t, searchkeys.Of(s).Retire(ctx, "acme"))
		waitOps(20)
		jump(settle)
		waitOps(20)
		stop.Store(true)
		wg.Wait()
		close(failures)
		for err := range failures {
			require.NoError(t, err)
		}
		t.Logf("%d writes, %d lookups, %d rows re-indexed", writes.Load(), lookups.Load(), rep.Changed)

		// After the rotation: one version, and every row found by every
		// process.
		st, err := searchkeys.Of(s).State(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, []uint32{v}, st.Lookup)
		for _, r := range committed {
			for _, tb := range tables {
				found, err := tb.FindBy(ctx, "acme", "Email", r.Email)
				require.NoError(t, err)
				require.Len(t, found, 1, r.ID)
			}
		}
	})
}
