package tokenize

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps tokenize's import graph small: no cloud SDK, no database
// driver, no test server reaches users who import it.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	banned := []string{
		"cloud.google.com/", "github.com/aws/", "github.com/hashicorp/", "google.golang.org/grpc",
		"github.com/jackc/", "modernc.org/", "github.com/tink-crypto/", "github.com/stretchr/",
	}
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/nyaruka/phonenumbers")
	for _, d := range deps {
		for _, b := range banned {
			require.False(t, strings.HasPrefix(d, b), "tokenize must not import %s", d)
		}
	}
}
