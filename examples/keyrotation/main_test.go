package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
)

// TestMain lets the test binary act as the second reader when a run
// inside the test starts it (os.Executable is the test binary then).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == readerCommand {
		os.Exit(runReader(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// binary builds the example once per test run, as `go run` would.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binDir, buildErr = os.MkdirTemp("", "keyrotation-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "keyrotation")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return o.String(), e.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return o.String(), e.String(), 0
}

var workFolderRE = regexp.MustCompile(`(?m)^Working folder: (.+)$`)

// TestNoArguments is what a new user runs: no flags, no server.
func TestNoArguments(t *testing.T) {
	tmp := t.TempDir()
	out, errOut, code := runBinary(t, []string{"TMPDIR=" + tmp})
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut, out)
	require.Empty(t, errOut)

	for _, want := range []string{
		"WARNING: a development master key was generated",
		"[4/9] Prove a second reader can unwrap under the new version",
		"reader unwrapped under version",
		"Summary",
		"safe to destroy",
	} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `(?m)^\s+records\s+3000$`, out)
	require.Regexp(t, `(?m)^\s+data keys rewrapped\s+3000$`, out)
	require.Regexp(t, `(?m)^\s+verification\s+3000/3000 OK$`, out)
	require.Regexp(t, `(?m)^\s+KMS calls \(this run\)\s+\d+`, out)

	m := workFolderRE.FindStringSubmatch(out)
	require.NotNil(t, m, "working folder not printed")
	dir := m[1]
	require.Equal(t, tmp, filepath.Dir(dir), "a fresh folder under the temp dir")

	// The master key is stored 0600 and never printed.
	st, err := os.Stat(filepath.Join(dir, masterFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	master, err := local.MasterKeyFromFile(filepath.Join(dir, masterFile))
	require.NoError(t, err)
	require.NotContains(t, out, local.EncodeMasterKey(master))

	// The old version is disabled, not destroyed, without --destroy-old;
	// a resumed run with --destroy-old destroys it.
	kp, err := local.Open(filepath.Join(dir, keysetFile), master)
	require.NoError(t, err)
	require.Equal(t, map[keyprovider.Status]int{keyprovider.StatusEnabled: 1, keyprovider.StatusDisabled: 1}, statusCounts(t, kp))

	out, errOut, code = runBinary(t, nil, "--resume", "--dir", dir, "--destroy-old")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.Contains(t, out, "destroyed; its key material is gone for good")
	require.Regexp(t, `(?m)^\s+verification\s+3000/3000 OK$`, out)
	require.NoError(t, kp.Reload())
	require.Equal(t, map[keyprovider.Status]int{keyprovider.StatusEnabled: 1, keyprovider.StatusDestroyed: 1}, statusCounts(t, kp))
	checkDataKeys(t, dir, openSQLite(t, dir), 3000)
}

func statusCounts(t *testing.T, kp *local.Provider) map[keyprovider.Status]int {
	t.Helper()
	vs, err := kp.Versions(context.Background())
	require.NoError(t, err)
	n := map[keyprovider.Status]int{}
	for _, v := range vs {
		n[v.Status]++
	}
	return n
}

// TestBadInput: bad flags and unreachable services give one line on
// stderr and a non-zero exit, never a stack trace.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"records not a number", []string{"--records", "many"}, 2, `invalid value "many" for flag -records`},
		{"records zero", []string{"--records", "0"}, 2, "--records must be between 1 and"},
		{"batch zero", []string{"--batch", "0"}, 2, "--batch must be between 1 and"},
		{"stray argument", []string{"rotate"}, 2, `unexpected argument "rotate"`},
		{"resume without dir", []string{"--resume"}, 2, "--resume needs --dir"},
		{"resume missing dir", []string{"--resume", "--dir", filepath.Join(t.TempDir(), "nope")}, 1, "does not exist"},
		{"db scheme", []string{"--db", "mysql://localhost/x"}, 2, "--db: want sqlite:PATH or a postgres:// URL"},
		{"db unreachable", []string{"--db", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5"}, 1, "is unreachable"},
		{"kms unknown", []string{"--kms", "nosuch://key"}, 2, "--kms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			require.Equal(t, tc.code, code)
			msg := errOut.String()
			require.Equal(t, 1, strings.Count(msg, "\n"), "one line: %q", msg)
			require.True(t, strings.HasPrefix(msg, "keyrotation: "), msg)
			require.Contains(t, msg, tc.want)
			require.NotContains(t, msg, "goroutine")
			require.NotContains(t, msg, "secret", "no password in the message")
		})
	}

	t.Run("help", func(t *testing.T) {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, run(context.Background(), []string{"-h"}, &out, &errOut))
		for _, f := range []string{"-dir", "-kms", "-db", "-records", "-resume", "-rotate-branch", "-destroy-old"} {
			require.Contains(t, out.String(), f)
		}
		require.Empty(t, errOut.String())
	})
}

