package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/entgldb/entgldb-go/domain"
)

// nodeClient talks to a running node's HTTP API.
type nodeClient struct {
	base string
	http *http.Client
}

func newNodeClient(addr string) *nodeClient {
	if addr == "" {
		addr = os.Getenv("ENTGLDB_NODE")
	}
	if addr == "" {
		addr = "127.0.0.1:5080"
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return &nodeClient{base: strings.TrimRight(addr, "/"), http: &http.Client{Timeout: 60 * time.Second}}
}

// do sends a request and decodes a JSON answer into out (when non-nil).
// API errors become cliErrors with the server's code.
func (c *nodeClient) do(ctx context.Context, method, path string, body []byte, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, usageErr("bad node address %q: %v", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &cliError{exit: exitUnreachable, code: string(domain.CodeNetwork),
			msg: fmt.Sprintf("node at %s is unreachable: %v", c.base, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &cliError{exit: exitUnreachable, code: string(domain.CodeNetwork), msg: fmt.Sprintf("reading answer: %v", err)}
	}
	if resp.StatusCode >= 400 {
		return resp.Header, apiError(resp.StatusCode, data)
	}
	if out != nil {
		if raw, ok := out.(*json.RawMessage); ok {
			*raw = data
		} else if err := json.Unmarshal(data, out); err != nil {
			return nil, &cliError{exit: exitFailure, code: string(domain.CodeInternal), msg: fmt.Sprintf("unexpected answer from node: %v", err)}
		}
	}
	return resp.Header, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var oe *net.OpError
		if errors.As(ue.Err, &oe) {
			return oe
		}
		return ue.Err
	}
	return err
}

// apiError turns an `{"error":{"code","message"}}` body into a cliError.
func apiError(status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return &cliError{exit: exitFailure, code: string(domain.CodeInternal), msg: fmt.Sprintf("HTTP %d: %s", status, strings.TrimSpace(string(body)))}
	}
	code := domain.Code(e.Error.Code)
	return &cliError{exit: exitFor(code), code: e.Error.Code, msg: e.Error.Message}
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

func docPath(collection, key string) string {
	return "/v1/collections/" + url.PathEscape(collection) + "/docs/" + url.PathEscape(key)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func addClientCommands(root *cobra.Command) {
	var nodeAddr string
	root.PersistentFlags().StringVar(&nodeAddr, "node", "", "node HTTP address (default $ENTGLDB_NODE, else 127.0.0.1:5080)")
	client := func() *nodeClient { return newNodeClient(nodeAddr) }

	root.AddCommand(&cobra.Command{
		Use:   "put COLLECTION KEY JSON",
		Short: "Write a document through a running node (JSON may be @file or - for stdin); prints the version",
		Args:  checkArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readJSONArg(cmd, args[2])
			if err != nil {
				return err
			}
			var out struct {
				Version string `json:"version"`
			}
			if _, err := client().do(cmd.Context(), http.MethodPut, docPath(args[0], args[1]), body, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Version)
			return nil
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "get COLLECTION KEY",
		Short: "Print a document",
		Args:  checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			if _, err := client().do(cmd.Context(), http.MethodGet, docPath(args[0], args[1]), nil, &raw); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(string(raw)))
			return nil
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "delete COLLECTION KEY",
		Short: "Delete a document; prints the version of the delete",
		Args:  checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Version string `json:"version"`
			}
			if _, err := client().do(cmd.Context(), http.MethodDelete, docPath(args[0], args[1]), nil, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Version)
			return nil
		},
	})

	var where, orderBy string
	var desc bool
	var skip, take int
	find := &cobra.Command{
		Use:   "find COLLECTION",
		Short: "Print matching documents, one JSON object a line ({\"key\",\"version\",\"data\"})",
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if where != "" {
				q.Set("where", where)
			}
			if orderBy != "" {
				q.Set("order_by", orderBy)
			}
			if desc {
				q.Set("desc", "true")
			}
			if skip > 0 {
				q.Set("skip", strconv.Itoa(skip))
			}
			if take > 0 {
				q.Set("take", strconv.Itoa(take))
			}
			var out struct {
				Documents []json.RawMessage `json:"documents"`
				Count     int               `json:"count"`
			}
			path := "/v1/collections/" + url.PathEscape(args[0]) + "/docs?" + q.Encode()
			if _, err := client().do(cmd.Context(), http.MethodGet, path, nil, &out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			prog := newProgress(cmd.ErrOrStderr(), "find", int64(len(out.Documents)))
			for i, d := range out.Documents {
				var buf bytes.Buffer
				if json.Compact(&buf, d) == nil {
					d = buf.Bytes()
				}
				fmt.Fprintln(w, string(d))
				prog.set(int64(i + 1))
			}
			prog.done()
			return nil
		},
	}
	find.Flags().StringVar(&where, "where", "", `filter, e.g. '{"age":{"$gt":30}}'`)
	find.Flags().StringVar(&orderBy, "order-by", "", "field to order by (dotted path)")
	find.Flags().BoolVar(&desc, "desc", false, "descending order")
	find.Flags().IntVar(&skip, "skip", 0, "documents to skip")
	find.Flags().IntVar(&take, "take", 0, "documents to return at most (0: all)")
	root.AddCommand(find)

	var countWhere string
	count := &cobra.Command{
		Use:   "count COLLECTION",
		Short: "Print the number of matching documents",
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if countWhere != "" {
				q.Set("where", countWhere)
			}
			var out struct {
				Count int `json:"count"`
			}
			if _, err := client().do(cmd.Context(), http.MethodGet, "/v1/collections/"+url.PathEscape(args[0])+"/count?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Count)
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
			var out struct {
				Collections []string `json:"collections"`
			}
			if _, err := client().do(cmd.Context(), http.MethodGet, "/v1/collections", nil, &out); err != nil {
				return err
			}
			for _, c := range out.Collections {
				fmt.Fprintln(cmd.OutOrStdout(), c)
			}
			return nil
		},
	})
	for _, s := range []struct{ use, path, short string }{
		{"peers", "/v1/peers", "Show the node's peers"},
		{"status", "/v1/status", "Show the node's sync status"},
	} {
		root.AddCommand(&cobra.Command{
			Use:   s.use,
			Short: s.short,
			Args:  checkArgs(cobra.NoArgs),
			RunE: func(cmd *cobra.Command, _ []string) error {
				var raw json.RawMessage
				if _, err := client().do(cmd.Context(), http.MethodGet, s.path, nil, &raw); err != nil {
					return err
				}
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					return err
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
			var raw json.RawMessage
			c := client()
			req, _ := http.NewRequestWithContext(cmd.Context(), http.MethodGet, c.base+"/healthz", nil)
			resp, err := c.http.Do(req)
			if err != nil {
				return &cliError{exit: exitUnreachable, code: string(domain.CodeNetwork), msg: fmt.Sprintf("node at %s is unreachable: %v", c.base, unwrapURLError(err))}
			}
			defer resp.Body.Close()
			raw, _ = io.ReadAll(resp.Body)
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return apiError(resp.StatusCode, raw)
			}
			if err := printJSON(cmd.OutOrStdout(), v); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
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
