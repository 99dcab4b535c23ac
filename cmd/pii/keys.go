package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/sqlkeystore"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
	"github.com/fieldguard/pii/keyprovider/local"
)

// versionManager is the version life cycle of keyprovider/local; cloud
// key services manage versions with their own tools.
type versionManager interface {
	AddVersion(ctx context.Context) (keyprovider.KeyID, error)
	Promote(ctx context.Context, version string) error
	Disable(ctx context.Context, version string) error
	Enable(ctx context.Context, version string) error
	Destroy(ctx context.Context, version string) error
}

var _ versionManager = (*local.Provider)(nil)

type keysFlags struct {
	kms, db, table string
	promote, yes   bool
}

func keysCmd(e *env) *cobra.Command {
	f := &keysFlags{}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List and manage key-encryption-key versions",
		Long: `keys lists and manages the versions of the key-encryption key a --kms URI
names. The safe order of a rotation: add (the new version unwraps but does
not wrap), let every process reload the keyset, promote (new wraps use it),
pii rewrap, disable the old version (unwraps under it now fail, which finds
stragglers without losing data; enable undoes it), destroy it.

add, promote, disable, enable and destroy need a local:// keyset; cloud key
services manage their versions with their own tools (add --promote rotates
those that can). destroy checks the key store in --db first and refuses
while any key there is still wrapped under the version.`,
	}
	cmd.PersistentFlags().StringVar(&f.kms, "kms", "", kmsHelp)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the key versions, their status and which is primary",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openKMS(cmd.Context(), f.kms, false)
			if err != nil {
				return err
			}
			defer c.Close()
			return printVersions(cmd.Context(), e, c)
		},
	}
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a key version: it unwraps but does not wrap until promoted",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openKMS(cmd.Context(), f.kms, false)
			if err != nil {
				return err
			}
			defer c.Close()
			var id keyprovider.KeyID
			if m, ok := c.Backend().(versionManager); ok {
				if id, err = m.AddVersion(cmd.Context()); err != nil {
					return err
				}
				if f.promote {
					if err := m.Promote(cmd.Context(), id.Version); err != nil {
						return err
					}
				}
			} else if _, ok := c.Backend().(keyprovider.Rotator); ok && f.promote {
				if id, err = c.Rotate(cmd.Context()); err != nil {
					return err
				}
			} else {
				return usageErr("%s cannot add a version without making it primary; use --promote, or the key service's own tools", f.kms)
			}
			return report(e, map[string]any{"added": id.Version, "key": id.Key, "primary": f.promote},
				"added version %s%s\n", id.Version, map[bool]string{true: " (primary)", false: " (not primary; promote it once every process has reloaded the keyset)"}[f.promote])
		},
	}
	add.Flags().BoolVar(&f.promote, "promote", false, "make the new version primary at once")
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a local keyset with one primary version (local:// only)",
		Long: `create makes a new local keyset file at the local:// path of --kms, with one
primary AES-256-GCM version, encrypted under the master key in
PII_MASTER_KEY (base64 of 32 random bytes: head -c 32 /dev/urandom | base64).
It refuses to overwrite an existing file.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := kmsuri.Parse(f.kms)
			if err != nil || u.Scheme != "local" {
				return usageErr("--kms: create needs a local://PATH key URI")
			}
			if _, err := os.Stat(u.Key); err == nil {
				return usageErr("%s exists; refusing to overwrite a keyset", u.Key)
			}
			c, err := openKMS(cmd.Context(), f.kms, true)
			if err != nil {
				return err
			}
			defer c.Close()
			return printVersions(cmd.Context(), e, c)
		},
	}
	cmd.AddCommand(create, list, add,
		manageCmd(e, f, "promote", "Make a version primary: new wraps use it", func(ctx context.Context, m versionManager, v string) error { return m.Promote(ctx, v) }),
		manageCmd(e, f, "disable", "Disable a version: unwrapping under it fails until enabled", func(ctx context.Context, m versionManager, v string) error { return m.Disable(ctx, v) }),
		manageCmd(e, f, "enable", "Enable a disabled version again", func(ctx context.Context, m versionManager, v string) error { return m.Enable(ctx, v) }),
		destroyCmd(e, f),
	)
	return cmd
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unexpected argument %q", args[0])
	}
	return nil
}

func oneVersion(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErr("want one key version (see pii keys list)")
	}
	return nil
}

func manageCmd(e *env, f *keysFlags, verb, short string, do func(context.Context, versionManager, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " VERSION",
		Short: short,
		Args:  oneVersion,
		RunE: func(cmd *cobra.Command, args []string) error {
			return manage(cmd.Context(), e, f, verb, args[0], do)
		},
	}
}

func manage(ctx context.Context, e *env, f *keysFlags, verb, version string, do func(context.Context, versionManager, string) error) error {
	c, err := openKMS(ctx, f.kms, false)
	if err != nil {
		return err
	}
	defer c.Close()
	m, ok := c.Backend().(versionManager)
	if !ok {
		return usageErr("%s: %s a version with the key service's own tools", f.kms, verb)
	}
	if err := do(ctx, m, version); err != nil {
		if isUnknownVersion(err) {
			return &exitError{code: exitUsage, err: err}
		}
		return err
	}
	done := pastTense[verb]
	return report(e, map[string]any{done: version}, "%s version %s\n", done, version)
}

var pastTense = map[string]string{"promote": "promoted", "disable": "disabled", "enable": "enabled", "destroy": "destroyed"}

func isUnknownVersion(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "malformed version")) &&
		(errorsIs(err, keyprovider.ErrKeyNotFound) || errorsIs(err, keyprovider.ErrInvalidArgument))
}

func destroyCmd(e *env, f *keysFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "destroy VERSION",
		Short: "Destroy a disabled version for good, once no key in --db is wrapped under it",
		Long: `destroy deletes a key version's material from the keyset for good: whatever is
still wrapped under it can never be unwrapped again. It refuses unless the
version is disabled (disable it first and let your services run: an unwrap
under a disabled version fails and enable undoes it, which finds keys
wrapped outside the key store), and it reads every KMS-wrapped key of the
key store in --db (table --keys-table: branch keys, search root keys, and
secrets such as a Guard's tokenizer root, ledger and pseudonym keys) and
refuses while any is still wrapped under the version (run pii rewrap
first). --yes confirms.`,
		Args: oneVersion,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !f.yes {
				return usageErr("destroy cannot be undone: add --yes to confirm")
			}
			c, err := openKMS(ctx, f.kms, false)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, ok := c.Backend().(versionManager); !ok {
				return usageErr("%s: destroy a version with the key service's own tools", f.kms)
			}
			db, err := openDB(ctx, f.db)
			if err != nil {
				return err
			}
			defer db.Close()
			status, err := versionStatus(ctx, c, args[0])
			if err != nil {
				return err
			}
			if status != keyprovider.StatusDisabled {
				return &exitError{code: exitFindings, err: fmt.Errorf("refusing to destroy version %s: it is %s; disable it first and let your services run, since unwraps under a disabled version fail (and enable undoes it) where a destroyed one is gone for good", args[0], status)}
			}
			n, err := keysWrappedUnder(ctx, db, f.table, args[0])
			if err != nil {
				return err
			}
			if n > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("refusing to destroy version %s: %d keys in %s are still wrapped under it; run pii rewrap first", args[0], n, f.table)}
			}
			return manage(ctx, e, f, "destroy", args[0], func(ctx context.Context, m versionManager, v string) error { return m.Destroy(ctx, v) })
		},
	}
	cmd.Flags().BoolVar(&f.yes, "yes", false, "confirm the destruction")
	cmd.Flags().StringVar(&f.db, "db", "", dbHelp)
	cmd.Flags().StringVar(&f.table, "keys-table", defaultKeysTable, "the key store's table")
	return cmd
}

// defaultKeysTable is the key table of a guard.Guard with the default
// prefix.
const defaultKeysTable = "pii_keys"

// keysWrappedUnder counts the KMS-wrapped keys of the key store (every
// kind of envelope.KMSWrappedKinds: branch keys, search root keys, and
// secrets such as a guard.Guard's tokenizer root and ledger keys) whose
// wrapping KEK has the given version.
func keysWrappedUnder(ctx context.Context, db *database, table, version string) (int, error) {
	if err := db.requireTable(ctx, table); err != nil {
		return 0, err
	}
	st, err := sqlkeystore.New(db.DB, &sqlkeystore.Options{Dialect: db.dialect.Public(), Table: table})
	if err != nil {
		return 0, &exitError{code: exitUsage, err: err}
	}
	n := 0
	for _, kind := range envelope.KMSWrappedKinds() {
		var after envelope.KeyRef
		for {
			recs, err := st.List(ctx, kind, after, 500)
			if err != nil {
				return 0, err
			}
			for _, r := range recs {
				if _, v, _ := strings.Cut(r.KEK, "#"); v == version {
					n++
				}
			}
			if len(recs) < 500 {
				break
			}
			after = recs[len(recs)-1].KeyRef
		}
	}
	return n, nil
}

// versionStatus returns the status of version v; an unknown version is a
// usage error.
func versionStatus(ctx context.Context, c *keyprovider.Client, v string) (keyprovider.Status, error) {
	vs, err := c.Versions(ctx)
	if err != nil {
		return "", err
	}
	for _, x := range vs {
		if x.ID.Version == v {
			return x.Status, nil
		}
	}
	return "", usageErr("no key version %s (see pii keys list)", v)
}

func printVersions(ctx context.Context, e *env, c *keyprovider.Client) error {
	vs, err := c.Versions(ctx)
	if err != nil {
		return err
	}
	type jv struct {
		Key     string             `json:"key"`
		Version string             `json:"version"`
		Status  keyprovider.Status `json:"status"`
		Primary bool               `json:"primary"`
		Created *time.Time         `json:"created,omitempty"`
	}
	out := make([]jv, len(vs))
	for i, v := range vs {
		out[i] = jv{Key: v.ID.Key, Version: v.ID.Version, Status: v.Status, Primary: v.Primary}
		if !v.Created.IsZero() {
			t := v.Created.UTC()
			out[i].Created = &t
		}
	}
	if e.json {
		return writeJSON(e.stdout, map[string]any{"versions": out})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATUS\tPRIMARY\tCREATED")
	for _, v := range out {
		created := "-"
		if v.Created != nil {
			created = v.Created.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Version, v.Status, yesNo(v.Primary), created)
	}
	return tw.Flush()
}

// report prints v as JSON under --json, else the formatted text.
func report(e *env, v any, format string, args ...any) error {
	if e.json {
		return writeJSON(e.stdout, v)
	}
	_, err := fmt.Fprintf(e.stdout, format, args...)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
