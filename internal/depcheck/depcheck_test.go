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
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

const module = "github.com/fieldguard/pii"

// vaultOnly is a service that opens Vault through kmsuri and imports no
// other backend (testdata/vaultonly).
const vaultOnly = module + "/internal/depcheck/testdata/vaultonly"

// cloudSDKs are import-path prefixes of the cloud SDKs and of this
// module's backend packages that would drag them in. A prefix ending in
// "/" matches any path that starts with it; any other matches the path
// itself and the paths below it.
var cloudSDKs = []string{
	"cloud.google.com/",
	"google.golang.org/api",
	"google.golang.org/grpc",
	"github.com/googleapis/",
	"github.com/aws/",
	"github.com/hashicorp/vault",
	module + "/keyprovider/gcpkms",
	module + "/keyprovider/awskms",
	module + "/keyprovider/vault",
}

// notForUsers are what no library package may make its users compile:
// database drivers (the SQL stores take a *sql.DB; the application brings
// the driver), test frameworks and vectors, and this module's test-only
// helpers.
var notForUsers = []string{
	"modernc.org/",
	"github.com/jackc/",
	"github.com/mattn/go-sqlite3",
	"github.com/stretchr/",
	"github.com/c2sp/",
	module + "/internal/testdb",
	module + "/internal/wycheproof",
	module + "/internal/kmsfake",
	module + "/internal/readmetest",
	module + "/internal/apicount",
	module + "/internal/depcheck",
}

// otelSDK is the OpenTelemetry SDK and its exporters, and the nested test
// module whose recorder is built on them (internal/oteltest): the library
// reports through the API only, and the application chooses (and
// compiles) the SDK.
var otelSDK = []string{
	"go.opentelemetry.io/otel/sdk",
	"go.opentelemetry.io/otel/exporters/",
	oteltest,
}

// oteltest is the nested test module (its own go.mod) that holds the
// OpenTelemetry recorder and the tests that use the SDK.
const oteltest = module + "/internal/oteltest"

// instrumented are the packages that report to OpenTelemetry.
var instrumented = []string{"keyprovider", "envelope", "retention", "mask"}

// pglisten is the one library package that links a database driver
// (pgx): only services on PostgreSQL import it.
const pglisten = "envelope/sqlkeystore/pglisten"

// rel returns p relative to the module ("" for the root), or p unchanged
// when it is outside the module.
func rel(p string) string {
	if p == module {
		return ""
	}
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return p
}

// under reports whether the module-relative path r is dir or below it.
func under(r string, dirs ...string) bool {
	for _, d := range dirs {
		if r == d || strings.HasPrefix(r, d+"/") {
			return true
		}
	}
	return false
}

// library reports whether r is a package users import: not an example,
// command, tool or test helper under an internal directory.
func library(r string) bool {
	if under(r, "examples", "cmd", "internal") || strings.Contains("/"+r+"/", "/internal/") || strings.Contains("/"+r+"/", "/testdata/") {
		return false
	}
	return true
}

// matches reports whether dep is prefix (see cloudSDKs for the rule).
func matches(dep, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(dep, prefix)
	}
	return dep == prefix || strings.HasPrefix(dep, prefix+"/")
}

func matchesAny(dep string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return matches(dep, p) })
}

func m(rels ...string) []string {
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = module + "/" + r
	}
	return out
}

// A rule constrains the dependencies of the packages it selects.
type rule struct {
	name string
	// pkgs selects packages by module-relative path ("" is the root).
	pkgs func(r string) bool
	// direct checks the packages' own imports rather than everything
	// they depend on.
	direct bool
	// forbid lists prefixes no selected package may depend on.
	forbid []string
	// only, when set, lists the prefixes this module's packages the
	// selected packages depend on must match.
	only []string
	// require lists dependencies every selected package must have, so
	// the rule cannot pass by matching nothing.
	require []string
}

