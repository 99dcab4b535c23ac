package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/internal/guardtool"
	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/retention/sqlstore"
)

// tablesHelp is the part of every table command's help that says where
// its tables come from.
const tablesHelp = `The command reads the program's Go types from source, as inventory does:
--pkg names the packages (./internal/store, ./...) and the tables are those
the program registers with guard.NewTable[T](g, &guard.TableOptions{Table:
"customers"}) where the options are constants, or those --table names:
--table customers (a table the source registers) or --table customers=Customer
(TYPE is Name, pkg.Name or import/path.Name; the table is mapped through the
type's db tags). Each type is rebuilt at run time with the name the program
gives it (pii.Register, else its Go name), so values open as the program
wrote them; a type whose methods matter (a driver.Valuer column with a pii
tag) is refused. Reading source needs the program's source tree and the go
command, as inventory does.`

// guardFlags are the flags of the commands that open a Guard.
type guardFlags struct {
	kms, db, prefix, dir string
	pkgs, tables         []string
	partial              bool
}

// add adds the flags to cmd; withTables adds those that name the tables.
func (f *guardFlags) add(cmd *cobra.Command, withTables bool) {
	cmd.Flags().StringVar(&f.kms, "kms", "", kmsHelp)
	cmd.Flags().StringVar(&f.db, "db", "", dbHelp)
	cmd.Flags().StringVar(&f.prefix, "prefix", "pii_", "the prefix of the Guard's tables (guard.Options.Prefix): PREFIX+keys, tokens, ledger, holds, audit, ...")
	if withTables {
		cmd.Flags().StringSliceVar(&f.pkgs, "pkg", nil, "Go packages that declare the tables' types and register them (go list patterns) [env PII_PKG, comma-separated]")
		cmd.Flags().StringSliceVar(&f.tables, "table", nil, "a table to register: NAME (as the source registers it) or NAME=TYPE; repeat for each (default: every table the source registers) [env PII_TABLE]")
		cmd.Flags().StringVar(&f.dir, "dir", "", "directory to resolve --pkg in (default: the current one)")
	}
}

// addPartial adds --partial to a command that erases (forget, sweep).
func (f *guardFlags) addPartial(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.partial, "partial", false, "run although the source registers stores the command cannot read (their holds and min= are then not checked)")
}

// session is an open Guard with the tables registered.
type session struct {
	g      *guard.Guard
	db     *database
	kms    *keyprovider.Client
	tables []tableSpec
	unread []string
}

func (s *session) close() {
	if s.kms != nil {
		s.kms.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

// need says what a command needs of the tables.
type need int

const (
	tablesOptional need = iota // rotate, breach-report: with none, they read no records
	tablesRequired             // verify, export, migrate
	tablesComplete             // forget, sweep: every registration of the source must be read (or --partial)
)

// open opens the database, the key provider and the Guard, and registers
// the tables. Usage errors come first, then access.
func (f *guardFlags) open(ctx context.Context, e *env, n need) (*session, error) {
	if _, _, _, err := parseDSN(f.db); err != nil {
		return nil, err
	}
	if n != tablesOptional && len(f.pkgs) == 0 {
		return nil, usageErr("--pkg is required (or PII_PKG): the Go packages that declare the tables' types")
	}
	var specs []tableSpec
	var unread []string
	if len(f.pkgs) > 0 {
		src, err := readSource(ctx, f.dir, f.pkgs)
		if err != nil {
			return nil, err
		}
		if specs, err = src.tables(f.tables); err != nil {
			return nil, err
		}
		if err := src.rebuild(specs); err != nil {
			return nil, err
		}
		unread = src.unread
		if n == tablesComplete {
			// A table the source registers and --table leaves out is a
			// store whose holds and min= the command would not check.
			named := map[string]bool{}
			for _, sp := range specs {
				named[sp.opts.Table] = true
			}
			for _, sp := range src.found {
				if !named[sp.opts.Table] {
					unread = append(unread, fmt.Sprintf("%s: NewTable[%s] registers table %s, which --table leaves out", sp.source, sp.obj.Name(), sp.opts.Table))
				}
			}
		}
	} else if len(f.tables) > 0 {
		return nil, usageErr("--table needs --pkg: the packages that declare the types")
	}
	if len(unread) > 0 {
		if n == tablesComplete && !f.partial {
			return nil, usageErr("%s; so the command cannot check its holds and min= before erasing: run this from the program, or add --partial (%d such registrations)", unread[0], len(unread))
		}
		for _, u := range unread {
			fmt.Fprintf(e.stderr, "pii: warning: %s; its rows are not read\n", u)
		}
	}
	s := &session{tables: specs, unread: unread}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	var err error
	if s.db, err = openDB(ctx, f.db); err != nil {
		return nil, err
	}
	if s.kms, err = openKMS(ctx, f.kms, false); err != nil {
		return nil, err
	}
	if err := s.db.requireTable(ctx, f.prefix+"keys"); err != nil {
		return nil, err
	}
	for _, sp := range specs {
		if err := s.db.requireTable(ctx, sp.opts.Table); err != nil {
			return nil, err
		}
		if err := s.db.requireColumns(ctx, sp.opts.Table, sp.columns); err != nil {
			return nil, fmt.Errorf("%w (the columns of %s, from %s)", err, sp.name, sp.source)
		}
	}
	s.g, err = guard.New(s.kms, s.db.DB, &guard.Options{Dialect: s.db.dialect.Public(), Prefix: f.prefix})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if err := s.g.CreateTables(ctx); err != nil {
		return nil, err
	}
	for _, sp := range specs {
		m := sqlstore.Mapping{Table: sp.opts.Table, ID: sp.opts.ID, Created: sp.opts.Created, Columns: sp.opts.Columns}
		if err := guardtool.RegisterTable(s.g, sp.rt, m); err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", sp.source, err)}
		}
	}
	ok = true
	return s, nil
}

// tableNames lists the registered tables: "customers (Customer)".
func (s *session) tableNames() []string {
	var out []string
	for _, t := range s.tables {
		out = append(out, t.opts.Table+" ("+t.name+")")
	}
	return out
}

// writeDoc writes a document of personal data to -o (see output).
func writeDoc(e *env, path string, doc []byte) error {
	w, done, err := output(e, path)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(doc, '\n')); err != nil {
		done()
		return err
	}
	return done()
}

// output opens -o for a document of personal data: a new file, readable
// by its owner only; "" or "-" is standard output.
func output(e *env, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return e.stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, usageErr("-o %s exists; refusing to overwrite", path)
		}
		return nil, nil, err
	}
	return f, f.Close, nil
}
