package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
)

// staticInventory runs pii inventory --format json over patterns.
func staticInventory(t *testing.T, o cmdOpts, patterns ...string) (inventory, result) {
	t.Helper()
	r := runPII(t, o, append([]string{"inventory", "--format", "json"}, patterns...)...)
	var inv inventory
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &inv), "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	return inv, r
}

// runtimeInventory runs pii.Inventory over the named types of the package
// in dir, inside that package: a test file added with the go command's
// -overlay (nothing is written into the repository) prints the report.
func runtimeInventory(t *testing.T, dir string, goTypes []string) pii.Report {
	t.Helper()
	tmp := t.TempDir()
	var vals []string
	for _, g := range goTypes {
		_, name, _ := strings.Cut(g, ".")
		vals = append(vals, name+"{}")
	}
	src := fmt.Sprintf(`package main

import (
	zzjson "encoding/json"
	zzos "os"
	zztesting "testing"

	zzpii "github.com/fieldguard/pii"
)

func TestZZRuntimeInventory(t *zztesting.T) {
	r, err := zzpii.Inventory(%s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := zzjson.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := zzos.WriteFile(zzos.Getenv("ZZ_INVENTORY_OUT"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
`, strings.Join(vals, ", "))
	file := filepath.Join(tmp, "zz_inventory_test.go")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o600))
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(repoRoot, dir, "zz_inventory_test.go"): file}})
	require.NoError(t, err)
	ovFile := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(ovFile, overlay, 0o600))
	out := filepath.Join(tmp, "runtime.json")
	cmd := exec.Command(goTool(), "test", "-count=1", "-overlay", ovFile, "-run", "^TestZZRuntimeInventory$", "./"+dir)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "ZZ_INVENTORY_OUT="+out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var r pii.Report
	require.NoError(t, json.Unmarshal(data, &r))
	return r
}

// TestInventoryFromSourceEqualsRuntime: for every example package, the
// inventory read from source equals what pii.Inventory reports at run
// time for the same types, field for field and warning for warning.
func TestInventoryFromSourceEqualsRuntime(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "examples"))
	require.NoError(t, err)
	var checked, fields int
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := "examples/" + e.Name()
		t.Run(e.Name(), func(t *testing.T) {
			static, r := staticInventory(t, cmdOpts{}, "./"+dir)
			require.Equal(t, 0, r.code, r.stderr)
			require.Empty(t, static.Errors)
			if len(static.Types) == 0 {
				t.Skip("no tagged types")
			}
			var goTypes []string
			for i := range static.Types {
				require.True(t, strings.HasPrefix(static.Types[i].Source, dir+"/"), static.Types[i].Source)
				goTypes = append(goTypes, static.Types[i].GoType)
				static.Types[i].Source = ""
				fields += len(static.Types[i].Fields)
			}
			for i := range static.Warnings {
				require.True(t, strings.HasPrefix(static.Warnings[i].Source, dir+"/"), static.Warnings[i].Source)
				static.Warnings[i].Source = ""
			}
			rt := runtimeInventory(t, dir, goTypes)
			require.Equal(t, rt, *static.Report)
			checked++
		})
	}
	require.GreaterOrEqual(t, checked, 4, "too few example packages compared")
	require.Greater(t, fields, 20)
}

func TestInventoryFormats(t *testing.T) {
	md := runPII(t, cmdOpts{}, "inventory", "./examples/inventory")
	require.Equal(t, 0, md.code, md.stderr)
	require.Contains(t, md.stdout, "```mermaid\nflowchart LR\n")
	require.Contains(t, md.stdout, "| email | no | Customer.Email | P2Y from LastSeen then shred |")
	require.Contains(t, md.stdout, "- `Customer.LoginIP` (`examples/inventory/main.go:30`): name suggests personal data (category ip)")

	c := runPII(t, cmdOpts{}, "inventory", "--format", "csv", "./examples/inventory")
	require.Equal(t, 0, c.code, c.stderr)
	rows, err := csv.NewReader(strings.NewReader(c.stdout)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, csvHeader, rows[0])
	require.Contains(t, rows, []string{"field", "Payment", "string", "Card", "card", "yes", "token=ff1 mask=card",
		"P13M", "", "", "Expires", "delete", "billing", "contract", "", "omit", "examples/inventory/main.go:40", ""})
	require.Equal(t, "warning", rows[len(rows)-1][0])

	out := filepath.Join(t.TempDir(), "inv.html")
	h := runPII(t, cmdOpts{}, "inventory", "--format", "html", "-o", out, "./examples/inventory")
	require.Equal(t, 0, h.code, h.stderr)
	page, err := os.ReadFile(out)
	require.NoError(t, err)
	s := string(page)
	require.Contains(t, s, "<svg")
	require.Contains(t, s, `<table id="fields">`)
	require.Contains(t, s, "Customer.LoginIP")
	require.Contains(t, s, "Customer.Email → email: encrypt, index, mask=email; P2Y from LastSeen, then shred")
	// Self-contained: nothing is loaded from anywhere.
	for _, ref := range []string{"http://", "https://", "src=", "<link"} {
		if ref == "http://" {
			s = strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
		}
		require.NotContains(t, s, ref)
	}

	j := runPII(t, cmdOpts{}, "--json", "inventory", "./examples/inventory")
	require.Equal(t, 0, j.code)
	require.True(t, json.Valid([]byte(j.stdout)))
}

func TestInventoryMalformedTag(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600))
	}
	write("go.mod", "module example.com/bad\n\ngo 1.26\n")
	write("bad.go", `package bad

type Good struct {
	ID    string `+"`pii:\"subject\"`"+`
	Email string `+"`pii:\"email,encrypt\"`"+`
}

type Bad struct {
	ID    string `+"`pii:\"subject\"`"+`
	Age   int    `+"`pii:\"dob,encrypt\"`"+`
}
`)
	inv, r := staticInventory(t, cmdOpts{dir: dir}, "./...")
	require.Equal(t, exitFindings, r.code)
	require.Len(t, inv.Types, 1)
	require.Equal(t, []tagError{{Source: "bad.go:10", Error: `pii: bad.Bad.Age: tag token "encrypt": a int field cannot hold a ciphertext; use string or []byte (store dates as RFC 3339 strings)`}}, inv.Errors)
	require.Contains(t, r.stderr, "bad.go:10: pii: bad.Bad.Age")

	// A package that does not compile is a usage error, in one line.
	write("broken.go", "package bad\n\nfunc f() { undefined() }\n")
	r = runPII(t, cmdOpts{dir: dir}, "inventory", "./...")
	oneLineError(t, r, exitUsage, "undefined")
}
