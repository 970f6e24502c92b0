package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// ProtocolVersion is the EntglDb protocol level this node speaks.
const ProtocolVersion = "v5 (falls back to v4)"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, protocol version and Go version",
		Args:  checkArgs(cobra.NoArgs),
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "entgldb %s\nprotocol %s\n%s %s/%s\n", Version, ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

func addFileCommands(root *cobra.Command) {
	var dbPath, out string
	backup := &cobra.Command{
		Use:   "backup --out FILE [--db PATH]",
		Short: "Back up a running node (through its API), or a database file with no node running (--db)",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("--out FILE is required")
			}
			absOut, err := filepath.Abs(out)
			if err != nil {
				return usageErr("bad --out: %v", err)
			}
			if dbPath != "" {
				if _, err := os.Stat(dbPath); err != nil {
					return &cliError{exit: exitFailure, code: string(domain.CodePersistence), msg: fmt.Sprintf("database %s: %v", dbPath, err)}
				}
				prog := newProgress(cmd.ErrOrStderr(), "backup", 0).elapsed()
				n, err := sqlite.BackupFile(cmd.Context(), dbPath, absOut)
				prog.done()
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d bytes\n", absOut, n)
				return nil
			}
			return backupThroughNode(cmd.Context(), cmd.OutOrStdout(), nodeClient(cmd.Root()), absOut)
		},
	}
	backup.Flags().StringVar(&dbPath, "db", "", "database file of a stopped node")
	backup.Flags().StringVar(&out, "out", "", "where to write the backup")
	root.AddCommand(backup)

	var restoreDB, from string
	restore := &cobra.Command{
		Use:   "restore --db PATH --from FILE",
		Short: "Replace a stopped node's database with a verified backup (the old file is kept beside it)",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if restoreDB == "" || from == "" {
				return usageErr("restore needs --db PATH and --from FILE")
			}
			prog := newProgress(cmd.ErrOrStderr(), "restore", 0).elapsed()
			err := sqlite.Restore(cmd.Context(), from, restoreDB)
			prog.done()
			if err != nil {
				return err
			}
			// The restored node must not write under its old id again: see
			// entgldb.ForgetNodeID.
			if err := entgldb.ForgetNodeID(cmd.Context(), restoreDB); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s from %s\n", restoreDB, from)
			fmt.Fprintln(cmd.OutOrStdout(), "the node takes a new node id at its next start (set NodeId in its configuration only to a new, unused id)")
			return nil
		},
	}
	restore.Flags().StringVar(&restoreDB, "db", "", "database file of the stopped node")
	restore.Flags().StringVar(&from, "from", "", "backup file to restore")
	root.AddCommand(restore)

	var checkDB string
	var quick bool
	check := &cobra.Command{
		Use:   "check --db PATH",
		Short: "Run PRAGMA integrity_check on a database file; prints ok or what is corrupt (exit 4)",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if checkDB == "" {
				return usageErr("check needs --db PATH")
			}
			prog := newProgress(cmd.ErrOrStderr(), "check", 0).elapsed()
			err := sqlite.CheckFile(cmd.Context(), checkDB, !quick)
			prog.done()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	check.Flags().StringVar(&checkDB, "db", "", "database file")
	check.Flags().BoolVar(&quick, "quick", false, "quick_check instead of the full integrity_check")
	root.AddCommand(check)
}

// backupThroughNode asks a running node for an online backup written to out.
// The node writes the file itself when it can reach out's path (same
// machine); otherwise the CLI copies the file the node reports.
func backupThroughNode(ctx context.Context, w io.Writer, c *client.Client, out string) error {
	resp, err := c.Backup(ctx, out)
	if err != nil {
		return nodeErr(err)
	}
	if resp.Path != out {
		if err := copyFile(resp.Path, out); err != nil {
			return &cliError{exit: exitFailure, code: string(domain.CodePersistence), msg: fmt.Sprintf("copying backup %s to %s: %v", resp.Path, out, err)}
		}
	}
	fmt.Fprintf(w, "%s %d bytes\n", out, resp.Bytes)
	return nil
}

// copyFile copies src to dst through a temporary file, 0600 like the
// node's own backups: a backup holds every document.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	// A temporary file left by a crash would keep its mode through O_TRUNC.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
