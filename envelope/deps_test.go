package envelope_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencyBoundary keeps what users of envelope compile small: no
// cloud SDK, no database driver (sqlkeystore takes a *sql.DB; tests bring
// the drivers).
func TestDependencyBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps",
		"github.com/fieldguard/pii/envelope", "github.com/fieldguard/pii/envelope/sqlkeystore").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/tink-crypto/tink-go/v2/daead/subtle")
	for _, d := range deps {
		for _, banned := range []string{
			"cloud.google.com/", "github.com/aws/", "github.com/hashicorp/",
			"google.golang.org/grpc", "modernc.org/sqlite", "github.com/jackc/pgx",
			"github.com/c2sp/wycheproof", "github.com/stretchr/testify",
		} {
			require.False(t, strings.HasPrefix(d, banned), "envelope depends on %s", d)
		}
	}
}
