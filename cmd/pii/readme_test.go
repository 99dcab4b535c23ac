package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
