//go:build linux

package netns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/config"
)

// Ports are the same on every node: each namespace has its own port space.
const (
	tcpPort  = 5000
	udpPort  = 6000
	httpAddr = "127.0.0.1:5080" // each namespace's own loopback
)

// Deadlines of issue 5 (discovery interval 5 s, expiry 15 s).
const (
	discoverWithin = 15 * time.Second
	forgetWithin   = 20 * time.Second
	syncWithin     = 10 * time.Second
)

// TestDiscoveryAcrossNamespaces starts a real `entgldb serve` in each of
// three namespaces on one bridge, with discovery broadcasting to the
// interface's directed broadcast (BroadcastAddress ""), and checks that each
// node finds the other two at their LAN addresses, that a document written on
// one node reaches the others over the discovered addresses, and that a
// stopped node is forgotten.
func TestDiscoveryAcrossNamespaces(t *testing.T) {
	requireNetAdmin(t)
	bin := buildBinary(t)
	l := setupLAN(t, 3)

	ids := []string{"netns-a", "netns-b", "netns-c"}
	token := fmt.Sprintf("netns-cluster-%d", time.Now().UnixNano())
	nodes := make([]*proc, len(ids))
	dirs := make([]string, len(ids))
	for i, id := range ids {
		cfg := writeConfig(t, id, token)
		dirs[i] = filepath.Dir(cfg)
		nodes[i] = startIn(t, l.nodes[i], id, nil, bin, "serve", "--config", cfg)
	}
	started := time.Now()

	// The CLI runs in the namespace, not in the node's directory: it is
	// given the admin key the node made beside its database.
	cli := func(ctx context.Context, i int, args ...string) (string, error) {
		key, err := apikeys.ReadAdminKey(filepath.Join(dirs[i], config.DefaultAdminKeyFileName))
		if err != nil {
			return "", err
		}
		return execIn(ctx, l.nodes[i], append([]string{"env", "ENTGLDB_API_KEY=" + key, bin, "--node", httpAddr}, args...)...)
	}
	peersOf := func(i int) (map[string]peerStatus, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		out, err := cli(ctx, i, "peers")
		if err != nil {
			return nil, err
		}
		var reply struct {
			Peers []peerStatus `json:"peers"`
		}
		if err := json.Unmarshal([]byte(out), &reply); err != nil {
			return nil, fmt.Errorf("peers output %q: %w", out, err)
		}
		m := make(map[string]peerStatus, len(reply.Peers))
		for _, p := range reply.Peers {
			m[p.NodeID] = p
		}
		return m, nil
	}
	// alive fails the test at once when a node has died, instead of
	// letting the caller time out on an unreachable API.
	alive := func(i int) {
		if nodes[i].exited() {
			t.Fatalf("%s exited early: %v\n%s", ids[i], nodes[i].err, tail(nodes[i].log, 30))
		}
	}

	// 1. Every node discovers the other two, at their LAN address and sync
	// port, by broadcast (no static peers are configured).
	took, ok, why := waitFor(discoverWithin, 200*time.Millisecond, func() (bool, string) {
		for i := range ids {
			alive(i)
			peers, err := peersOf(i)
			if err != nil {
				return false, err.Error()
			}
			for j, other := range ids {
				if j == i {
					continue
				}
				p, found := peers[other]
				want := fmt.Sprintf("%s:%d", l.addr(j), tcpPort)
				switch {
				case !found:
					return false, fmt.Sprintf("%s does not list %s (has %v)", ids[i], other, peers)
				case p.Address != want:
					return false, fmt.Sprintf("%s lists %s at %q, want %q", ids[i], other, p.Address, want)
				case p.Source != "discovered":
					return false, fmt.Sprintf("%s lists %s with source %q, want discovered", ids[i], other, p.Source)
				}
			}
		}
		return true, ""
	})
	if !ok {
		t.Fatalf("not every node discovered the other two within %v of start: %s", discoverWithin, why)
	}
	t.Logf("all three nodes discovered each other %v after start (%v of polling)", time.Since(started).Round(time.Millisecond), took.Round(time.Millisecond))

	// 2. A document written on A is readable on B and C: sync dials the
	// discovered addresses across the bridge.
	t.Run("sync", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if out, err := cli(ctx, 0, "put", "netns", "doc1", `{"from":"a","n":1}`); err != nil {
			t.Fatalf("put on %s: %v (%s)", ids[0], err, out)
		}
		for _, i := range []int{1, 2} {
			took, ok, why := waitFor(syncWithin, 200*time.Millisecond, func() (bool, string) {
				alive(i)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				out, err := cli(ctx, i, "get", "netns", "doc1")
				if err != nil {
					return false, err.Error()
				}
				var doc struct {
					From string `json:"from"`
					N    int    `json:"n"`
				}
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					return false, fmt.Sprintf("get output %q: %v", out, err)
				}
				if doc.From != "a" || doc.N != 1 {
					return false, fmt.Sprintf("got %s", strings.TrimSpace(out))
				}
				return true, ""
			})
			if !ok {
				t.Errorf("document written on %s not readable on %s within %v: %s", ids[0], ids[i], syncWithin, why)
				continue
			}
			t.Logf("document reached %s in %v", ids[i], took.Round(time.Millisecond))
		}
	})

	// 3. Stop C; A and B forget it once its beacons stop (expiry 15 s).
	stopped := time.Now()
	if !nodes[2].stop(t, 10*time.Second) {
		t.Errorf("%s did not shut down gracefully on SIGTERM", ids[2])
	}
	took, ok, why = waitFor(forgetWithin, 500*time.Millisecond, func() (bool, string) {
		for _, i := range []int{0, 1} {
			alive(i)
			peers, err := peersOf(i)
			if err != nil {
				return false, err.Error()
			}
			if p, found := peers[ids[2]]; found {
				return false, fmt.Sprintf("%s still lists %s: %+v", ids[i], ids[2], p)
			}
			// The survivors must still know each other.
			other := ids[1-i]
			if _, found := peers[other]; !found {
				return false, fmt.Sprintf("%s lost %s too (has %v)", ids[i], other, slices.Sorted(maps.Keys(peers)))
			}
		}
		return true, ""
	})
	if !ok {
		t.Fatalf("the surviving nodes did not forget %s within %v of its stop: %s", ids[2], forgetWithin, why)
	}
	t.Logf("%s forgotten by both survivors %v after SIGTERM (%v of polling)", ids[2], time.Since(stopped).Round(time.Millisecond), took.Round(time.Millisecond))
}

