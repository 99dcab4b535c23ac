package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

const module = "github.com/fieldguard/pii"

// core are the packages users import for field protection, plus the
// keyprovider contract, the embedded local backend and the conformance
// suite; they must compile without any cloud SDK (as the standard
// library's fipsdeps_test.go keeps crypto/internal/fips140 closed).
var core = []string{
	"", "/envelope", "/tokenize", "/mask", "/retention",
	"/keyprovider", "/keyprovider/local", "/keyprovider/providertest",
}

// forbidden are import-path prefixes of cloud SDKs and of this module's
// backend packages that would drag them in.
var forbidden = []string{
	"cloud.google.com/",
	"google.golang.org/api",
	"google.golang.org/grpc",
	"github.com/googleapis/",
	"github.com/aws/",
	"github.com/hashicorp/vault",
	module + "/keyprovider/gcpkms",
	module + "/keyprovider/awskms",
	module + "/keyprovider/vault",
	module + "/keyprovider/kmsuri",
}

func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	_, err := os.Stat(p)
	require.NoError(t, err, "the go command is needed to list dependencies")
	return p
}

type pkg struct {
	ImportPath string
	Deps       []string
	Error      *struct{ Err string }
}

func TestCoreImportsNoCloudSDK(t *testing.T) {
	args := []string{"list", "-e", "-json=ImportPath,Deps,Error"}
	for _, c := range core {
		args = append(args, module+c)
	}
	cmd := exec.Command(goTool(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())

	dec := json.NewDecoder(bytes.NewReader(out))
	seen := map[string]bool{}
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		seen[p.ImportPath] = true
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
			continue
		}
		require.NotEmpty(t, p.Deps, "%s has no dependencies at all; is go list working?", p.ImportPath)
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s imports %s (directly or not); cloud SDKs belong in keyprovider backends only", p.ImportPath, d)
				}
			}
		}
	}
	for _, c := range core {
		require.True(t, seen[module+c], "go list did not report %s", module+c)
	}
}

// TestForbiddenMatches checks the matcher against the backends themselves,
// so the test above cannot pass by matching nothing.
func TestForbiddenMatches(t *testing.T) {
	cmd := exec.Command(goTool(t), "list", "-deps", module+"/keyprovider/gcpkms", module+"/keyprovider/awskms", module+"/keyprovider/vault")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	hits := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				hits[f] = true
			}
		}
	}
	for _, want := range []string{"cloud.google.com/", "github.com/aws/", "github.com/hashicorp/vault", "google.golang.org/grpc"} {
		require.True(t, hits[want], "the backends' dependencies should match %q", want)
	}
}

// TestGoModHasNoVaultServer keeps Vault's server module and SDK out of the
// library's go.mod: only the nested module internal/vaulttest uses them.
// The API client (github.com/hashicorp/vault/api) is allowed.
func TestGoModHasNoVaultServer(t *testing.T) {
	path := filepath.Join("..", "..", "go.mod")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := modfile.Parse(path, data, nil)
	require.NoError(t, err)
	require.Equal(t, module, f.Module.Mod.Path)
	require.NotEmpty(t, f.Require, "go.mod lists no requirements; parsed the wrong file?")
	banned := map[string]bool{"github.com/hashicorp/vault": true, "github.com/hashicorp/vault/sdk": true}
	for _, r := range f.Require {
		require.False(t, banned[r.Mod.Path], "go.mod requires %s %s; Vault's server belongs in internal/vaulttest/go.mod", r.Mod.Path, r.Mod.Version)
	}
	for _, r := range f.Replace {
		require.False(t, banned[r.Old.Path], "go.mod replaces %s", r.Old.Path)
	}

	// The nested module exists and is the one that lists them.
	nested, err := os.ReadFile(filepath.Join("..", "vaulttest", "go.mod"))
	require.NoError(t, err)
	nf, err := modfile.Parse("internal/vaulttest/go.mod", nested, nil)
	require.NoError(t, err)
	require.Equal(t, module+"/internal/vaulttest", nf.Module.Mod.Path)
	var hasVault bool
	for _, r := range nf.Require {
		hasVault = hasVault || r.Mod.Path == "github.com/hashicorp/vault"
	}
	require.True(t, hasVault)
}
