// Command entgldb runs an entgldb node (serve), talks to a running node over
// its HTTP API (put, get, find, ...), and operates on database files with no
// node running (backup --db, restore, check).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/entgldb/entgldb-go/domain"
)

// Exit codes of INTERFACE.md.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitCorruption  = 4
	exitUnreachable = 5
)

// cliError carries the exit code and the `error CODE: message` line.
type cliError struct {
	exit int
	code string
	msg  string
}

func (e *cliError) Error() string { return e.code + ": " + e.msg }

// checkArgs wraps a cobra argument validator so a wrong argument count is a
// usage error (exit 2), not a failure.
func checkArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageErr("%s: %v", cmd.CommandPath(), err)
		}
		return nil
	}
}

func usageErr(format string, args ...any) error {
	return &cliError{exit: exitUsage, code: string(domain.CodeInvalidArgument), msg: fmt.Sprintf(format, args...)}
}

// exitFor maps a domain code to the process exit code.
func exitFor(code domain.Code) int {
	switch code {
	case domain.CodeNotFound:
		return exitNotFound
	case domain.CodeCorruption:
		return exitCorruption
	case domain.CodeConfig, domain.CodeInvalidArgument:
		return exitUsage
	}
	return exitFailure
}

// toCLIError classifies any error for printing and exiting.
func toCLIError(err error) *cliError {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	code := domain.CodeOf(err)
	return &cliError{exit: exitFor(code), code: string(code), msg: domain.Message(err)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the exit code (a function so tests can
// call it in-process).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	ce := toCLIError(err)
	if ce.code == "" {
		// cobra's own usage errors (unknown flag, wrong arg count).
		ce = &cliError{exit: exitUsage, code: string(domain.CodeInvalidArgument), msg: err.Error()}
	}
	fmt.Fprintf(stderr, "error %s: %s\n", ce.code, ce.msg)
	return ce.exit
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "entgldb",
		Short:         "An embeddable, offline-first, peer-to-peer JSON document database",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	// Without a Run of its own the root would answer an unknown command with
	// a plain error; this makes it a usage error (exit 2) like the others.
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("unknown command %q (see 'entgldb --help')", args[0])
		}
		return cmd.Help()
	}
	addClientCommands(root)
	addKeysCommands(root)
	addFileCommands(root)
	addServeCommand(root)
	addTLSCommand(root)
	root.AddCommand(newVersionCmd())
	return root
}
