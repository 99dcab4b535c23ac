package local

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider"
)

const (
	crashEnvPath   = "PII_LOCAL_CRASH_KEYSET"
	crashEnvMaster = "PII_LOCAL_CRASH_MASTER"
)

// TestMain turns the test binary into the crash helper when
// TestCrashDuringWrite starts it with the environment set: it then rotates
// the keyset in a loop until it is killed.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnvPath); path != "" {
		crashHelper(path)
		return
	}
	os.Exit(m.Run())
}

func crashHelper(path string) {
	master, err := MasterKeyFromEnv(crashEnvMaster)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	p, err := Open(path, master)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		if _, err := p.Rotate(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		// Keep the file from growing without bound: retire the oldest
		// live version once there are more than four.
		vs, _ := p.Versions(ctx)
		var live []keyprovider.Version
		for _, v := range vs {
			if v.Status != keyprovider.StatusDestroyed {
				live = append(live, v)
			}
		}
		if len(live) > 4 {
			if err := p.Disable(ctx, live[0].ID.Version); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			if err := p.Destroy(ctx, live[0].ID.Version); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
}

// TestCrashDuringWrite kills a process that rewrites the keyset file in a
// loop, at random moments, and checks after each kill that the file opens
// and holds a usable keyset no older than the one seen before: a write is
// never torn.
func TestCrashDuringWrite(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs a killable child process and POSIX rename semantics")
	}
	p, path, master := newTestProvider(t)
	dir := filepath.Dir(path)
	ctx := t.Context()
	lastGen := p.st.Load().hdr.Generation
	const kills = 10

	for i := range kills {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), crashEnvPath+"="+path, crashEnvMaster+"="+base64.StdEncoding.EncodeToString(master))
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())

		// Wait until the child has written at least once, then let it run
		// for a random while before the kill.
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err, "child failed to start: %s", stderr.String())
		require.Equal(t, "ready\n", line)
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Kill())
		err = cmd.Wait()
		require.Error(t, err, "the child only stops when killed")
		require.NotContains(t, stderr.String(), "local:", "the child failed on its own")

		q, err := Open(path, master)
		require.NoError(t, err, "after kill %d the keyset must open", i)
		gen := q.st.Load().hdr.Generation
		require.GreaterOrEqual(t, gen, lastGen, "after kill %d the keyset went back in time", i)
		lastGen = gen

		vs, err := q.Versions(ctx)
		require.NoError(t, err)
		primaries := 0
		for _, v := range vs {
			if v.Primary {
				primaries++
				require.Equal(t, keyprovider.StatusEnabled, v.Status)
			}
		}
		require.Equal(t, 1, primaries)
		key := []byte("0123456789abcdef0123456789abcdef")
		w, _, err := q.Wrap(ctx, key, []byte("crash"))
		require.NoError(t, err)
		got, err := q.Unwrap(ctx, w, []byte("crash"))
		require.NoError(t, err)
		require.Equal(t, key, got)
	}

	// Temporary files left by kills that landed mid-write prove the test
	// exercised the window it is about; how many is up to the scheduler.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	torn := 0
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			torn++
		}
	}
	t.Logf("%d kills, final generation %d, %d kills left a temporary file behind", kills, lastGen, torn)
}
