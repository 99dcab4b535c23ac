package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/internal/kmsfake/gcpkmstest"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/tokenize"
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
func buildBinary(t *testing.T) string {
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
	cmd := exec.Command(buildBinary(t), args...)
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
		"[4/10] Prove a second reader can unwrap under the new version",
		"reader unwrapped under version",
		"Summary",
		"safe to destroy",
	} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `(?m)^\s+records\s+10000$`, out)
	require.Regexp(t, `(?m)^\s+KMS-wrapped keys rewrapped\s+6 `, out)
	require.Regexp(t, `(?m)^\s+data keys rewrapped\s+0$`, out)
	require.Regexp(t, `(?m)^\s+verification\s+10000/10000 OK$`, out)
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
	require.NotContains(t, out, base64.StdEncoding.EncodeToString(master))

	// The old version is disabled, not destroyed, without --destroy-old;
	// a resumed run with --destroy-old destroys it.
	kp, err := local.Open(filepath.Join(dir, keysetFile), master)
	require.NoError(t, err)
	require.Equal(t, map[keyprovider.Status]int{keyprovider.StatusEnabled: 1, keyprovider.StatusDisabled: 1}, statusCounts(t, kp))

	out, errOut, code = runBinary(t, nil, "--resume", "--dir", dir, "--destroy-old")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.Contains(t, out, "destroyed; its key material is gone for good")
	require.Regexp(t, `(?m)^\s+verification\s+10000/10000 OK$`, out)
	require.NoError(t, kp.Reload())
	require.Equal(t, map[keyprovider.Status]int{keyprovider.StatusEnabled: 1, keyprovider.StatusDestroyed: 1}, statusCounts(t, kp))
	// The program verified all 10,000; an independent check of every 50th
	// keeps this test fast under -race (the crash tests check every record).
	checkStore(t, dir, openSQLite(t, dir), false, 10000, false, 50)
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
		{"resume with another db", []string{"--resume", "--dir", t.TempDir()}, 1, "holds no run"},
		{"db scheme", []string{"--db", "mysql://localhost/x"}, 2, "--db: want sqlite:PATH or a postgres:// URL"},
		{"db unreachable", []string{"--db", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5"}, 1, "is unreachable"},
		{"kms unknown", []string{"--kms", "nosuch://key"}, 2, `--kms: kmsuri: nosuch://key: unknown scheme "nosuch"`},
		{"kms malformed", []string{"--kms", "gcp-kms://projects/p"}, 2, "want gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K"},
		{"kms local without master key", []string{"--kms", "local:///nonexistent/keyset.json"}, 1, "PII_MASTER_KEY is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			t.Setenv(masterKeyEnv, "")
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
		for _, f := range []string{"-dir", "-kms", "-db", "-records", "-resume", "-rotate-branch", "-destroy-old", "-seed", "-batch"} {
			require.Contains(t, out.String(), f)
		}
		require.Empty(t, errOut.String())
	})
}

// TestCrashResumeSQLite kills the example with SIGKILL at 20 random points
// of the rewrap, resumes it each time, and checks that every record still
// opens to its original values and that the rewrap completed.
func TestCrashResumeSQLite(t *testing.T) {
	dir := t.TempDir()
	db := openSQLite(t, dir)
	crashAndResume(t, dir, nil, db)
	checkStore(t, dir, db, false, crashRecords, true, 1)
}

// TestCrashResumePostgres is the same on PostgreSQL.
func TestCrashResumePostgres(t *testing.T) {
	db, url := testdb.Postgres(t)
	dir := t.TempDir()
	crashAndResume(t, dir, []string{"--db", url}, db)
	checkStore(t, dir, db, true, crashRecords, true, 1)
}

const (
	crashRecords = 500
	crashKills   = 20
)

