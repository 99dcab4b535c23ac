package sqlkeystore_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/envelope/sqlkeystore/pglisten"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

// A fleet: this test binary runs itself as several processes on one
// PostgreSQL key store (fleetChild), each with its own Sealer, and reads
// what they did from their stdout, one line per operation:
//
//	S <start ns> <DEK id> <record> <ciphertext>   a value sealed
//	O <start ns> <DEK id> ok|shredded|<error>     a value opened
//	F <ns>                                        ForgetSubject returned
//
// A child stops when its stdin closes.

const (
	envFleetRole  = "SQLKEYSTORE_FLEET_ROLE" // user, forgetter, limiter
	envFleetURL   = "SQLKEYSTORE_FLEET_URL"
	envFleetTable = "SQLKEYSTORE_FLEET_TABLE"
	envFleetMode  = "SQLKEYSTORE_FLEET_MODE" // feed (pglisten) or poll (ShredCheck alone)
	envFleetProc  = "SQLKEYSTORE_FLEET_PROC"
	fleetCap      = 10_000 // messages per DEK in the limit test
	fleetPerProc  = 12_500 // values each limiter seals: 4 x 12,500 = 5 DEKs' worth
)

var fleetAlice = envelope.Binding{Tenant: "acme", Type: "Note", Field: "Body", Subject: "alice"}

// dekID reads the DEK id of a keyring-form ciphertext.
func dekID(t testing.TB, ct string) uint32 {
	bin, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(ct, "pii1."))
	if err != nil || len(bin) < 4 || !strings.HasPrefix(ct, "pii1.") {
		t.Fatalf("not a keyring ciphertext: %.20q", ct)
	}
	return uint32(bin[1])<<16 | uint32(bin[2])<<8 | uint32(bin[3])
}

// openFleetDB opens the key store of the fleet tests, making its table.
func openFleetDB(t *testing.T, url, table string) *sqlkeystore.Store {
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: pii.Postgres, Table: table})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(context.Background()))
	return st
}

// TestFleetChild is a process of the fleet tests; it does nothing unless
// run by them.
func TestFleetChild(t *testing.T) {
	role := os.Getenv(envFleetRole)
	if role == "" {
		t.Skip("a child process of the fleet tests")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openFleetDB(t, os.Getenv(envFleetURL), os.Getenv(envFleetTable))
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	emit := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		mu.Unlock()
	}
	defer func() { mu.Lock(); out.Flush(); mu.Unlock() }()
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	cache := envelope.CacheLimits{ShredCheck: time.Second}
	if role == "limiter" {
		cache.MaxMessages = fleetCap
	}
	s, err := envelope.New(testkp.New(raceKey), &envelope.Options{Store: st, Cache: cache})
	require.NoError(t, err)
	switch role {
	case "forgetter":
		require.NoError(t, s.ForgetSubject(ctx, "acme", "alice"))
		emit("F %d", time.Now().UnixNano())
	case "user":
		if os.Getenv(envFleetMode) == "feed" {
			go func() {
				if err := pglisten.Follow(ctx, s, os.Getenv(envFleetURL), &pglisten.Options{Interval: 100 * time.Millisecond}); err != nil {
					emit("E %d %v", time.Now().UnixNano(), err)
				}
			}()
		}
		proc := os.Getenv(envFleetProc)
		b := fleetAlice
		b.Record = proc + "-first"
		first, err := s.EncryptString(ctx, "the first value", b)
		require.NoError(t, err)
		emit("S %d %d %s %s", time.Now().UnixNano(), dekID(t, first), b.Record, first)
		for i := 0; !stopped(); i++ {
			b.Record = fmt.Sprintf("%s-%d", proc, i)
			start := time.Now().UnixNano()
			ct, err := s.EncryptString(ctx, "value "+b.Record, b)
			if err != nil {
				emit("E %d %v", start, err)
				continue
			}
			emit("S %d %d %s %s", start, dekID(t, ct), b.Record, ct)
			fb := fleetAlice
			fb.Record = proc + "-first"
			start = time.Now().UnixNano()
			_, err = s.DecryptString(ctx, first, fb)
			switch {
			case err == nil:
				emit("O %d %d ok", start, dekID(t, first))
			case strings.Contains(err.Error(), "forgotten"):
				emit("O %d %d shredded", start, dekID(t, first))
			default:
				emit("O %d %d %v", start, dekID(t, first), err)
			}
			time.Sleep(200 * time.Microsecond)
		}
	case "limiter":
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < fleetPerProc; i += 4 {
					b := fleetAlice
					b.Record = fmt.Sprintf("%s-%d", os.Getenv(envFleetProc), i)
					if i%2 == 1 {
						b.Subject = "" // the tenant's keys
					}
					ct, err := s.EncryptString(ctx, "value "+b.Record, b)
					if err != nil {
						emit("E 0 %v", err)
						return
					}
					emit("S 0 %d %s %s", dekID(t, ct), b.Record, ct)
				}
			}()
		}
		wg.Wait()
	}
}

// fleetProc is a running child and the lines it printed.
type fleetProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func startFleetProc(t *testing.T, role, url, table, mode string, n int) *fleetProc {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFleetRole+"="+role, envFleetURL+"="+url, envFleetTable+"="+table,
		envFleetMode+"="+mode, envFleetProc+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &fleetProc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if len(line) < 2 || line[1] != ' ' || !strings.ContainsRune("SOFE", rune(line[0])) {
				continue // the test framework's own output
			}
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return p
}

func (p *fleetProc) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// finish closes the child's stdin, waits for it and returns its lines.
func (p *fleetProc) finish(t *testing.T) []string {
	p.stdin.Close()
	<-p.done
	require.NoError(t, p.cmd.Wait(), "child %v", p.cmd.Env[len(p.cmd.Env)-5:])
	return p.lines
}