// TestCrashResumeSQLite kills the example with SIGKILL at 20 random points
// of the rewrap, resumes it each time, and checks that every key still
// unwraps to its original and the rewrap completed exactly once per key.
func TestCrashResumeSQLite(t *testing.T) {
	dir := t.TempDir()
	db := openSQLite(t, dir)
	crashAndResume(t, dir, nil, db)
	checkDataKeys(t, dir, db, crashRecords)
}

// TestCrashResumePostgres is the same on PostgreSQL.
func TestCrashResumePostgres(t *testing.T) {
	db, url := testdb.Postgres(t)
	dir := t.TempDir()
	crashAndResume(t, dir, []string{"--db", url}, db)
	checkDataKeys(t, dir, db, crashRecords)
}

const (
	crashRecords = 500
	crashKills   = 20
)

func crashAndResume(t *testing.T, dir string, extra []string, db *sql.DB) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill points from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	// 50 batches of 10 with a 20 ms pause each: the rewrap takes over a
	// second, and 20 kills at most 35 ms into it leave it unfinished.
	args := append([]string{"--dir", dir, "--records", "500", "--batch", "10"}, extra...)
	env := append(os.Environ(), batchDelayEnv+"=20ms")

	for kill := range crashKills {
		a := args
		if kill > 0 {
			a = append(a[:len(a):len(a)], "--resume")
		}
		cmd := exec.Command(binary(t), a...)
		cmd.Env = env
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		pipe, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(pipe)
		inRewrap := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "[6/9] Rewrap") {
				inRewrap = true
				break
			}
		}
		if !inRewrap {
			_ = cmd.Wait()
			t.Fatalf("run %d ended before the rewrap: %s", kill, errOut.String())
		}
		time.Sleep(time.Duration(rng.Int64N(int64(35 * time.Millisecond))))
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_, _ = bufio.NewReader(pipe).WriteTo(&bytes.Buffer{})
		err = cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL,
			"run %d finished before it was killed (err %v); the rewrap is too fast for this test", kill, err)

		if kill == 0 {
			// Starting again without --resume is refused, one line.
			var o, e bytes.Buffer
			code := run(context.Background(), args, &o, &e)
			require.Equal(t, 1, code)
			require.Contains(t, e.String(), "--resume")
		}
	}

	// The killed runs made progress that the resume continues from.
	var done int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM kr_data_keys WHERE kek = (SELECT value FROM kr_state WHERE name = 'new_version')`).Scan(&done))
	t.Logf("%d of %d keys rewrapped by the %d killed runs", done, crashRecords, crashKills)
	require.Positive(t, done)
	require.Less(t, done, crashRecords)

	out, errOut, code := runBinary(t, nil, append(args, "--resume")...)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut, out)
	require.Regexp(t, `(?m)^\s+verification\s+500/500 OK$`, out)
	require.Contains(t, out, "data keys rewrapped")
}

func openSQLite(t *testing.T, dir string) *sql.DB {
	t.Helper()
	return testdb.OpenSQLite(t, filepath.Join(dir, "keyrotation.db"))
}

// checkDataKeys checks the database on its own, without the example's
// code paths: every row unwraps under the keyset to a key matching its key
// check value, every row is under the new version, and each was rewrapped
// exactly once (the committed count equals the number of keys).
func checkDataKeys(t *testing.T, dir string, db *sql.DB, want int) {
	t.Helper()
	ctx := context.Background()
	master, err := local.MasterKeyFromFile(filepath.Join(dir, masterFile))
	require.NoError(t, err)
	kp, err := local.Open(filepath.Join(dir, keysetFile), master)
	require.NoError(t, err)
	newV := kp.Primary().Version

	state := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT name, value FROM kr_state`)
	require.NoError(t, err)
	for rows.Next() {
		var k, v string
		require.NoError(t, rows.Scan(&k, &v))
		state[k] = v
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, newV, state["new_version"])
	require.NotEqual(t, newV, state["old_version"])
	require.Equal(t, "1", state["done_rewrap"])
	require.Equal(t, "1", state["done_promote"])

	rows, err = db.QueryContext(ctx, `SELECT id, wrapped, kek, kcv FROM kr_data_keys ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var w, check []byte
		var kek string
		require.NoError(t, rows.Scan(&id, &w, &kek, &check))
		n++
		require.Equal(t, int64(n), id)
		require.Equal(t, newV, kek, "key %d not rewrapped", id)
		key, err := kp.Unwrap(ctx, w, dataKeyAD(id))
		require.NoError(t, err, "key %d", id)
		require.True(t, hmac.Equal(dataKeyKCV(key, id), check), "key %d does not unwrap to its original", id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, n)
	require.Equal(t, want, mustAtoi(t, state["rewrapped_total"]), "each key rewrapped exactly once")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', "not a number: %q", s)
		n = n*10 + int(c-'0')
	}
	return n
}