func crashAndResume(t *testing.T, dir string, extra []string, db *sql.DB) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill points from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	// 501 data keys (one per customer and the record-hash key's) in
	// batches of 10 with a 20 ms pause after each.
	args := append([]string{"--dir", dir, "--records", "500", "--batch", "10", "--rotate-branch"}, extra...)
	env := append(os.Environ(), batchDelayEnv+"=20ms")

	for kill := range crashKills {
		a := args
		if kill > 0 {
			a = append(a[:len(a):len(a)], "--resume")
		}
		cmd := exec.Command(buildBinary(t), a...)
		cmd.Env = env
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		pipe, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		// Kill after 0 or 1 committed batches of the rewrap, then at a
		// random moment up to 20 ms later. The hook spreads each batch's
		// replacements over 20 ms (2 ms before each) and pauses 20 ms
		// after it, so the kills fall between batches and between the
		// records of a batch (some replaced, the cursor not yet saved);
		// every run makes at most about two batches of progress, and 20
		// runs cannot finish the 51 batches.
		sc := bufio.NewScanner(pipe)
		inRewrap, batches, wantBatches := false, 0, rng.IntN(2)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "[6/10] Rewrap") {
				inRewrap = true
			}
			if strings.Contains(line, "batch committed:") {
				batches++
			}
			if inRewrap && batches >= wantBatches {
				break
			}
		}
		if !inRewrap {
			_ = cmd.Wait()
			t.Fatalf("run %d ended before the rewrap: %s", kill, errOut.String())
		}
		time.Sleep(time.Duration(rng.Int64N(int64(20 * time.Millisecond))))
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
			require.Equal(t, 1, strings.Count(e.String(), "\n"))
		}
	}

	// The killed runs made progress that the resume continues from, and
	// did not finish.
	var moved int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM kr_keys d WHERE d.kind = 'dek'
		AND d.parent = (SELECT MAX(b.id) FROM kr_keys b WHERE b.kind = 'branch' AND b.tenant = d.tenant)
		AND d.parent > 1`).Scan(&moved))
	t.Logf("%d of %d data keys rewrapped by the %d killed runs", moved, crashRecords+1, crashKills)
	require.Positive(t, moved)
	require.Less(t, moved, crashRecords+1)

	out, errOut, code := runBinary(t, nil, append(args, "--resume")...)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut, out)
	require.Regexp(t, `(?m)^\s+verification\s+500/500 OK$`, out)
	require.Regexp(t, `(?m)^\s+data keys rewrapped\s+501$`, out)
}

func openSQLite(t *testing.T, dir string) *sql.DB {
	t.Helper()
	return testdb.OpenSQLite(t, filepath.Join(dir, "keyrotation.db"))
}

// checkStore checks the database on its own, with a Sealer and Tokenizer
// built here from the keyset and the stored keys: every customer opens
// and matches its keyed hash, every KMS-wrapped key is under the keyset's
// primary, and with rotatedBranch every data key is under its tenant's
// newest branch key. It opens every stride-th customer.
func checkStore(t *testing.T, dir string, db *sql.DB, postgres bool, want int, rotatedBranch bool, stride int) {
	t.Helper()
	ctx := context.Background()
	master, err := local.MasterKeyFromFile(filepath.Join(dir, masterFile))
	require.NoError(t, err)
	kp, err := local.Open(filepath.Join(dir, keysetFile), master)
	require.NoError(t, err)
	primary := kp.Primary()

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
	require.Equal(t, primary.Version, state["new_version"])
	require.NotEqual(t, primary.Version, state["old_version"])
	require.Equal(t, "1", state["done_promote"])
	require.Equal(t, "1", state["done_rewrap"])
	require.Equal(t, primary.Version, state["tokenizer_root_kek"])
	if rotatedBranch {
		require.Equal(t, "1", state["done_branch"])
	}

	d := pii.SQLite
	if postgres {
		d = pii.Postgres
	}
	store, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d, Table: keysTable})
	require.NoError(t, err)
	for _, kind := range []envelope.Kind{envelope.KindBranch, envelope.KindSearch} {
		recs, err := store.List(ctx, kind, envelope.KeyRef{}, 1000)
		require.NoError(t, err)
		require.NotEmpty(t, recs)
		for _, rec := range recs {
			require.Equal(t, primary.String(), rec.KEK, "%s key %s/%d", kind, rec.Tenant, rec.ID)
		}
	}
	deks, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 100_000)
	require.NoError(t, err)
	require.Len(t, deks, want+1, "one data key per customer and one for the record-hash key")
	if rotatedBranch {
		for _, rec := range deks {
			latest, err := store.Latest(ctx, envelope.KindBranch, rec.Tenant, "")
			require.NoError(t, err)
			require.Equal(t, latest.ID, rec.Parent, "data key %s/%s/%d not rewrapped", rec.Tenant, rec.Scope, rec.ID)
			require.Greater(t, rec.Parent, uint32(1))
		}
	}

	sealer, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	root, err := base64.StdEncoding.DecodeString(state["tokenizer_root"])
	require.NoError(t, err)
	tok, err := tokenize.NewFromProvider(ctx, kp, root, tokenizerRootAD, nil)
	require.NoError(t, err)
	sealedKey, err := base64.StdEncoding.DecodeString(state["check_key"])
	require.NoError(t, err)
	checkKey, err := sealer.DecryptBytes(ctx, sealedKey, checkKeyBinding)
	require.NoError(t, err)

	rows, err = db.QueryContext(ctx, `SELECT seq, id, tenant, name, email, email_index, phone, card, birth_date, mac FROM kr_customers ORDER BY seq`)
	require.NoError(t, err)
	var stored []storedCustomer
	for rows.Next() {
		var s storedCustomer
		c := &s.c
		require.NoError(t, rows.Scan(&s.seq, &c.ID, &c.Tenant, &c.Name, &c.Email, &c.EmailIndex, &c.Phone, &c.Card, &c.BirthDate, &s.mac))
		stored = append(stored, s)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Len(t, stored, want)
	seed, err := strconv.ParseUint(state["seed"], 10, 64)
	require.NoError(t, err)
	for i, s := range stored {
		require.Equal(t, int64(i+1), s.seq)
		if i%stride != 0 {
			continue
		}
		orig := synthCustomer(seed, s.seq)
		require.NotEqual(t, orig.Name, s.c.Name, "stored sealed")
		require.NotEqual(t, orig.Card, s.c.Card, "stored tokenized")
		c := s.c
		require.NoError(t, sealer.Open(ctx, &c), "customer %d", s.seq)
		require.NoError(t, tok.Reverse(ctx, &c, allowAll), "customer %d", s.seq)
		c.EmailIndex = ""
		require.Equal(t, orig, c, "customer %d opens to what was sealed", s.seq)
		require.True(t, hmac.Equal(recordMAC(checkKey, &c), s.mac))
	}
}

// TestKMSLocalURI runs the flow on a keyset named with --kms local://,
// its master key in PII_MASTER_KEY, with --rotate-branch and --destroy-old,
// in this process (the second reader is this test binary, see TestMain).
func TestKMSLocalURI(t *testing.T) {
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	t.Setenv(masterKeyEnv, base64.StdEncoding.EncodeToString(master))
	keyset := filepath.Join(t.TempDir(), "keyset.json")
	dir := t.TempDir()

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--kms", "local://" + keyset, "--dir", dir, "--records", "60", "--batch", "7", "--rotate-branch", "--destroy-old"}, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut.String(), out.String())
	require.Empty(t, errOut.String())
	require.NotContains(t, out.String(), "WARNING", "no development master key was generated")
	require.NotContains(t, out.String(), base64.StdEncoding.EncodeToString(master))
	require.Regexp(t, `(?m)^\s+verification\s+60/60 OK$`, out.String())
	require.Regexp(t, `(?m)^\s+data keys rewrapped\s+61$`, out.String())
	require.Contains(t, out.String(), "destroyed; its key material is gone for good")

	kp, err := local.Open(keyset, master)
	require.NoError(t, err)
	require.Equal(t, map[keyprovider.Status]int{keyprovider.StatusEnabled: 1, keyprovider.StatusDestroyed: 1}, statusCounts(t, kp))
	_, err = os.Stat(filepath.Join(dir, masterFile))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestKMSCloudGCP runs the flow against the in-process Cloud KMS imitation:
// the KMS creates versions primary (rotate in one step), the second reader
// opens the same key through kmsuri, and disabling and destroying are left
// to the KMS's own tools.
func TestKMSCloudGCP(t *testing.T) {
	const key = "projects/p/locations/global/keyRings/r/cryptoKeys/customers"
	srv, err := gcpkmstest.Start(key)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	t.Setenv(gcpEmulatorEnv, srv.Addr())

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--kms", "gcp-kms://" + key, "--dir", t.TempDir(), "--records", "40", "--rotate-branch", "--destroy-old"}, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut.String(), out.String())
	o := out.String()
	require.Contains(t, o, "opened gcp-kms://"+key+", primary version 1")
	require.Contains(t, o, "version 2 created; this KMS makes a new version primary at once")
	require.Contains(t, o, "reader unwrapped under version 2; pid")
	require.Contains(t, o, "version 2 is primary already")
	require.Contains(t, o, "not done here; disable version 1 with the KMS's own tools")
	require.Regexp(t, `(?m)^\s+verification\s+40/40 OK$`, o)
	require.Regexp(t, `(?m)^\s+data keys rewrapped\s+41$`, o)
	require.Regexp(t, `(?m)^\s+KMS-wrapped keys rewrapped\s+6 `, o)
}

// TestKMSUnreachable: a KMS that does not answer gives one line and a
// non-zero exit.
func TestKMSUnreachable(t *testing.T) {
	t.Setenv(gcpEmulatorEnv, "127.0.0.1:1")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--kms", "gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/k", "--records", "5"}, &out, &errOut)
	require.Equal(t, 1, code)
	msg := errOut.String()
	require.Equal(t, 1, strings.Count(msg, "\n"), "one line: %q", msg)
	require.True(t, strings.HasPrefix(msg, "keyrotation: "), msg)
	require.Contains(t, msg, "unavailable")
	require.NotContains(t, msg, "goroutine")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "the fresh working folder of a failed start is removed")
}
