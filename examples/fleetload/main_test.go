package main

import (
	"os"
	"testing"

	"github.com/fieldguard/pii/internal/testdb"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary be a worker when a run inside the test
// starts it.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == workerCommand {
		os.Exit(runWorker(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}

// TestSmallRun: two processes of two goroutines seal and open 2,000
// fields of 50 subjects; every field round-trips (a worker fails on any
// error), and the key provider calls are one or two per process, not per
// field or subject.
func TestSmallRun(t *testing.T) {
	_, url := testdb.Postgres(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	r, err := Run(t.Context(), Config{DSN: url, Table: "fleetload_test_keys", Procs: 2, Goroutines: 2, Fields: 2000, Subjects: 50, Feed: true}, exe)
	require.NoError(t, err)
	require.Equal(t, 2000, r.Fields)
	require.Equal(t, 1, r.BranchKeys)
	require.Equal(t, 50, r.DEKs, "one DEK per subject")
	// Each process makes or unwraps the one branch key (both may race to
	// make it: the loser unwraps the winner's): at most two calls each.
	require.Positive(t, r.Wraps)
	require.LessOrEqual(t, r.Wraps+r.Unwraps, uint64(4))
	require.Positive(t, r.P50)
	require.GreaterOrEqual(t, r.P99, r.P50)
	t.Logf("%+v", r)
}
