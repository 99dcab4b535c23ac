package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-dir", dir, "-records", "300", "-batch", "37"}, &stdout, &stderr), stderr.String())
	require.Empty(t, stderr.String())
	out := stdout.String()

	for _, want := range []string{
		"Seeded 300 accounts in " + filepath.Join(dir, "shop.db"),
		"  Email      retain=P2Y,from=LastSeen,then=null",
		"  BirthDate  retain=P6M,then=generalize:year",
		"Legal hold placed on customer cus-00006",
		"  ledger entries written by the dry run: 0",
		// The hand-picked accounts, before -> after.
		"  cus-00001: active last week, account 3 months old (created 2026-08-23, last seen 2026-11-16)\n    unchanged",
		"    name        Grace Hopper       -> [REDACTED]",
		"    email       grace@example.com  -> NULL",
		"    phone       +1 202 555 0143    -> ***********0143",
		"    postcode    EC1V 9HX           -> EC1",
		"    ip          198.51.100.23      -> 198.51.100.0",
		"    birth_date  1976-12-09         -> 1976-01-01",
		"  cus-00003: last seen 45 days ago (created 2022-11-23, last seen 2026-10-09)\n    ip          192.0.2.146  -> 192.0.2.0\n    birth_date  1982-06-23   -> 1982-01-01\n",
		"  cus-00005: closed 6 months ago (created 2023-11-23, last seen 2026-05-21)\n    account deleted",
		"  cus-00006: inactive for 3 years, under legal hold (created 2020-11-23, last seen 2023-11-23)\n    unchanged",
		// The ledger, by keyed hash only.
		"Account  Name       redact                 applied  ",
		"Was customer cus-00002's data expired?",
		": 7 ledger entries.",
		"== Sweep again: 0 actions applied, 0 accounts deleted",
		"hold on cus-00006 released; 7 actions that fell due meanwhile applied at once",
		"    name        Barbara Liskov      -> [REDACTED]",
	} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `handle      amazing_grace      -> anon_[0-9a-f]{32}\n`, out)
	// The ledger's reason says when the period ended (the wording is the
	// retention package's).
	require.Regexp(t, `Account  Name       redact                 applied  .*2025-11-23`, out)

	// The dry run announced exactly what the sweep then did.
	dry := regexp.MustCompile(`(\d+) candidate accounts; would apply (\d+) actions \((\d+) account deletions\); 7 held back`).FindStringSubmatch(out)
	require.NotNil(t, dry, out)
	swept := regexp.MustCompile(`scanned (\d+), applied (\d+) actions, deleted (\d+) accounts, held 7`).FindStringSubmatch(out)
	require.NotNil(t, swept, out)
	require.Equal(t, dry[1:], swept[1:])
	require.NotEqual(t, "0", swept[2])
	require.NotEqual(t, "0", swept[3])

	// The ledger in the database holds no ids and no values.
	db, err := sql.Open("sqlite", filepath.Join(dir, "shop.db"))
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT * FROM retention_ledger")
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for _, v := range vals {
			require.NotContains(t, v.String, "cus-")
			require.NotContains(t, v.String, "@example")
			require.NotContains(t, v.String, "Grace")
		}
		n++
	}
	require.NoError(t, rows.Err())
	require.Greater(t, n, 7)
}

func TestBadArgs(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"-records", "3"}, {"-batch", "0"}, {"-records", "many"}, {"extra"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(args, &stdout, &stderr))
			require.Empty(t, stdout.String())
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
			require.True(t, strings.HasPrefix(stderr.String(), "retention: "), stderr.String())
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "-records")
	require.Empty(t, stderr.String())
}

func TestUnwritableDir(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"-dir", "/proc/nonexistent/dir"}, &stdout, &stderr))
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
	require.True(t, strings.HasPrefix(stderr.String(), "retention: "), stderr.String())
}

func TestRerunSameDir(t *testing.T) {
	dir := t.TempDir()
	var first, second, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-dir", dir, "-records", "50"}, &first, &stderr), stderr.String())
	require.Equal(t, 0, run([]string{"-dir", dir, "-records", "50"}, &second, &stderr), stderr.String())
	require.Equal(t, first.String(), second.String())
}
