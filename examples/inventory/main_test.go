package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldguard/pii"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "inv.json")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", out}, &stdout, &stderr), stderr.String())
	md := stdout.String()
	require.Contains(t, md, "# Personal data inventory")
	require.Contains(t, md, "| email | no | Customer.Email | P2Y from LastSeen then shred |")
	require.Contains(t, md, "| card | yes | Payment.Card | P13M from Expires then delete |")
	require.Contains(t, md, "`Customer.LoginIP`: name suggests personal data (category ip)")

	var r pii.Report
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Types, 3)
	require.Len(t, r.Warnings, 1)
}

func TestBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"-nope"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "flag provided but not defined")
}
