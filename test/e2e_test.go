package test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// The fresh-machine path: `entgldb serve` with no configuration file starts
// on defaults, answers /readyz, takes a write and a read from the CLI, and
// stops cleanly on SIGTERM with exit code 0.
func TestServeOnDefaults(t *testing.T) {
	// Defaults, except that discovery beacons stay on loopback in tests.
	proc, err := nodeproc.New(binPath, nodeproc.Spec{Dir: t.TempDir(), OnDefaults: true,
		Env: []string{"ENTGLDB__NETWORK__BROADCASTADDRESS=127.255.255.255"}})
	require.NoError(t, err)
	p := track(t, proc)
	p.start()

	// In the node's directory with no flags at all, as after `make run`: the
	// CLI finds the admin key the node made (data/admin.key).
	dir := p.Spec.Dir
	out, errOut, code := runCLIIn(t, dir, "put", "users", "alice", `{"name":"Alice","age":31}`)
	require.Equal(t, 0, code, errOut)
	require.NotEmpty(t, out, "put prints the version")
	out, errOut, code = runCLIIn(t, dir, "get", "users", "alice")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"name":"Alice","age":31}`, out)
	requirePrivate(t, filepath.Join(dir, "data", "admin.key"))

	_, errOut, code = runCLIIn(t, dir, "get", "users", "nobody")
	require.Equal(t, 3, code)
	require.Contains(t, errOut, "error NOT_FOUND:")

	require.Equal(t, 0, p.stop(), p.Log())
	// Cleanly: nothing warns or fails while the node shuts down (a read of
	// the closed store once logged a warning at every stop).
	log := p.Log()
	at := strings.Index(log, "shutting down")
	require.GreaterOrEqual(t, at, 0, log)
	for _, line := range strings.Split(log[at:], "\n") {
		require.NotRegexp(t, `\t(WARN|ERROR)\t`, line)
	}
	_, err = os.Stat(filepath.Join(p.Spec.Dir, "data", "entgldb.db"))
	require.NoError(t, err, "the default database path is data/entgldb.db")
}

func TestClientCommandsAgainstNodeThatIsDown(t *testing.T) {
	port, err := nodeproc.FreePort()
	require.NoError(t, err)
	_, errOut, code := runCLI(t, "--node", fmt.Sprintf("127.0.0.1:%d", port), "get", "users", "x")
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
			eventually(t, 5*time.Second, n.HTTPAddr+" has "+key, func() bool { return n.has("items", key) })
		}
	}
	peers, err := nodes[0].Client().Peers(context.Background())
	require.NoError(t, err)
	var addrs []string
	for _, p := range peers {
		addrs = append(addrs, p.Address)
	}
	require.Contains(t, addrs, nodes[1].PeerAddr())
	require.Contains(t, addrs, nodes[2].PeerAddr())

	// The documents may have arrived by gossip push before any anti-entropy
	// round completed: wait for a round (every 200 ms here).
	eventually(t, 5*time.Second, "a successful sync round in the status", func() bool {
		st, err := nodes[0].Client().Status(context.Background())
		require.NoError(t, err)
		return st.LastSuccessfulSync != 0
	})
	status, body, _ := nodes[0].httpDo(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	require.Regexp(t, `entgldb_sync_rounds_total\{peer="node-[12]"\} [1-9]`, string(body))
}

// kill -9 under a write load: after restart every write that got a 200 is
// present, with its acknowledged value.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	n := newNode(t, nodeSpec{NodeID: "durable"})
	n.start()

	var acked sync.Map // key → body
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			node := client.New(n.HTTPAddr, client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}), client.WithKey(n.AdminKey()))
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
				_, err := node.Put(context.Background(), "load", key, []byte(body))
				var gone *client.UnreachableError
				if errors.As(err, &gone) {
					return
				}
				if err == nil {
					acked.Store(key, body)
					count.Add(1)
				}
			}
		}(w)
	}
	eventually(t, 20*time.Second, "200 acknowledged writes", func() bool { return count.Load() >= 200 })
	n.kill()
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
