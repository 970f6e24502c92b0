package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The fresh-machine path: `entgldb serve` with no configuration file starts
// on defaults, answers /readyz, takes a write and a read from the CLI, and
// stops cleanly on SIGTERM with exit code 0.
func TestServeOnDefaults(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binPath, "serve")
	cmd.Dir = dir
	// Defaults, except that discovery beacons stay on loopback in tests.
	cmd.Env = append(os.Environ(), "ENTGLDB__NETWORK__BROADCASTADDRESS=127.255.255.255")
	p := &nodeProc{t: t, dir: dir, httpAddr: "127.0.0.1:5080", cmd: cmd}
	p.logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	require.NoError(t, cmd.Start())
	p.done = make(chan error, 1)
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(p.kill)
	p.waitReady(20 * time.Second)

	out, errOut, code := runCLI(t, "put", "users", "alice", `{"name":"Alice","age":31}`)
	require.Equal(t, 0, code, errOut)
	require.NotEmpty(t, out, "put prints the version")
	out, errOut, code = runCLI(t, "get", "users", "alice")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"name":"Alice","age":31}`, out)

	_, errOut, code = runCLI(t, "get", "users", "nobody")
	require.Equal(t, 3, code)
	require.Contains(t, errOut, "error NOT_FOUND:")

	require.Equal(t, 0, p.stop(20*time.Second), p.logs.String())
	_, err := os.Stat(filepath.Join(dir, "data", "entgldb.db"))
	require.NoError(t, err, "the default database path is data/entgldb.db")
}

func TestClientCommandsAgainstNodeThatIsDown(t *testing.T) {
	_, errOut, code := runCLI(t, "--node", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "get", "users", "x")
	require.Equal(t, 5, code)
	require.Contains(t, errOut, "error NETWORK_ERROR:")
}

// Three real processes with static peers: a put on one is readable on the
// others within 5 s; status and peers show each other; metrics count syncs.
func TestThreeNodesConverge(t *testing.T) {
	nodes := startMesh(t, 3, nodeSpec{NodeID: "node"})
	for i, n := range nodes {
		_, errOut, code := n.cli("put", "items", fmt.Sprintf("from-%d", i), fmt.Sprintf(`{"origin":%d}`, i))
		require.Equal(t, 0, code, errOut)
	}
	for _, n := range nodes {
		for i := range nodes {
			key := fmt.Sprintf("from-%d", i)
			eventually(t, 5*time.Second, n.httpAddr+" has "+key, func() bool {
				status, _, _ := n.httpDo(http.MethodGet, "/v1/collections/items/docs/"+key, nil)
				return status == http.StatusOK
			})
		}
	}
	status, body, _ := nodes[0].httpDo(http.MethodGet, "/v1/peers", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), nodes[1].peerAddr())
	require.Contains(t, string(body), nodes[2].peerAddr())

	// The documents may have arrived by gossip push before any anti-entropy
	// round completed: wait for a round (every 200 ms here).
	eventually(t, 5*time.Second, "a successful sync round in the status", func() bool {
		status, body, _ := nodes[0].httpDo(http.MethodGet, "/v1/status", nil)
		require.Equal(t, http.StatusOK, status)
		var st struct {
			LastSync int64 `json:"last_sync"`
		}
		require.NoError(t, json.Unmarshal(body, &st))
		return st.LastSync != 0
	})
	status, body, _ = nodes[0].httpDo(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	require.Regexp(t, `entgldb_sync_rounds_total\{peer="node-[12]"\} [1-9]`, string(body))
}

// startMesh starts n nodes, each a static peer of every other; node ids are
// spec.NodeID-0, spec.NodeID-1, ...
func startMesh(t *testing.T, n int, spec nodeSpec) []*nodeProc {
	t.Helper()
	nodes := make([]*nodeProc, n)
	for i := range nodes {
		s := spec
		s.NodeID = fmt.Sprintf("%s-%d", spec.NodeID, i)
		nodes[i] = newNodeDir(t, s)
	}
	for i, p := range nodes {
		var peers []string
		for j, m := range nodes {
			if j != i {
				peers = append(peers, m.peerAddr())
			}
		}
		rewritePeers(t, p, peers)
	}
	for _, p := range nodes {
		p.start()
	}
	return nodes
}

// rewritePeers sets Network.StaticPeers in a node's config file.
func rewritePeers(t *testing.T, p *nodeProc, peers []string) {
	t.Helper()
	data, err := os.ReadFile(p.config)
	require.NoError(t, err)
	var cfg map[string]map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	cfg["EntglDb"]["Network"].(map[string]any)["StaticPeers"] = peers
	data, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p.config, data, 0o644))
}

// kill -9 under a write load: after restart every write that got a 200 is
// present, with its acknowledged value.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	n := newNodeDir(t, nodeSpec{NodeID: "durable"})
	n.start()

	var acked sync.Map // key → body
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
				req, _ := http.NewRequest(http.MethodPut, "http://"+n.httpAddr+"/v1/collections/load/docs/"+key, strings.NewReader(body))
				resp, err := client.Do(req)
				if err != nil {
					return // the node is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Store(key, body)
					count.Add(1)
				}
			}
		}(w)
	}
	eventually(t, 20*time.Second, "200 acknowledged writes", func() bool { return count.Load() >= 200 })
	require.NoError(t, n.cmd.Process.Kill()) // SIGKILL: no graceful anything
	<-n.done
	n.done <- nil
	close(stop)
	wg.Wait()

	n.start()
	missing := 0
	acked.Range(func(k, v any) bool {
		status, body, _ := n.httpDo(http.MethodGet, "/v1/collections/load/docs/"+k.(string), nil)
		if status != http.StatusOK {
			missing++
			return true
		}
		require.JSONEq(t, v.(string), string(body))
		return true
	})
	require.Zero(t, missing, "acknowledged writes lost after kill -9 (of %d)", count.Load())
}