func waitFor(t *testing.T, what string, ok func() bool) {
	for deadline := time.Now().Add(2 * time.Minute); !ok(); time.Sleep(5 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "waiting for %s", what) // a failsafe, not a bound
	}
}

// TestFleetShredPropagation: four processes on one PostgreSQL key store;
// three seal values of one subject and open the first of them in a loop,
// the fourth forgets the subject. After ForgetSubject returns, none of
// them uses the subject's shredded DEK for longer than the bound (1
// second: ShredCheck without a feed; the feed delivers much sooner), and
// every value sealed after the bound is under the new key generation and
// opens. The longest use after the forget is reported, not asserted.
func TestFleetShredPropagation(t *testing.T) {
	for _, mode := range []string{"feed", "poll"} {
		t.Run(mode, func(t *testing.T) {
			_, url := testdb.Postgres(t)
			table := "r16_fleet_shred"
			st := openFleetDB(t, url, table)
			var users []*fleetProc
			for i := range 3 {
				users = append(users, startFleetProc(t, "user", url, table, mode, i))
			}
			for _, u := range users {
				waitFor(t, "the users to warm up", func() bool { return u.count() >= 300 })
			}
			f := startFleetProc(t, "forgetter", url, table, mode, 9)
			fl := f.finish(t)
			require.Len(t, fl, 1)
			forgotAt, err := strconv.ParseInt(strings.Fields(fl[0])[1], 10, 64)
			require.NoError(t, err)
			time.Sleep(2500 * time.Millisecond) // let the users run past the bound
			tomb, err := st.Latest(t.Context(), envelope.KindTombstone, "acme", "s:alice")
			require.NoError(t, err)
			wm := tomb.ID

			bound := time.Second
			fresh, err := envelope.New(testkp.New(raceKey), &envelope.Options{Store: st})
			require.NoError(t, err)
			var longest time.Duration
			lastUse := int64(0) // of the shredded key, before or after the forget returned
			sealedAfter, shreddedSeen := 0, 0
			for _, u := range users {
				for _, line := range u.finish(t) {
					fs := strings.Fields(line)
					require.NotEqual(t, "E", fs[0], "a user failed: %s", line)
					at, _ := strconv.ParseInt(fs[1], 10, 64)
					id, _ := strconv.ParseUint(fs[2], 10, 32)
					if fs[0] == "O" {
						require.Contains(t, []string{"ok", "shredded"}, fs[3], line)
						if fs[3] == "shredded" {
							shreddedSeen++
						}
					}
					used := fs[0] == "S" || fs[3] == "ok"
					if used && uint32(id) <= wm {
						lastUse = max(lastUse, at)
						if at > forgotAt {
							longest = max(longest, time.Duration(at-forgotAt))
						}
					}
					if fs[0] == "S" && at > forgotAt+int64(bound) {
						sealedAfter++
						b := fleetAlice
						b.Record = fs[3]
						pt, err := fresh.DecryptString(t.Context(), fs[4], b)
						require.NoError(t, err, "a value sealed after the bound must open")
						require.Equal(t, "value "+fs[3], pt)
					}
				}
			}
			t.Logf("%s: the longest use of the shredded key after ForgetSubject returned: %v (bound %v; last use %v from the return); %d values sealed after the bound, all open; %d opens refused",
				mode, longest, bound, time.Duration(lastUse-forgotAt), sealedAfter, shreddedSeen)
			require.Less(t, longest, bound, "a process used the shredded key past the bound")
			require.Positive(t, sealedAfter)
			require.Positive(t, shreddedSeen, "the first values stay shredded")
		})
	}
}

// TestFleetMessageLimit: four processes, four goroutines each, with a cap
// of 10,000 messages per DEK seal 50,000 values, half of one subject and
// half under the tenant's keys: counted from the ciphertexts, no DEK
// passes the cap, and every value opens.
func TestFleetMessageLimit(t *testing.T) {
	_, url := testdb.Postgres(t)
	table := "r16_fleet_limit"
	st := openFleetDB(t, url, table)
	var procs []*fleetProc
	for i := range 4 {
		procs = append(procs, startFleetProc(t, "limiter", url, table, "", i))
	}
	type key struct {
		scope string
		id    uint32
	}
	perDEK := map[key]int{}
	fresh, err := envelope.New(testkp.New(raceKey), &envelope.Options{Store: st})
	require.NoError(t, err)
	total := 0
	for _, p := range procs {
		lines := p.finish(t)
		for _, line := range lines {
			fs := strings.Fields(line)
			require.Equal(t, "S", fs[0], line)
			b := fleetAlice
			b.Record = fs[3]
			if n, _ := strconv.Atoi(fs[3][strings.IndexByte(fs[3], '-')+1:]); n%2 == 1 {
				b.Subject = ""
			}
			perDEK[key{b.Subject, dekID(t, fs[4])}]++
			pt, err := fresh.DecryptString(t.Context(), fs[4], b)
			require.NoError(t, err)
			require.Equal(t, "value "+fs[3], pt)
			total++
		}
	}
	require.Equal(t, 4*fleetPerProc, total)
	var ids []string
	for k, n := range perDEK {
		require.LessOrEqual(t, n, fleetCap, "DEK %d of scope %q: %d values", k.id, k.scope, n)
		ids = append(ids, fmt.Sprintf("%q#%d:%d", k.scope, k.id, n))
	}
	slices.Sort(ids)
	t.Logf("values per DEK (cap %d): %s", fleetCap, strings.Join(ids, " "))
	// Each scope sealed 25,000 values: at least three DEKs each.
	require.GreaterOrEqual(t, len(perDEK), 6)
}
