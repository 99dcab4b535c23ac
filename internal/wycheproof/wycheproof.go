// Package wycheproof gives tests the Wycheproof test vectors pinned by the
// nested module internal/vectortest, without the library's go.mod requiring
// the vector module (whose go directive is newer than the library's).
package wycheproof

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once sync.Once
	dir  string
	err  error
)

// FS returns the vector files (the module's testvectors_v1 folder), the
// same tree as the module's TestVectors. It downloads the pinned module
// through the Go module proxy when it is not in the module cache, and fails
// the test when it cannot: the vector tests never skip.
func FS(t testing.TB) fs.FS {
	t.Helper()
	once.Do(func() { dir, err = locate() })
	if err != nil {
		t.Fatalf("wycheproof: locate the pinned vectors: %v", err)
	}
	return os.DirFS(filepath.Join(dir, "testvectors_v1"))
}

func locate() (string, error) {
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/c2sp/wycheproof")
	cmd.Dir = filepath.Join(filepath.Dir(self), "..", "vectortest")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", err
	}
	if m.Error != "" {
		return "", &os.PathError{Op: "download", Path: "github.com/c2sp/wycheproof", Err: os.ErrNotExist}
	}
	return m.Dir, nil
}
