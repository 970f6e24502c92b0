package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// cannedNode answers each "METHOD /path" with a fixed status and body and
// records the last query string, so the tests pin what the CLI prints for
// a known answer.
type cannedNode struct {
	mu      sync.Mutex
	answers map[string]struct {
		status int
		body   string
	}
	lastQuery string
}

func (n *cannedNode) on(route string, status int, body string) {
	n.answers[route] = struct {
		status int
		body   string
	}{status, body}
}

func (n *cannedNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.lastQuery = r.URL.RawQuery
	a, ok := n.answers[r.Method+" "+r.URL.Path]
	n.mu.Unlock()
	if !ok {
		a.status, a.body = http.StatusNotFound, `{"error":{"code":"NOT_FOUND","message":"no route"}}`
	}
	if strings.HasPrefix(a.body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func startCannedNode(t *testing.T) (*cannedNode, string) {
	t.Helper()
	n := &cannedNode{answers: map[string]struct {
		status int
		body   string
	}{}}
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	return n, strings.TrimPrefix(srv.URL, "http://")
}

func TestClientCommandsOutput(t *testing.T) {
	n, addr := startCannedNode(t)
	n.on("PUT /v1/collections/users/docs/alice", 200, `{"collection":"users","key":"alice","version":"0000000000001-00000-n1"}`+"\n")
	n.on("GET /v1/collections/users/docs/alice", 200, `{"name":"Alice"}`)
	n.on("DELETE /v1/collections/users/docs/alice", 200, `{"version":"0000000000002-00000-n1"}`)
	n.on("GET /v1/collections/users/docs", 200, `{"documents":[{"key":"a","version":"v1","data":{"x": 1, "s":"\u003cb\u003e"}},{"key":"b","version":"v2","data":{}}],"count":2}`)
	n.on("POST /v1/collections/users/find", 200, `{"documents":[{"key":"c","version":"v3","data":{"y":2}}],"count":1}`)
	n.on("GET /v1/collections/users/count", 200, `{"count":3}`)
	n.on("GET /v1/collections", 200, `{"collections":["orders","users"]}`)
	n.on("GET /v1/status", 200, `{"online":true,"node_id":"n1","peers":[]}`)

	cases := []struct {
		name  string
		args  []string
		out   string
		query string
	}{
		{"put prints the version", []string{"put", "users", "alice", `{"name":"Alice"}`}, "0000000000001-00000-n1\n", ""},
		{"get prints the document", []string{"get", "users", "alice"}, `{"name":"Alice"}` + "\n", ""},
		{"delete prints the version", []string{"delete", "users", "alice"}, "0000000000002-00000-n1\n", ""},
		{"find prints one compact document a line",
			[]string{"find", "users", "--where", `{"x":1}`, "--order-by", "x", "--desc", "--skip", "1", "--take", "2"},
			`{"key":"a","version":"v1","data":{"x":1,"s":"\u003cb\u003e"}}` + "\n" + `{"key":"b","version":"v2","data":{}}` + "\n",
			"desc=true&order_by=x&skip=1&take=2&where=%7B%22x%22%3A1%7D"},
		{"find with a sort document and fields posts the query",
			[]string{"find", "users", "--where", `{"x":1}`, "--sort", `{"y":-1,"x":1}`, "--fields", `["y"]`},
			`{"key":"c","version":"v3","data":{"y":2}}` + "\n", ""},
		{"count prints the number", []string{"count", "users", "--where", `{"x":1}`}, "3\n", "where=%7B%22x%22%3A1%7D"},
		{"collections prints one name a line", []string{"collections"}, "orders\nusers\n", ""},
		{"status prints the answer indented", []string{"status"}, "{\n  \"node_id\": \"n1\",\n  \"online\": true,\n  \"peers\": []\n}\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append([]string{"--node", addr}, tc.args...)...)
			require.Equal(t, exitOK, code, errOut)
			require.Equal(t, tc.out, out)
			require.Empty(t, errOut)
			n.mu.Lock()
			defer n.mu.Unlock()
			require.Equal(t, tc.query, n.lastQuery)
		})
	}
}

func TestClientCommandsErrors(t *testing.T) {
	n, addr := startCannedNode(t)
	n.on("GET /v1/collections/users/docs/nobody", 404, `{"error":{"code":"NOT_FOUND","message":"users/nobody not found"}}`)
	n.on("PUT /v1/collections/users/docs/a", 400, `{"error":{"code":"INVALID_ARGUMENT","message":"document must be a JSON object"}}`)
	n.on("PUT /v1/collections/users/docs/full", 503, `{"error":{"code":"NETWORK_ERROR","message":"no peer"}}`)
	n.on("GET /v1/collections/users/count", 502, "bad gateway\n")
	n.on("GET /healthz", 503, `{"is_healthy":false,"errors":["database"]}`)

	cases := []struct {
		name   string
		args   []string
		exit   int
		stderr string
		out    string
	}{
		{"missing document", []string{"get", "users", "nobody"}, exitNotFound, "error NOT_FOUND: users/nobody not found\n", ""},
		{"bad document", []string{"put", "users", "a", "[1]"}, exitUsage, "error INVALID_ARGUMENT: document must be a JSON object\n", ""},
		{"the node's own NETWORK_ERROR is a failure, not unreachable", []string{"put", "users", "full", "{}"}, exitFailure, "error NETWORK_ERROR: no peer\n", ""},
		{"an answer without an error body", []string{"count", "users"}, exitFailure, "error INTERNAL_ERROR: HTTP 502: bad gateway\n", ""},
		{"unhealthy node prints its report", []string{"health"}, exitFailure, "error UNHEALTHY: node reports it is unhealthy\n",
			"{\n  \"errors\": [\n    \"database\"\n  ],\n  \"is_healthy\": false\n}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append([]string{"--node", addr}, tc.args...)...)
			require.Equal(t, tc.exit, code, errOut)
			require.Equal(t, tc.stderr, errOut)
			require.Equal(t, tc.out, out)
		})
	}

	down := closedPort(t)
	_, errOut, code := runCLI(t, "", "--node", down, "status")
	require.Equal(t, exitUnreachable, code)
	require.True(t, strings.HasPrefix(errOut, "error NETWORK_ERROR: node at http://"+down+" is unreachable: dial tcp "), errOut)
}

func TestBackupThroughNodeCopiesWhatTheNodeWroteElsewhere(t *testing.T) {
	dir := t.TempDir()
	written := filepath.Join(dir, "node-side.db")
	require.NoError(t, writeFile(written, "backup bytes"))
	n, addr := startCannedNode(t)
	n.on("POST /v1/admin/backup", 200, `{"path":"`+written+`","bytes":12}`)
	want := filepath.Join(dir, "wanted.db")
	out, errOut, code := runCLI(t, "", "--node", addr, "backup", "--out", want)
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, want+" 12 bytes\n", out)
	got, err := readFile(want)
	require.NoError(t, err)
	require.Equal(t, "backup bytes", got)
	fi, err := os.Stat(want)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a backup holds every document")
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