var rules = []rule{
	{
		name: "library packages link no cloud SDK (only the keyprovider backends do)",
		pkgs: func(r string) bool {
			return library(r) && !under(r, "keyprovider/gcpkms", "keyprovider/awskms", "keyprovider/vault")
		},
		forbid: cloudSDKs,
	},
	{
		name:   "library packages make users compile no database driver, test framework or test helper",
		pkgs:   func(r string) bool { return library(r) && r != pglisten },
		forbid: notForUsers,
	},
	{
		name: "pglisten (LISTEN for PostgreSQL services, which have pgx) links pgx and nothing else users should not compile",
		pkgs: func(r string) bool { return r == pglisten },
		forbid: slices.DeleteFunc(slices.Clone(notForUsers), func(p string) bool {
			return p == "github.com/jackc/"
		}),
		require: []string{"github.com/jackc/pgx/v5"},
	},
	{
		name:   "no library package imports pglisten, so none drags pgx in",
		pkgs:   func(r string) bool { return library(r) && r != pglisten },
		forbid: m(pglisten),
	},
	{
		name:   "library packages use the OpenTelemetry API only: no SDK, no exporter",
		pkgs:   library,
		forbid: otelSDK,
	},
	{
		name:    "the instrumented packages report through the OpenTelemetry API",
		pkgs:    func(r string) bool { return slices.Contains(instrumented, r) },
		require: []string{"go.opentelemetry.io/otel/metric", "go.opentelemetry.io/otel/trace"},
	},
	{
		name: "a Vault-only service that opens its key through kmsuri links neither the Google Cloud nor the AWS SDK",
		pkgs: func(r string) bool { return r == rel(vaultOnly) },
		forbid: append([]string{
			"cloud.google.com/go/kms", "github.com/aws/aws-sdk-go-v2/service/kms",
		}, slices.DeleteFunc(slices.Clone(cloudSDKs), func(p string) bool {
			return p == "github.com/hashicorp/vault" || p == module+"/keyprovider/vault"
		})...),
		require: append(m("keyprovider/kmsuri", "keyprovider/vault"), "github.com/hashicorp/vault/api"),
	},
	{
		name: "library packages link neither the command-line library nor golang.org/x/tools (only cmd/pii and the piivet analyzer do)",
		pkgs: func(r string) bool { return library(r) && !under(r, "piivet") },
		forbid: []string{"github.com/spf13/", "golang.org/x/tools", "github.com/alecthomas/kong",
			module + "/internal/srcschema"},
	},
	{
		name: "pii (the module root) imports no other package of this module but internal ones",
		pkgs: func(r string) bool { return r == "" },
		only: m("internal/"),
	},
	{
		name:   "keyprovider and its backends do not import the packages built on them",
		pkgs:   func(r string) bool { return under(r, "keyprovider") },
		forbid: m("envelope", "tokenize", "mask", "retention", "piitest"),
	},
	{
		name:   "envelope does not import tokenize, mask or retention",
		pkgs:   func(r string) bool { return library(r) && under(r, "envelope") },
		forbid: m("tokenize", "mask", "retention"),
	},
	{
		name:   "tokenize does not import envelope, mask, retention or Tink",
		pkgs:   func(r string) bool { return library(r) && under(r, "tokenize") },
		forbid: append(m("envelope", "mask", "retention"), "github.com/tink-crypto/"),
	},
	{
		name:   "mask imports only pii, tokenize and the module's internal packages",
		pkgs:   func(r string) bool { return library(r) && under(r, "mask") },
		direct: true,
		only:   append(m("tokenize", "internal/"), module),
	},
	{
		name:   "mask depends on neither envelope nor retention, nor Tink",
		pkgs:   func(r string) bool { return library(r) && under(r, "mask") },
		forbid: append(m("envelope", "retention"), "github.com/tink-crypto/"),
	},
	{
		name: "retention plugs envelope and tokenize in through interfaces and imports neither, nor Tink",
		pkgs: func(r string) bool { return library(r) && under(r, "retention") },
		forbid: append(m("envelope", "tokenize", "keyprovider", "mask"),
			"github.com/tink-crypto/"),
		require: []string{module},
	},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
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

// list returns the module's packages and the vault-only program, with
// their imports and dependencies (non-test code: what users compile).
func list(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command(goTool(t), "list", "-e", "-json=ImportPath,Imports,Deps,Error", module+"/...", vaultOnly)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.Greater(t, len(pkgs), 20, "go list found too few packages")
	return pkgs
}

func TestDependencyBoundaries(t *testing.T) {
	pkgs := list(t)
	for _, p := range pkgs {
		require.Nil(t, p.Error, "%s: %v", p.ImportPath, p.Error)
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			var selected int
			for _, p := range pkgs {
				if !r.pkgs(rel(p.ImportPath)) {
					continue
				}
				selected++
				deps := p.Deps
				if r.direct {
					deps = p.Imports
				}
				for _, d := range deps {
					if matchesAny(d, r.forbid) {
						t.Errorf("%s depends on %s", p.ImportPath, d)
					}
					if r.only != nil && rel(d) != d && !matchesAny(d, r.only) {
						t.Errorf("%s imports %s, outside %s", p.ImportPath, d, strings.Join(r.only, ", "))
					}
				}
				for _, want := range r.require {
					if !slices.Contains(p.Deps, want) {
						t.Errorf("%s does not depend on %s; is the rule still meaningful?", p.ImportPath, want)
					}
				}
			}
			require.NotZero(t, selected, "the rule selects no package")
		})
	}
}

