package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func goTool(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// TestVetToolAndStandalone builds piivet and runs it both ways over a
// small module with a malformed tag and a logged customer.
func TestVetToolAndStandalone(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "piivet")
	build := exec.Command(goTool(t), "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	mod := filepath.Join(tmp, "mod")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/m\n\ngo 1.26\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "m.go"), []byte(`package m

import "fmt"

type Customer struct {
	ID    string `+"`pii:\"subject\"`"+`
	Email string `+"`pii:\"email,encrypt\"`"+`
	Age   int    `+"`pii:\"dob,encrypt\"`"+`
}

func F(c Customer) { fmt.Println(c.Email) }
`), 0o600))

	for _, args := range [][]string{
		{goTool(t), "vet", "-vettool=" + bin, "./..."},
		{bin, "./..."},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "%s", out)
		require.Contains(t, string(out), `m.go:8:2: pii: m.Customer.Age: tag token "encrypt": a int field cannot hold a ciphertext`, args[0])
		require.Contains(t, string(out), "m.go:11:34: pii: Customer.Email (category email) passed to fmt.Println", args[0])
	}
}
