package sqlkeystore_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

// Two processes creating the first keys of the same data subjects at the
// same time: this test binary runs itself twice as the two processes
// (raceChild), and steps them through the interleavings that matter with
// lines on their stdin and stdout:
//
//   - "winner" seals a slice of new subjects in a transaction (its DEKs
//     are written, uncommitted), then commits or rolls back when told;
//   - "loser" seals the same subjects outside any transaction; a store
//     wrapper stops it after its lookup (which cannot see the winner's
//     uncommitted rows) until it is told to go on, so its insert meets
//     the winner's rows: committed, or still uncommitted (PostgreSQL makes
//     the insert wait on them).
//
// Both must end with one DEK per subject that both used: every value
// either sealed opens in a third process's Sealer, under the one stored
// DEK.

const (
	envRaceChild = "SQLKEYSTORE_RACE_CHILD"  // winner or loser
	envRaceDB    = "SQLKEYSTORE_RACE_DB"     // sqlite:PATH or a postgres URL
	envRaceN     = "SQLKEYSTORE_RACE_N"      // subjects
	raceLine     = "SQLKEYSTORE_RACE_EVENT " // the prefix of the children's protocol lines
	raceTenant   = "acme"
)

// raceKey is the test's KEK, the same in every process (a test key:
// never hard-code one in production).
var raceKey = []byte("0123456789abcdef0123456789abcdef")

func raceCustomers(n int) []Customer {
	out := make([]Customer, n)
	for i := range out {
		out[i] = *customer(fmt.Sprintf("race-%04d", i))
	}
	return out
}

// withoutIndex clears the blind indexes Seal wrote, for comparing with
// the records before sealing.
func withoutIndex(cs []Customer) []Customer {
	for i := range cs {
		cs[i].EmailIdx = ""
	}
	return cs
}

func openRaceDB(t *testing.T, dsn string) (*sql.DB, *sqlkeystore.Store) {
	t.Helper()
	var db *sql.DB
	var d pii.Dialect
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, d = testdb.OpenSQLite(t, path), pii.SQLite
	} else {
		var err error
		db, err = sql.Open("pgx", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		d = pii.Postgres
	}
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d})
	require.NoError(t, err)
	return db, st
}

// pausedStore stops after the first LatestMany until told to go on.
type pausedStore struct {
	*sqlkeystore.Store
	pause func()
}

func (p *pausedStore) LatestMany(ctx context.Context, scopes []envelope.ScopeRef) ([]envelope.Record, error) {
	recs, err := p.Store.LatestMany(ctx, scopes)
	if p.pause != nil {
		pause := p.pause
		p.pause = nil
		pause()
	}
	return recs, err
}

// raceChild is one of the two processes.
func raceChild(t *testing.T, role string) {
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	say := func(event string, v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		fmt.Printf("%s%s %s\n", raceLine, event, b)
	}
	wait := func(want string) {
		require.True(t, in.Scan(), "stdin closed waiting for %q", want)
		require.Equal(t, want, in.Text())
	}
	db, st := openRaceDB(t, os.Getenv(envRaceDB))
	var n int
	_, err := fmt.Sscan(os.Getenv(envRaceN), &n)
	require.NoError(t, err)
	cs := raceCustomers(n)
	ps := &pausedStore{Store: st}
	s, err := envelope.New(testkp.New(raceKey), &envelope.Options{Store: ps})
	require.NoError(t, err)
	switch role {
	case "winner":
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer tx.Rollback()
		require.NoError(t, s.Seal(pii.WithExecutor(ctx, tx), cs))
		say("sealed", nil)
		in.Scan()
		switch in.Text() {
		case "commit":
			require.NoError(t, tx.Commit())
		case "rollback":
			require.NoError(t, tx.Rollback())
		default:
			t.Fatalf("winner: unexpected %q", in.Text())
		}
		say("done", cs)
	case "loser":
		ps.pause = func() {
			say("looked", nil)
			wait("go")
		}
		require.NoError(t, s.Seal(ctx, cs))
		say("done", cs)
	default:
		t.Fatalf("unknown role %q", role)
	}
}

// raceProc is a running child.
type raceProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan [2]string // event, JSON
	mu     sync.Mutex
	out    strings.Builder // the child's other output, for failure messages
}

func (p *raceProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startRaceChild(t *testing.T, role, dsn string, n int) *raceProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirstKeyRaceProcesses$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envRaceChild+"="+role, envRaceDB+"="+dsn, fmt.Sprint(envRaceN, "=", n))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	p := &raceProc{cmd: cmd, stdin: stdin, events: make(chan [2]string, 8)}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, raceLine); ok {
				ev, js, _ := strings.Cut(rest, " ")
				p.events <- [2]string{ev, js}
				continue
			}
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
		}
		close(p.events)
	}()
	return p
}

