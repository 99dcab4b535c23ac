package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain runs a migrating process when the program starts itself (run
// executes this test binary with envChild set).
func TestMain(m *testing.M) {
	if js := os.Getenv(envChild); js != "" {
		if err := child(context.Background(), js, os.Stdout); err != nil {
			os.Stderr.WriteString("migrate (child): " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs the benchmark program small: every row of each table
// is migrated and the report names both ratios. The figures themselves
// are not asserted: they are measured by running the program full size.
func TestRunSmall(t *testing.T) {
	cfg := config{n: 600, small: 60, batch: 50, dir: t.TempDir()}
	var out strings.Builder
	res, err := run(context.Background(), cfg, &out, os.Args[0])
	require.NoError(t, err, out.String())
	require.Equal(t, int64(600), res.Lib.Rows)
	require.Equal(t, int64(600), res.Hand.Rows)
	require.Equal(t, int64(60), res.LibSmall.Rows)
	require.Contains(t, out.String(), "throughput library / hand loop")
	require.Contains(t, out.String(), "peak memory 600 rows / 60 rows")
	require.Positive(t, res.throughput())
	require.Positive(t, res.memory())
}

func TestFlags(t *testing.T) {
	c, err := parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, config{n: 1_000_000, small: 100_000, batch: 1000}, c)
	for _, bad := range [][]string{{"-n", "5"}, {"-batch", "0"}, {"extra"}} {
		_, err := parseFlags(bad)
		require.Error(t, err, bad)
	}
}
