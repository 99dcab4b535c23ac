package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/keyprovider/local"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	// A test master key, generated here: never hard-code one.
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	_, err = local.Create(filepath.Join(dir, "keyset.json"), master)
	require.NoError(t, err)
	t.Setenv("PII_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
	var stdout, stderr bytes.Buffer
	args := []string{"--kms", "local://" + filepath.Join(dir, "keyset.json"), "--db", "sqlite:" + filepath.Join(dir, "shop.db"), "--customers", "3"}
	require.Equal(t, 0, run(context.Background(), args, &stdout, &stderr), stderr.String())
	require.Equal(t, "wrote 3 customers, 6 orders and 3 subscribers (in clear)\n", stdout.String())
	require.Equal(t, 2, run(context.Background(), []string{"--customers", "0"}, &stdout, &stderr))
}
