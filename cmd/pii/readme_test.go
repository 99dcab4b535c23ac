package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider/local"
)

// TestReadmeSession keeps the README's session honest where the output
// does not depend on random key versions: the inventory diagram and CSV
// and the scans are what the command prints today.
func TestReadmeSession(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	text := string(readme)

	md := runPII(t, cmdOpts{}, "inventory", "./examples/inventory")
	require.Equal(t, 0, md.code, md.stderr)
	start := strings.Index(md.stdout, "```mermaid\n")
	end := strings.Index(md.stdout[start+3:], "```\n") + start + 3
	require.Contains(t, text, md.stdout[start:end+4], "README's Mermaid diagram is stale")

	c := runPII(t, cmdOpts{}, "inventory", "--format", "csv", "./examples/inventory")
	require.Equal(t, 0, c.code)
	require.Contains(t, text, "$ pii inventory --format csv ./examples/inventory\n"+c.stdout, "README's CSV is stale")

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "replies"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "replies", "address.txt"), []byte("Thanks, we have updated your address.\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "replies", "card.txt"), []byte("Hi Ada,\nthe card 4111 1111 1111 1111 is now your default.\n"), 0o600))
	s := runPII(t, cmdOpts{dir: dir}, "scan", "--channel", "public_social", "replies/address.txt", "replies/card.txt")
	require.Equal(t, exitFindings, s.code)
	require.Contains(t, text, "$ pii scan --channel public_social replies/address.txt replies/card.txt\n"+s.stdout+"$ echo $?\n3\n")
	s = runPII(t, cmdOpts{stdin: "write to ada@example.com\n"}, "scan", "--channel", "direct_message")
	require.Equal(t, 0, s.code)
	require.Contains(t, text, "$ echo 'write to ada@example.com' | pii scan --channel direct_message\n"+s.stdout)
}

// TestReadmeShopSession runs the README's session on examples/shop, command
// by command, and compares every output with the README's, key versions
// and times aside (they differ on every run). The session's paths under
// /srv/shop are a temporary folder here.
func TestReadmeShopSession(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	const marker = "<!-- session: examples/shop (cmd/pii TestReadmeShopSession runs it) -->\n```console\n"
	start := strings.Index(string(readme), marker)
	require.GreaterOrEqual(t, start, 0, "README has no shop session")
	block := string(readme)[start+len(marker):]
	block = block[:strings.Index(block, "```\n")]

	dir := t.TempDir()
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	env := map[string]string{"PII_MASTER_KEY": base64.StdEncoding.EncodeToString(master)}
	var transcript strings.Builder
	last := 0
	type step struct {
		cmd  string
		want string
	}
	var steps []step
	for _, line := range strings.SplitAfter(block, "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			steps = append(steps, step{cmd: strings.TrimSuffix(cmd, "\n")})
			continue
		}
		require.NotEmpty(t, steps, "output before the first command")
		steps[len(steps)-1].want += line
	}
	for _, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "/srv/shop", dir)
		args := strings.Fields(cmd)
		var got string
		switch {
		case args[0] == "export":
			for _, kv := range args[1:] {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case cmd == "echo $?":
			got = fmt.Sprintf("%d\n", last)
		case args[0] == "pii" || strings.HasPrefix(cmd, "go run ./examples/shop"):
			var envList []string
			for k, v := range env {
				envList = append(envList, k+"="+v)
			}
			bin, rest := piiBin, args[1:]
			if args[0] == "go" {
				bin, rest = shopBin, args[3:]
			}
			c := exec.Command(bin, rest...)
			c.Dir = repoRoot
			c.Env = append(baseEnv(), envList...)
			out, err := c.CombinedOutput()
			last = 0
			if ee, ok := err.(*exec.ExitError); ok {
				last = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			got = string(out)
		default:
			t.Fatalf("README session: unknown command %q", st.cmd)
		}
		got = strings.ReplaceAll(got, dir, "/srv/shop")
		transcript.WriteString("$ " + st.cmd + "\n" + got)
	}
	require.Equal(t, normalize(block), normalize(transcript.String()), "the README's session is stale; today it runs:\n%s", transcript.String())
}

var (
	versionRE = regexp.MustCompile(`\b\d{8,10}\b`)
	timeRE    = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b`)
	spaceRE   = regexp.MustCompile(`[ \t]+`)
)

// normalize hides what changes on every run: key versions and times (and
// so the width of the columns they are in).
func normalize(s string) string {
	s = timeRE.ReplaceAllString(s, "<time>")
	s = versionRE.ReplaceAllString(s, "<version>")
	return spaceRE.ReplaceAllString(s, " ")
}
