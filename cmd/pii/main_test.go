package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// piiBin is the pii binary built once by TestMain; the tests drive it as a
// subprocess, as an operator or a CI job would. shopBin is
// examples/shop, the Go program whose typed tables they work on.
var piiBin, shopBin string

// repoRoot is the module root (two levels up).
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pii-cmd-test")
	if err != nil {
		panic(err)
	}
	piiBin = filepath.Join(dir, "pii")
	shopBin = filepath.Join(dir, "shop")
	if runtime.GOOS == "windows" {
		piiBin += ".exe"
		shopBin += ".exe"
	}
	for _, b := range [][2]string{{piiBin, "."}, {shopBin, "../../examples/shop"}} {
		build := exec.Command(goTool(), "build", "-o", b[0], b[1])
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			panic("building " + b[1] + ": " + err.Error())
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// cmdOpts configure one run.
type cmdOpts struct {
	dir   string
	env   []string // added to a clean environment
	stdin string
}

// pii runs the binary with args in a clean environment (PATH, HOME and
// the Go settings only, so no PII_ variable of the test's own leaks in).
func runPII(t *testing.T, o cmdOpts, args ...string) result {
	t.Helper()
	cmd := exec.Command(piiBin, args...)
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = repoRoot
	}
	cmd.Env = baseEnv()
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
}

func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH", k == "HOME", k == "TMPDIR", strings.HasPrefix(k, "GO"), strings.HasPrefix(k, "XDG_"):
			env = append(env, kv)
		}
	}
	return env
}

// oneLineError checks the stderr of a failed run: one line, "pii: ...".
func oneLineError(t *testing.T, r result, code int, contains string) {
	t.Helper()
	require.Equal(t, code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 1)
	require.True(t, strings.HasPrefix(lines[0], "pii: "), "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, contains)
}

func TestHelpOnEveryCommand(t *testing.T) {
	r := runPII(t, cmdOpts{}, "--help")
	require.Equal(t, 0, r.code)
	var cmds []string
	inList := false
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "Available Commands:") {
			inList = true
			continue
		}
		if inList {
			f := strings.Fields(line)
			if len(f) == 0 {
				break
			}
			cmds = append(cmds, f[0])
		}
	}
	require.Contains(t, cmds, "inventory")
	for _, c := range cmds {
		if c == "help" {
			continue
		}
		r := runPII(t, cmdOpts{}, c, "--help")
		require.Equal(t, 0, r.code, c)
		require.Contains(t, r.stdout, "Usage:", c)
		require.Contains(t, r.stdout, "pii "+c, c)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		contains string
	}{
		{[]string{"nope"}, "unknown command"},
		{[]string{"inventory", "--nope"}, "unknown flag"},
		{[]string{"inventory", "--format", "pdf"}, `--format "pdf"`},
	} {
		r := runPII(t, cmdOpts{}, tc.args...)
		oneLineError(t, r, exitUsage, tc.contains)
	}
}