// TestNoPackageImportsAnotherPackagesInternals: a package below X/internal
// is X's alone. The module's own internal directory is shared; the go
// command enforces the rest, for test files too, and this test keeps the
// rule visible beside the others.
func TestNoPackageImportsAnotherPackagesInternals(t *testing.T) {
	for _, p := range list(t) {
		for _, d := range p.Imports {
			r := rel(d)
			if r == d || under(r, "internal") {
				continue
			}
			i := strings.Index("/"+r+"/", "/internal/")
			if i < 0 {
				continue
			}
			owner := r[:max(i-1, 0)]
			if !under(rel(p.ImportPath), owner) {
				t.Errorf("%s imports %s, an internal package of %s", p.ImportPath, d, owner)
			}
		}
	}
}

// TestRulesCanFail runs the matchers against what they must catch, so no
// rule passes by matching nothing.
func TestRulesCanFail(t *testing.T) {
	cmd := exec.Command(goTool(t), "list", "-deps", module+"/keyprovider/gcpkms", module+"/keyprovider/awskms", module+"/keyprovider/vault", module+"/internal/testdb")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	deps := strings.Fields(string(out))
	for _, want := range []string{"cloud.google.com/", "github.com/aws/", "github.com/hashicorp/vault", "google.golang.org/grpc"} {
		require.True(t, slices.ContainsFunc(deps, func(d string) bool { return matches(d, want) }), "the backends' dependencies should match %q", want)
	}
	require.True(t, slices.ContainsFunc(deps, func(d string) bool { return matchesAny(d, notForUsers) }), "internal/testdb's drivers should match notForUsers")

	// The recorder lives in the nested module internal/oteltest: list it
	// from there.
	cmd = exec.Command(goTool(t), "list", "-deps", oteltest)
	cmd.Dir = filepath.Join("..", "oteltest")
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	deps = strings.Fields(string(out))
	require.Contains(t, deps, "go.opentelemetry.io/otel/sdk/metric", "the test recorder is built on the SDK")
	require.True(t, matches("go.opentelemetry.io/otel/sdk/metric", otelSDK[0]))
	require.False(t, matchesAny("go.opentelemetry.io/otel/metric", otelSDK), "the API is allowed")
	require.False(t, matchesAny("go.opentelemetry.io/auto/sdk", otelSDK), "the API's auto-instrumentation hook is part of the API")

	require.True(t, matches(module+"/envelope/sqlkeystore", module+"/envelope"))
	require.False(t, matches(module+"/envelopes", module+"/envelope"))
	require.True(t, library("envelope/sqlkeystore"))
	require.False(t, library("envelope/internal/format"))
	require.False(t, library("examples/keyrotation"))
	require.False(t, library("internal/testdb"))
	require.Equal(t, "", rel(module))
}

