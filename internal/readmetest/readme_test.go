// Package readmetest checks that every Go code block in the README builds.
package readmetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestReadmeGoBlocksBuild extracts each ```go block of README.md into its
// own package inside the module (a directory starting with "_", which
// ./... ignores) and builds it. Every block must be a complete file.
func TestReadmeGoBlocksBuild(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	blocks := goBlock.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "README.md has no Go blocks")
	dir, err := os.MkdirTemp(root, "_readme")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	var pkgs []string
	for i, b := range blocks {
		src := string(b[1])
		require.True(t, strings.HasPrefix(src, "package "), "README Go block %d must be a complete file starting with a package clause", i+1)
		pdir := filepath.Join(dir, "block"+string(rune('a'+i)))
		require.NoError(t, os.Mkdir(pdir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(pdir, "main.go"), []byte(src), 0o644))
		pkgs = append(pkgs, "./"+filepath.Join(filepath.Base(dir), filepath.Base(pdir)))
	}
	cmd := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "README Go blocks do not build:\n%s", out)
	t.Logf("built and vetted %d README Go blocks", len(blocks))
}
