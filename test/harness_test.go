package test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// binPath is the entgldb binary built once for the black-box tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entgldb-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "entgldb")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	err = nodeproc.Build(ctx, binPath)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building entgldb:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The deadlines of the tests' nodes.
const (
	readyWithin = 20 * time.Second
	stopWithin  = 20 * time.Second
)

// testNode is a nodeproc.Proc bound to its test: failures fail the test,
// and the process is killed by its PID when the test ends.
type testNode struct {
	*nodeproc.Proc
	t *testing.T
}

// nodeSpec is what the tests vary of a node.
type nodeSpec struct {
	NodeID    string
	AuthToken string // empty: "e2e-cluster"
	Peers     []string
	Secure    bool
	Env       []string // added to the process's environment (ENTGLDB__ overrides)
}

// newNode prepares a node on loopback ports in its own temporary directory
// and writes its configuration (sync every 200 ms, Debug logs); start runs it.
func newNode(t *testing.T, spec nodeSpec) *testNode {
	t.Helper()
	token := spec.AuthToken
	if token == "" {
		token = "e2e-cluster"
	}
	p, err := nodeproc.New(binPath, nodeproc.Spec{Dir: t.TempDir(), NodeID: spec.NodeID, AuthToken: token,
		Secure: spec.Secure, SyncIntervalMs: 200, RetryDelayMs: 50, ConnectionTimeoutMs: 1000, LogLevel: "Debug", Env: spec.Env})
	require.NoError(t, err)
	p.SetPeers(spec.Peers)
	require.NoError(t, p.WriteConfig())
	return track(t, p)
}

// track binds p to t: whatever happens, its process is killed at the end.
func track(t *testing.T, p *nodeproc.Proc) *testNode {
	t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			t.Error(err)
		}
	})
	return &testNode{Proc: p, t: t}
}

// start launches the process and waits until /readyz answers 200.
func (n *testNode) start() {
	n.t.Helper()
	require.NoError(n.t, n.Start(context.Background(), readyWithin))
}

// stop sends SIGTERM and returns the exit code.
func (n *testNode) stop() int {
	n.t.Helper()
	code, err := n.Stop(stopWithin)
	require.NoError(n.t, err, n.Log())
	return code
}

// kill sends SIGKILL: no graceful anything.
func (n *testNode) kill() {
	n.t.Helper()
	require.NoError(n.t, n.Kill())
}

// cli runs the entgldb binary against this node and returns stdout, stderr
// and the exit code. It runs in the node's directory, as an operator on the
// node's machine would: the CLI finds the node's admin key through the
// appsettings.json there.
func (n *testNode) cli(args ...string) (string, string, int) {
	return runCLIIn(n.t, n.Spec.Dir, append([]string{"--node", n.HTTPAddr}, args...)...)
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLIIn(t, "", args...)
}

// runCLIIn is runCLI in the working directory dir ("": the test's), where
// the CLI finds a node's appsettings.json.
func runCLIIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "running entgldb %v", args)
		code = ee.ExitCode()
	}
	return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), code
}

// httpDo sends a request to the node's API as given and returns status,
// body and headers whatever the status; header holds name, value pairs.
func (n *testNode) httpDo(method, path string, body []byte, header ...string) (int, []byte, http.Header) {
	n.t.Helper()
	resp, err := n.Client().Do(context.Background(), method, path, body, header...)
	require.NoError(n.t, err)
	return resp.Status, resp.Body, resp.Header
}

// has reports whether the node holds a live document.
func (n *testNode) has(collection, key string) bool {
	status, _, _ := n.httpDo(http.MethodGet, client.DocPath(collection, key), nil)
	return status == http.StatusOK
}

// allDocs returns key → JSON body of every document in a collection.
func (n *testNode) allDocs(collection string) (map[string]string, bool) {
	found, err := n.Client().Find(context.Background(), collection, client.Query{})
	if err != nil {
		return nil, false
	}
	docs := make(map[string]string, len(found))
	for _, d := range found {
		docs[d.Key] = string(d.Data)
	}
	return docs, true
}

// startMesh starts n nodes, each a static peer of every other; node ids are
// spec.NodeID-0, spec.NodeID-1, ...
func startMesh(t *testing.T, n int, spec nodeSpec) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	for i := range nodes {
		s := spec
		s.NodeID = fmt.Sprintf("%s-%d", spec.NodeID, i)
		nodes[i] = newNode(t, s)
	}
	meshPeers(nodes)
	for _, p := range nodes {
		p.start()
	}
	return nodes
}

// meshPeers makes each node a static peer of every other.
func meshPeers(nodes []*testNode) {
	for i, p := range nodes {
		var peers []string
		for j, m := range nodes {
			if j != i {
				peers = append(peers, m.PeerAddr())
			}
		}
		p.SetPeers(peers)
	}
}

// eventually polls cond until it is true or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
}
