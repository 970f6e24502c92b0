package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// nodeErr gives a client error its exit code: a node that does not answer
// at all exits 5; errors the node answered (even NETWORK_ERROR) keep the
// exit code of their domain code.
func nodeErr(err error) error {
	var ue *client.UnreachableError
	if errors.As(err, &ue) {
		return &cliError{exit: exitUnreachable, code: string(domain.CodeNetwork), msg: ue.Error()}
	}
	if errors.Is(err, domain.ErrUnauthorized) {
		return &cliError{exit: exitFailure, code: string(domain.CodeUnauthorized), msg: domain.Message(err) + " (" + keyHint + ")"}
	}
	return err
}

// readJSONArg reads a JSON argument: literal text, @file, or - for stdin.
func readJSONArg(cmd *cobra.Command, arg string) ([]byte, error) {
	switch {
	case arg == "-":
		return io.ReadAll(cmd.InOrStdin())
	case strings.HasPrefix(arg, "@"):
		data, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, usageErr("reading %s: %v", arg[1:], err)
		}
		return data, nil
	}
	return []byte(arg), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func addClientCommands(root *cobra.Command) {
	var nodeAddr string
	root.PersistentFlags().StringVar(&nodeAddr, "node", "", "node HTTP address, host:port or https://host:port (default $ENTGLDB_NODE, else 127.0.0.1:5080)")
	addTLSFlags(root)
	node := func() *client.Client { return nodeClient(root) }

	var putTTL time.Duration
	put := &cobra.Command{
		Use:   "put COLLECTION KEY JSON",
		Short: "Write a document through a running node (JSON may be @file or - for stdin); prints the version",
		Args:  checkArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readJSONArg(cmd, args[2])
			if err != nil {
				return err
			}
			version, err := node().PutWith(cmd.Context(), args[0], args[1], body, client.PutOptions{TTL: putTTL})
			if err != nil {
				return nodeErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), version)
			return nil
		},
	}
	put.Flags().DurationVar(&putTTL, "ttl", 0, "the document expires this long after the write (e.g. 90s, 24h; default: never)")
	root.AddCommand(put)
	root.AddCommand(&cobra.Command{
		Use:   "get COLLECTION KEY",
		Short: "Print a document",
		Args:  checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := node().Get(cmd.Context(), args[0], args[1])
			if err != nil {
				return nodeErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(string(doc.Data)))
			return nil
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "delete COLLECTION KEY",
		Short: "Delete a document; prints the version of the delete",
		Args:  checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			version, err := node().Delete(cmd.Context(), args[0], args[1])
			if err != nil {
				return nodeErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), version)
			return nil
		},
	})

	var q client.Query
	find := &cobra.Command{
		Use:   "find COLLECTION",
		Short: "Print matching documents, one JSON object a line ({\"key\",\"version\",\"data\"})",
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := node().Find(cmd.Context(), args[0], q)
			if err != nil {
				return nodeErr(err)
			}
			w := cmd.OutOrStdout()
			prog := newProgress(cmd.ErrOrStderr(), "find", int64(len(docs)))
			for i, d := range docs {
				line, err := json.Marshal(d)
				if err != nil {
					return err
				}
				fmt.Fprintln(w, string(line))
				prog.set(int64(i + 1))
			}
			prog.done()
			return nil
		},
	}
	find.Flags().StringVar(&q.Where, "where", "", `filter, e.g. '{"age":{"$gt":30}}'`)
	find.Flags().StringVar(&q.OrderBy, "order-by", "", "field to order by (dotted path)")
	find.Flags().BoolVar(&q.Desc, "desc", false, "descending order")
	find.Flags().StringVar(&q.Sort, "sort", "", `sort by several fields, e.g. '{"age":-1,"name":1}' (after --order-by)`)
	find.Flags().StringVar(&q.Fields, "fields", "", `projection, e.g. '["name","address.city"]' or '{"bio":0}'`)
	find.Flags().IntVar(&q.Skip, "skip", 0, "documents to skip")
	find.Flags().IntVar(&q.Take, "take", 0, "documents to return at most (0: all)")
	root.AddCommand(find)

	var countWhere string
	count := &cobra.Command{
		Use:   "count COLLECTION",
		Short: "Print the number of matching documents",
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := node().Count(cmd.Context(), args[0], countWhere)
			if err != nil {
				return nodeErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), n)
			return nil
		},
	}
	count.Flags().StringVar(&countWhere, "where", "", "filter")
	root.AddCommand(count)

	root.AddCommand(&cobra.Command{
		Use:   "collections",
		Short: "List the collections",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := node().Collections(cmd.Context())
			if err != nil {
				return nodeErr(err)
			}
			for _, c := range names {
				fmt.Fprintln(cmd.OutOrStdout(), c)
			}
			return nil
		},
	})
	// Shown as the node sent them, so every field appears.
	for _, s := range []struct{ use, path, short string }{
		{"peers", client.PathPeers, "Show the node's peers"},
		{"status", client.PathStatus, "Show the node's sync status"},
	} {
		root.AddCommand(&cobra.Command{
			Use:   s.use,
			Short: s.short,
			Args:  checkArgs(cobra.NoArgs),
			RunE: func(cmd *cobra.Command, _ []string) error {
				var v any
				if err := node().GetJSON(cmd.Context(), s.path, &v); err != nil {
					return nodeErr(err)
				}
				return printJSON(cmd.OutOrStdout(), v)
			},
		})
	}
	root.AddCommand(&cobra.Command{
		Use:   "health",
		Short: "Show the node's health; exits 1 when unhealthy",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := node().Health(cmd.Context())
			if err != nil {
				return nodeErr(err)
			}
			var v any
			if err := json.Unmarshal(h.Report, &v); err != nil {
				return err
			}
			if err := printJSON(cmd.OutOrStdout(), v); err != nil {
				return err
			}
			if !h.Healthy {
				return &cliError{exit: exitFailure, code: "UNHEALTHY", msg: "node reports it is unhealthy"}
			}
			return nil
		},
	})
}

// progress prints a one-line progress indicator to a terminal (and nothing
// to a pipe or file, so scripts see clean output). With a total it counts
// items; without one (backup, restore, check: SQLite does not report its
// progress) it shows the time elapsed until done.
type progress struct {
	w        io.Writer
	label    string
	total    int64
	tty      bool
	start    time.Time
	last     time.Time
	stop     chan struct{}
	finished chan struct{}
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{w: w, label: label, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// elapsed shows the running time every 200 ms until done is called.
func (p *progress) elapsed() *progress {
	if !p.tty {
		return p
	}
	p.stop, p.finished = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				fmt.Fprintf(p.w, "\r%s: %.1fs", p.label, time.Since(p.start).Seconds())
				p.last = time.Now()
			}
		}
	}()
	return p
}

func (p *progress) set(n int64) {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r%s: %d/%d (%d%%)", p.label, n, p.total, n*100/p.total)
	} else {
		fmt.Fprintf(p.w, "\r%s: %d", p.label, n)
	}
}

func (p *progress) done() {
	if p.stop != nil {
		close(p.stop)
		<-p.finished
	}
	if p.tty && !p.last.IsZero() {
		fmt.Fprintf(p.w, "\r%s: done in %.1fs%s\n", p.label, time.Since(p.start).Seconds(), strings.Repeat(" ", 10))
	}
}
