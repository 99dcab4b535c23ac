package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/internal/sqldialect"
	"github.com/fieldguard/pii/internal/testdb"
	"github.com/fieldguard/pii/keyprovider/local"
)

// keyset is a local keyset made by pii keys create.
type keyset struct {
	uri    string
	path   string
	master []byte
	env    []string // PII_KMS and PII_MASTER_KEY
}

// Test master keys are generated per test; never hard-code one.
func newKeyset(t *testing.T) keyset {
	t.Helper()
	master, err := local.GenerateMasterKey()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "keyset.json")
	k := keyset{uri: "local://" + path, path: path, master: master,
		env: []string{"PII_KMS=local://" + path, "PII_MASTER_KEY=" + base64.StdEncoding.EncodeToString(master)}}
	r := runPII(t, cmdOpts{env: k.env}, "keys", "create")
	require.Equal(t, 0, r.code, r.stderr)
	return k
}

type version struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Primary bool   `json:"primary"`
}

func versions(t *testing.T, k keyset) []version {
	t.Helper()
	r := runPII(t, cmdOpts{env: k.env}, "keys", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var out struct{ Versions []version }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	return out.Versions
}

func addVersion(t *testing.T, k keyset, promote bool) string {
	t.Helper()
	args := []string{"keys", "add", "--json"}
	if promote {
		args = append(args, "--promote")
	}
	r := runPII(t, cmdOpts{env: k.env}, args...)
	require.Equal(t, 0, r.code, r.stderr)
	var out struct{ Added string }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
	require.NotEmpty(t, out.Added)
	return out.Added
}

func TestKeysLifecycle(t *testing.T) {
	k := newKeyset(t)
	vs := versions(t, k)
	require.Len(t, vs, 1)
	v1 := vs[0].Version
	require.True(t, vs[0].Primary)

	v2 := addVersion(t, k, false)
	vs = versions(t, k)
	require.Equal(t, []version{{v1, "enabled", true}, {v2, "enabled", false}}, vs)

	r := runPII(t, cmdOpts{env: k.env}, "keys", "promote", v2)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "promoted version "+v2+"\n", r.stdout)
	r = runPII(t, cmdOpts{env: k.env}, "keys", "disable", v1)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, []version{{v1, "disabled", false}, {v2, "enabled", true}}, versions(t, k))
	r = runPII(t, cmdOpts{env: k.env}, "keys", "enable", v1, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"enabled":"`+v1+`"}`, r.stdout)

	// Text output of list.
	r = runPII(t, cmdOpts{env: k.env}, "keys", "list")
	require.Equal(t, 0, r.code)
	require.Regexp(t, `(?m)^VERSION\s+STATUS\s+PRIMARY\s+CREATED\n`+v1+`\s+enabled\s+no\s+20\d\d-`, r.stdout)

	// Bad input: one line each, meaningful codes.
	wrong, err := local.GenerateMasterKey()
	require.NoError(t, err)
	r = runPII(t, cmdOpts{env: []string{"PII_KMS=" + k.uri, "PII_MASTER_KEY=" + base64.StdEncoding.EncodeToString(wrong)}}, "keys", "list")
	oneLineError(t, r, exitAccess, "wrong master key")
	require.NotContains(t, r.stderr, base64.StdEncoding.EncodeToString(wrong))
	oneLineError(t, runPII(t, cmdOpts{env: []string{"PII_KMS=" + k.uri}}, "keys", "list"), exitUsage, "PII_MASTER_KEY is not set")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "promote", "12345"), exitUsage, "12345")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "promote"), exitUsage, "want one key version")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "disable", v2), exitFailure, "primary")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "list", "--kms", "ftp://nope"), exitUsage, "kmsuri")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "list", "--kms", "local://"+filepath.Join(t.TempDir(), "none.json")), exitUsage, "no such file")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "create"), exitUsage, "refusing to overwrite")
	oneLineError(t, runPII(t, cmdOpts{}, "keys", "list"), exitUsage, "--kms is required")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "destroy", v1), exitUsage, "--yes")
	oneLineError(t, runPII(t, cmdOpts{env: k.env}, "keys", "destroy", v1, "--yes"), exitUsage, "--db is required")
}

// Customer is what the rewrap tests seal.
type Customer struct {
	ID     string `pii:"subject"`
	Tenant string `pii:"tenant"`
	Email  string `pii:"email,encrypt,index"`
}

// dbCase is one database the commands run against.
type dbCase struct {
	name string
	open func(t *testing.T) (*sql.DB, sqldialect.Dialect, string) // db, dialect, --db value
}

var dbCases = []dbCase{
	{"sqlite", func(t *testing.T) (*sql.DB, sqldialect.Dialect, string) {
		path := filepath.Join(t.TempDir(), "app.db")
		return testdb.OpenSQLite(t, path), sqldialect.SQLite, "sqlite:" + path
	}},
	{"postgres", func(t *testing.T) (*sql.DB, sqldialect.Dialect, string) {
		db, url := testdb.Postgres(t)
		return db, sqldialect.Postgres, url
	}},
}

// seed seals customers of several tenants with the keyset, so the key
// store holds branch keys, search root keys and data keys.
func seed(t *testing.T, k keyset, db *sql.DB, d sqldialect.Dialect, table string, tenants, perTenant int) (*envelope.Sealer, []Customer) {
	t.Helper()
	ctx := context.Background()
	kp, err := local.Open(k.path, k.master)
	require.NoError(t, err)
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d.Public(), Table: table})
	require.NoError(t, err)
	require.NoError(t, st.CreateTables(ctx))
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	var sealed []Customer
	for ti := range tenants {
		for i := range perTenant {
			c := Customer{ID: fmt.Sprintf("c-%d", i), Tenant: fmt.Sprintf("t-%d", ti), Email: fmt.Sprintf("user%d@example.com", i)}
			require.NoError(t, s.Seal(ctx, &c))
			sealed = append(sealed, c)
		}
	}
	return s, sealed
}

// openAll opens every sealed customer with a fresh sealer (every key
// through the key provider) and checks the values.
func openAll(t *testing.T, k keyset, db *sql.DB, d sqldialect.Dialect, table string, sealed []Customer) {
	t.Helper()
	kp, err := local.Open(k.path, k.master)
	require.NoError(t, err)
	st, err := sqlkeystore.New(db, &sqlkeystore.Options{Dialect: d.Public(), Table: table})
	require.NoError(t, err)
	s, err := envelope.New(kp, &envelope.Options{Store: st})
	require.NoError(t, err)
	for _, c := range sealed {
		got := c
		require.NoError(t, s.Open(context.Background(), &got))
		require.True(t, strings.HasSuffix(got.Email, "@example.com"))
	}
}

type rewrapOut struct {
	Rewrap []rewrapSummary `json:"rewrap"`
}

func TestRewrapAndDestroy(t *testing.T) {
	for _, dc := range dbCases {
		t.Run(dc.name, func(t *testing.T) {
			db, d, dsn := dc.open(t)
			k := newKeyset(t)
			table := "c15_keys"
			_, sealed := seed(t, k, db, d, table, 6, 2)
			env := append([]string{"PII_DB=" + dsn, "PII_KEYS_TABLE=" + table}, k.env...)
			v1 := versions(t, k)[0].Version
			v2 := addVersion(t, k, true)

			// Not while it is enabled, nor while keys are wrapped under it.
			r := runPII(t, cmdOpts{env: env}, "keys", "destroy", v1, "--yes")
			oneLineError(t, r, exitFindings, "refusing to destroy version "+v1+": it is enabled; disable it first")
			r = runPII(t, cmdOpts{env: env}, "keys", "disable", v1)
			require.Equal(t, 0, r.code, r.stderr)
			r = runPII(t, cmdOpts{env: env}, "keys", "destroy", v1, "--yes")
			oneLineError(t, r, exitFindings, "refusing to destroy version "+v1+": 6 keys in "+table+" are still wrapped under it")
			r = runPII(t, cmdOpts{env: env}, "keys", "enable", v1)
			require.Equal(t, 0, r.code, r.stderr)
			oneLineError(t, runPII(t, cmdOpts{env: env}, "keys", "destroy", "999", "--yes"), exitUsage, "no key version 999")

			// A run interrupted after its second batch, then resumed.
			interrupted(t, env, "rewrap", "--batch", "1", "--test-pause-after", "2", "--json")

			r = runPII(t, cmdOpts{env: env}, "rewrap", "--json", "--deks")
			require.Equal(t, 0, r.code, r.stderr)
			var out rewrapOut
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
			// The resumed run skips what the first one did (envelope learns
			// the primary from its first wrap, so it may redo one key).
			kms := out.Rewrap[0]
			require.Equal(t, "kms", kms.Kind)
			require.Equal(t, 6, kms.Scanned)
			require.Equal(t, 6, kms.Rewrapped+kms.Skipped)
			require.GreaterOrEqual(t, kms.Skipped, 1)
			require.Equal(t, "dek", out.Rewrap[1].Kind)
			require.Equal(t, 12, out.Rewrap[1].Scanned)

			// Everything opens with v1 disabled; then v1 can go.
			r = runPII(t, cmdOpts{env: env}, "keys", "disable", v1)
			require.Equal(t, 0, r.code, r.stderr)
			openAll(t, k, db, d, table, sealed)
			r = runPII(t, cmdOpts{env: env}, "keys", "destroy", v1, "--yes")
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, []version{{v1, "destroyed", false}, {v2, "enabled", true}}, versions(t, k))
			openAll(t, k, db, d, table, sealed)

			// Text output, a second run: nothing left to do.
			r = runPII(t, cmdOpts{env: env}, "rewrap")
			require.Equal(t, 0, r.code, r.stderr)
			require.Regexp(t, `^KMS-wrapped keys \(branch keys, search root keys, secrets\): 6 scanned, [01] rewrapped, [56] already under the current key\n$`, r.stdout)

			// Bad input.
			oneLineError(t, runPII(t, cmdOpts{env: env}, "rewrap", "--keys-table", "no_such_keys"), exitUsage, "has no table no_such_keys")
			oneLineError(t, runPII(t, cmdOpts{env: env}, "rewrap", "--keys-table", "bad;name"), exitUsage, "invalid table name")
			wrong, err := local.GenerateMasterKey()
			require.NoError(t, err)
			oneLineError(t, runPII(t, cmdOpts{env: append(env, "PII_MASTER_KEY="+base64.StdEncoding.EncodeToString(wrong))}, "rewrap"), exitAccess, "wrong master key")
		})
	}
}

func TestMalformedDSN(t *testing.T) {
	k := newKeyset(t)
	for _, tc := range []struct{ dsn, want string }{
		{"mysql://x", "want sqlite:PATH or a postgres:// URL"},
		{"sqlite:", "want sqlite:PATH"},
		{"sqlite:" + filepath.Join(t.TempDir(), "missing.db"), "no database there"},
		{"postgres://%zz", "malformed PostgreSQL URL"},
	} {
		r := runPII(t, cmdOpts{env: k.env}, "rewrap", "--db", tc.dsn)
		oneLineError(t, r, exitUsage, tc.want)
	}
	// A server that does not answer: a failure, not a usage error, and the
	// password never printed.
	r := runPII(t, cmdOpts{env: k.env}, "rewrap", "--db", "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2")
	oneLineError(t, r, exitFailure, "is unreachable")
	require.NotContains(t, r.stderr, "s3cret")
	_ = os.Getenv
}

// The secrets a guard.Guard keeps in the key store (tokenizer root,
// ledger and pseudonym keys) are KMS-wrapped keys too: destroy refuses
// while any is under the version, and rewrap moves them.
func TestDestroyChecksSecrets(t *testing.T) {
	for _, dc := range dbCases {
		t.Run(dc.name, func(t *testing.T) {
			ctx := context.Background()
			db, _, dsn := dc.open(t)
			k := newKeyset(t)
			kp, err := local.Open(k.path, k.master)
			require.NoError(t, err)
			g, err := guard.New(kp, db, nil)
			require.NoError(t, err)
			require.NoError(t, g.CreateTables(ctx))
			_, err = g.Retention(ctx) // makes the Guard's secrets
			require.NoError(t, err)
			env := append([]string{"PII_DB=" + dsn}, k.env...)
			v1 := versions(t, k)[0].Version
			addVersion(t, k, true)
			require.Equal(t, 0, runPII(t, cmdOpts{env: env}, "keys", "disable", v1).code)
			r := runPII(t, cmdOpts{env: env}, "keys", "destroy", v1, "--yes")
			oneLineError(t, r, exitFindings, "3 keys in pii_keys are still wrapped under it")
			require.Equal(t, 0, runPII(t, cmdOpts{env: env}, "keys", "enable", v1).code)
			r = runPII(t, cmdOpts{env: env}, "rewrap")
			require.Equal(t, 0, r.code, r.stderr)
			require.Contains(t, r.stdout, "3 scanned, 3 rewrapped")
			require.Equal(t, 0, runPII(t, cmdOpts{env: env}, "keys", "disable", v1).code)
			r = runPII(t, cmdOpts{env: env}, "keys", "destroy", v1, "--yes")
			require.Equal(t, 0, r.code, r.stderr)
		})
	}
}
