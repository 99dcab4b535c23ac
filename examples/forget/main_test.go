package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "work")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-dir", dir}, &stdout, &stderr), stderr.String())
	require.Empty(t, stderr.String())
	out := stdout.String()

	// Sections in order.
	var at []int
	for _, s := range []string{"== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 6."} {
		i := strings.Index(out, s)
		require.GreaterOrEqual(t, i, 0, s)
		at = append(at, i)
	}
	require.IsIncreasing(t, at)
	section := func(n int) string {
		if n == len(at) {
			return out[at[n-1]:]
		}
		return out[at[n-1]:at[n]]
	}

	// Before: everyone readable; the database holds ciphertext and a token.
	s1 := section(1)
	require.Regexp(t, `cus-0002  Grace Hopper +grace@example.com +\+441614960732 +silver`, s1)
	require.Regexp(t, `name   pii1\.\S+…  \(\d+ characters, envelope ciphertext\)`, s1)
	require.Regexp(t, `phone  \+44\d{10}  \(a stored token`, s1)
	require.NotContains(t, s1, "phone  +441614960732")

	// The request.
	s3 := section(3)
	require.Regexp(t, `Name +shred +applied +erasure request`, s3)
	require.Regexp(t, `Phone +null +applied +erasure request`, s3)
	require.Regexp(t, `\(data key\) +shred +applied `, s3)
	require.Contains(t, s3, "3 actions applied, 0 kept; data key shredded: true; stored tokens deleted: 1")

	// After: erased in the live database, unreadable in the backup, others intact.
	s4 := section(4)
	require.Regexp(t, `cus-0002  NULL +NULL +NULL +silver`, s4)
	require.Regexp(t, `cus-0002  \(key shredded\) +\(key shredded\) +\(token deleted\) +silver`, s4)
	require.Equal(t, 2, strings.Count(s4, "cus-0001  Ada Lovelace       ada@example.com   +442079460018"))
	require.NotContains(t, s4, "Grace")

	// The ledger: hashes only.
	s5 := section(5)
	require.Equal(t, 4, strings.Count(s5, "erasure request"))
	require.Contains(t, s5, "none found")
	require.NotContains(t, s5, "Grace")

	// Restore, replay.
	s6 := section(6)
	before, after, ok := strings.Cut(s6, "retention.Replay(ledger.db)")
	require.True(t, ok)
	require.Contains(t, before, "cus-0002  Grace Hopper")
	require.Contains(t, after, ": 4 records scanned, 3 actions re-applied; data key shredded again, stored tokens deleted: 1")
	require.Regexp(t, `cus-0002  NULL +NULL +NULL +silver`, after)
	require.NotContains(t, after, "Grace")
	require.Contains(t, after, "name (key shredded), email (key shredded), phone (token deleted)")
	require.Contains(t, after, "Every other customer opens to exactly what was stored before the request.")
	require.Contains(t, after, "A second replay re-applies 0 actions")

	// No database file, live or backup, ever held the clear values.
	for _, f := range []string{"shop.db", "secrets.db", "ledger.db", "backups/shop.db", "backups/secrets.db"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		for _, c := range customers {
			for _, v := range []string{c.Name, c.Email, c.Phone} {
				require.False(t, bytes.Contains(b, []byte(v)), "%s holds a clear value of %s", f, c.ID)
			}
		}
	}
}

func TestBadArgs(t *testing.T) {
	full := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(full, "keep.txt"), []byte("x"), 0o600))
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-nope"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-dir"}, 2},
		{[]string{"-dir", full}, 1},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.code, run(tc.args, &stdout, &stderr))
			require.Empty(t, stdout.String())
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
			require.True(t, strings.HasPrefix(stderr.String(), "forget: "), stderr.String())
		})
	}
	// The refused folder is left as it was.
	ents, err := os.ReadDir(full)
	require.NoError(t, err)
	require.Len(t, ents, 1)
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "-dir")
	require.Empty(t, stderr.String())
}