// expect waits for the child's next event, which must be want, and
// returns its JSON.
func (p *raceProc) expect(t *testing.T, want string) string {
	t.Helper()
	select {
	case ev, ok := <-p.events:
		require.True(t, ok, "child exited waiting for %q; its output:\n%s", want, p.output())
		require.Equal(t, want, ev[0])
		return ev[1]
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatalf("no %q from the child; its output:\n%s", want, p.output())
		return ""
	}
}

func (p *raceProc) send(t *testing.T, line string) {
	t.Helper()
	_, err := io.WriteString(p.stdin, line+"\n")
	require.NoError(t, err)
}

func (p *raceProc) customers(t *testing.T, js string) []Customer {
	t.Helper()
	var cs []Customer
	require.NoError(t, json.Unmarshal([]byte(js), &cs))
	require.NoError(t, p.cmd.Wait(), p.output())
	return cs
}

func TestFirstKeyRaceProcesses(t *testing.T) {
	if role := os.Getenv(envRaceChild); role != "" {
		raceChild(t, role)
		return
	}
	const n = 200
	type scenario struct {
		name     string
		postgres bool
		run      func(t *testing.T, winner, loser *raceProc, waitingOnLock func()) (winnerDone string)
		commit   bool
	}
	scenarios := []scenario{
		{name: "the loser inserts after the winner committed", commit: true,
			run: func(t *testing.T, w, l *raceProc, _ func()) string {
				w.send(t, "commit")
				done := w.expect(t, "done")
				l.send(t, "go")
				return done
			}},
		{name: "the loser's insert waits on the winner's uncommitted rows", postgres: true, commit: true,
			run: func(t *testing.T, w, l *raceProc, waitingOnLock func()) string {
				l.send(t, "go")
				waitingOnLock()
				w.send(t, "commit")
				return w.expect(t, "done")
			}},
		{name: "the winner rolls back", commit: false,
			run: func(t *testing.T, w, l *raceProc, _ func()) string {
				w.send(t, "rollback")
				done := w.expect(t, "done")
				l.send(t, "go")
				return done
			}},
		{name: "the winner rolls back while the loser's insert waits", postgres: true, commit: false,
			run: func(t *testing.T, w, l *raceProc, waitingOnLock func()) string {
				l.send(t, "go")
				waitingOnLock()
				w.send(t, "rollback")
				return w.expect(t, "done")
			}},
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, sc := range scenarios {
			if sc.postgres && dialect != "postgres" {
				continue
			}
			t.Run(dialect+"/"+sc.name, func(t *testing.T) {
				ctx := context.Background()
				var dsn, app string
				var db *sql.DB
				var st *sqlkeystore.Store
				if dialect == "sqlite" {
					path := filepath.Join(t.TempDir(), "race.db")
					dsn = "sqlite:" + path
					db, st = openRaceDB(t, dsn)
				} else {
					var url string
					db, url = testdb.Postgres(t)
					app = fmt.Sprintf("sqlkeystore_race_%d_%d", os.Getpid(), time.Now().UnixNano())
					dsn = url + "&application_name=" + app
					st, _ = sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres})
				}
				require.NoError(t, st.CreateTables(ctx))
				kp := testkp.New(raceKey)
				// The tenant's branch and search root keys exist already, so
				// the processes race on the subjects' DEKs only.
				seed, err := envelope.New(kp, &envelope.Options{Store: st})
				require.NoError(t, err)
				require.NoError(t, seed.Seal(ctx, customer("someone else")))

				waitingOnLock := func() {
					for {
						var waiting int
						require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
							WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting))
						if waiting > 0 {
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
				w := startRaceChild(t, "winner", dsn, n)
				w.expect(t, "sealed")
				l := startRaceChild(t, "loser", dsn, n)
				l.expect(t, "looked")
				winnerDone := sc.run(t, w, l, waitingOnLock)
				loserCS := l.customers(t, l.expect(t, "done"))

				// One DEK per subject, that the loser used.
				var deks int
				require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM pii_keys WHERE kind = 'dek' AND scope LIKE 's:race-%'").Scan(&deks))
				require.Equal(t, n, deks, "one DEK per subject")
				reader, err := envelope.New(kp, &envelope.Options{Store: st})
				require.NoError(t, err)
				got := slices.Clone(loserCS)
				require.NoError(t, reader.Open(ctx, got), "the loser's values open under the stored DEKs")
				require.Equal(t, raceCustomers(n), withoutIndex(got))
				if !sc.commit {
					return
				}
				var winnerCS []Customer
				require.NoError(t, json.Unmarshal([]byte(winnerDone), &winnerCS))
				got = slices.Clone(winnerCS)
				require.NoError(t, reader.Open(ctx, got), "the winner's values open under the same DEKs")
				require.Equal(t, raceCustomers(n), withoutIndex(got))
			})
		}
	}
}
