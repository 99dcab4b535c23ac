package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

// TestMain runs the read phase when the program starts itself (run
// executes this test binary with envRead set).
func TestMain(m *testing.M) {
	if js := os.Getenv(envRead); js != "" {
		if err := readChild(context.Background(), js, os.Stdout); err != nil {
			os.Stderr.WriteString("bulkload (read): " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs the benchmark program small, on SQLite and
// PostgreSQL, both ways: every row written reads back as inserted (the
// read process checks each one) and the report names both ratios. The
// figures themselves are not asserted: they are measured by running the
// program full size.
func TestRunSmall(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, via := range []string{"envelope", "guard"} {
			t.Run(dialect+"/"+via, func(t *testing.T) {
				cfg := config{n: 450, batch: 200, via: via, dir: t.TempDir()}
				if dialect == "postgres" {
					_, cfg.db = testdb.Postgres(t)
				}
				var out strings.Builder
				res, err := run(context.Background(), cfg, &out, os.Args[0])
				require.NoError(t, err, out.String())
				require.Contains(t, out.String(), "insert   plaintext")
				require.Contains(t, out.String(), "read     plaintext")
				require.Positive(t, res.writeRatio())
				require.Positive(t, res.readRatio())
			})
		}
	}
}

func TestFlags(t *testing.T) {
	c, err := parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, config{n: 100_000, batch: 500, via: "envelope"}, c)
	for _, bad := range [][]string{{"-n", "0"}, {"-batch", "-1"}, {"-via", "gorm"}, {"extra"}} {
		_, err := parseFlags(bad)
		require.Error(t, err, bad)
	}
}