type peerStatus struct {
	NodeID    string `json:"node_id"`
	Address   string `json:"address"`
	Source    string `json:"source"`
	Connected bool   `json:"connected"`
	LastSeen  int64  `json:"last_seen"`
}

// writeConfig writes an appsettings.json for one node: discovery on,
// broadcasting to each interface's directed broadcast, fast sync rounds,
// and every file under a temporary directory.
func writeConfig(t *testing.T, nodeID, token string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{
		"EntglDb": map[string]any{
			"NodeId":    nodeID,
			"AuthToken": token,
			"Network": map[string]any{
				"TcpPort":          tcpPort,
				"UdpPort":          udpPort,
				"BindAddress":      "0.0.0.0",
				"EnableDiscovery":  true,
				"BroadcastAddress": "", // the point of this test: the veth's directed broadcast
				"StaticPeers":      []string{},
			},
			"Persistence": map[string]any{
				"DatabasePath":     filepath.Join(dir, "entgldb.db"),
				"EnableAutoBackup": false,
				"BackupPath":       filepath.Join(dir, "backups"),
			},
			"Sync":    map[string]any{"IntervalMs": 300},
			"Http":    map[string]any{"Enabled": true, "Address": httpAddr},
			"Logging": map[string]any{"Level": "Debug", "Format": "json"},
		},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "appsettings.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildBinary compiles ./cmd/entgldb from the module root into a temporary
// directory (the build cache makes repeat runs quick).
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the node binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "entgldb")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/entgldb")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/entgldb: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}
