package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes; see the package documentation.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitFindings    = 3
	exitAccess      = 4
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// exitError carries an exit code with an error; findings are reported by
// the command itself and have a nil err.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func findings() error { return &exitError{code: exitFindings} }

// env is the process environment, injected so tests can run commands in
// process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	json           bool
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, lookup: lookup}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code // findings, already reported
	}
	fmt.Fprintln(stderr, "pii: "+oneLine(strings.TrimPrefix(err.Error(), "pii: ")))
	if code == exitInterrupted {
		fmt.Fprintln(stderr, "pii: interrupted; run the same command again to resume")
	}
	return code
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "pii",
		Short: "Operate github.com/fieldguard/pii: the data inventory read from source, and more",
		Long: `pii is the operators' tool of github.com/fieldguard/pii.

The commands on a program's tables (verify, forget, export, sweep, rotate,
breach-report, migrate) open a guard.Guard on --db and read the program's Go
types from its source: --pkg names the packages, and the tables are those it
registers with guard.NewTable[T](g, &guard.TableOptions{Table: "..."}) or
those --table NAME=TYPE names. See "pii verify --help".

Flags can be set in the environment: --kms as PII_KMS, --db as PII_DB, any
other --some-flag as PII_SOME_FLAG. The local keyset's master key comes from
PII_MASTER_KEY. Exit codes: 0 success, 1 failure, 2 usage, 3 findings,
4 wrong master key or access refused, 130 interrupted (run again to resume).`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd, e.lookup)
		},
	}
	root.PersistentFlags().BoolVar(&e.json, "json", false, "print JSON instead of text")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%w (see --help)", err)}
	})
	root.AddCommand(inventoryCmd(e), scanCmd(e), keysCmd(e), rewrapCmd(e), rotateCmd(e), verifyCmd(e),
		migrateCmd(e), sweepCmd(e), forgetCmd(e), exportCmd(e), breachCmd(e))
	return root
}

// applyEnv sets every flag not given on the command line from the
// environment: PII_ plus the flag name upper-cased with - as _.
func applyEnv(cmd *cobra.Command, lookup func(string) (string, bool)) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := "PII_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(name); ok && v != "" {
			if serr := cmd.Flags().Set(f.Name, v); serr != nil {
				err = usageErr("environment variable %s: %v", name, serr)
			}
		}
	})
	return err
}