// TestGoModKeepsHeavyDependenciesNested keeps what only tests or the GORM
// plugin use out of the library's go.mod, so users of the library never
// download it: each has a nested module (its own go.mod, built against
// this checkout through a replace directive) that is the one listing it.
func TestGoModKeepsHeavyDependenciesNested(t *testing.T) {
	path := filepath.Join("..", "..", "go.mod")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := modfile.Parse(path, data, nil)
	require.NoError(t, err)
	require.Equal(t, module, f.Module.Mod.Path)
	require.NotEmpty(t, f.Require, "go.mod lists no requirements; parsed the wrong file?")

	tests := []struct {
		name string
		// banned reports whether the library's go.mod must not list p.
		banned func(p string) bool
		// nested is the nested module's directory, relative to the
		// module root, and replace how its go.mod points back here.
		nested, replace string
		// needs is what the nested module must require, so the test
		// cannot pass against a module that no longer uses it.
		needs []string
	}{
		{
			// The Vault API client (github.com/hashicorp/vault/api) is
			// allowed: keyprovider/vault uses it.
			name: "Vault's server module and SDK (the in-process Vault of the integration tests)",
			banned: func(p string) bool {
				return p == "github.com/hashicorp/vault" || p == "github.com/hashicorp/vault/sdk"
			},
			nested: "internal/vaulttest", replace: "../..",
			needs: []string{"github.com/hashicorp/vault"},
		},
		{
			name: "GORM and its drivers (the GORM plugin gormpii)",
			banned: func(p string) bool {
				return strings.HasPrefix(p, "gorm.io/") || strings.HasPrefix(p, "github.com/glebarez/")
			},
			nested: "gormpii", replace: "../",
			needs: []string{"gorm.io/gorm"},
		},
		{
			// The OpenTelemetry API (go.opentelemetry.io/otel, /metric,
			// /trace) is allowed: the instrumented packages report
			// through it.
			name:   "the OpenTelemetry SDK and exporters (the tests of what the library reports)",
			banned: func(p string) bool { return matchesAny(p, otelSDK) },
			nested: "internal/oteltest", replace: "../..",
			needs: []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/sdk/metric"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range f.Require {
				require.False(t, tt.banned(r.Mod.Path), "go.mod requires %s %s; it belongs in %s/go.mod", r.Mod.Path, r.Mod.Version, tt.nested)
			}
			for _, r := range f.Replace {
				require.False(t, tt.banned(r.Old.Path), "go.mod replaces %s", r.Old.Path)
			}
			for _, want := range tt.needs {
				require.True(t, tt.banned(want), "the rule does not ban %s, which the nested module needs", want)
			}

			// The nested module exists and is the one that lists them.
			npath := filepath.Join("..", "..", filepath.FromSlash(tt.nested), "go.mod")
			nested, err := os.ReadFile(npath)
			require.NoError(t, err)
			nf, err := modfile.Parse(tt.nested+"/go.mod", nested, nil)
			require.NoError(t, err)
			require.Equal(t, module+"/"+tt.nested, nf.Module.Mod.Path)
			for _, want := range tt.needs {
				require.True(t, slices.ContainsFunc(nf.Require, func(r *modfile.Require) bool { return r.Mod.Path == want }),
					"%s/go.mod does not require %s", tt.nested, want)
			}
			require.True(t, slices.ContainsFunc(nf.Replace, func(r *modfile.Replace) bool { return r.Old.Path == module && r.New.Path == tt.replace }),
				"%s builds against this checkout of the library (replace %s => %s)", tt.nested, module, tt.replace)
		})
	}
}
