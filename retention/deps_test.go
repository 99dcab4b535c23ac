package retention

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps retention's import graph small: no cloud SDK, no database
// driver, and no sibling implementation package (envelope and tokenize plug
// in through the Shredder and TokenDeleter interfaces).
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "./sqlstore").Output()
	require.NoError(t, err, "go list -deps")
	banned := []string{
		"cloud.google.com/", "github.com/aws/", "github.com/hashicorp/", "google.golang.org/grpc",
		"github.com/jackc/", "modernc.org/", "github.com/tink-crypto/", "github.com/stretchr/",
		"github.com/fieldguard/pii/envelope", "github.com/fieldguard/pii/tokenize", "github.com/fieldguard/pii/keyprovider",
	}
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/fieldguard/pii")
	require.Contains(t, deps, "database/sql")
	for _, d := range deps {
		for _, b := range banned {
			require.False(t, strings.HasPrefix(d, b), "retention must not import %s", d)
		}
	}
}
