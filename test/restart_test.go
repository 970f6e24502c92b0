package test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
)

// A node killed with SIGKILL in the middle of syncing under a write load on
// its peers comes back, catches up, and the mesh converges: every write
// acknowledged by any node is on every node with its acknowledged value.
func TestKill9MidSyncConverges(t *testing.T) {
	nodes := startMesh(t, 3, nodeSpec{NodeID: "mesh"})

	var mu sync.Mutex
	acked := map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Writers on nodes 0 and 2; node 1 is the one we kill.
	for _, w := range []int{0, 2} {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			node := client.New(nodes[w].HTTPAddr, client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}),
				client.WithKey(nodes[w].AdminKey()))
			for i := 0; i < 3000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("n%d-%d", w, i)
				body := fmt.Sprintf(`{"writer":%d,"i":%d}`, w, i)
				if _, err := node.Put(context.Background(), "load", key, []byte(body)); err == nil {
					mu.Lock()
					acked[key] = body
					mu.Unlock()
				}
			}
		}(w)
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	eventually(t, 20*time.Second, "100 acknowledged writes", func() bool { return ackedCount() >= 100 })
	nodes[1].kill()
	eventually(t, 20*time.Second, "writes while node 1 is down", func() bool { return ackedCount() >= 300 })
	nodes[1].start()
	eventually(t, 20*time.Second, "writes after node 1 is back", func() bool { return ackedCount() >= 500 })
	close(stop)
	wg.Wait()

	mu.Lock()
	want := acked
	mu.Unlock()
	for _, n := range nodes {
		eventually(t, 30*time.Second, n.HTTPAddr+" holds every acknowledged write", func() bool {
			docs, ok := n.allDocs("load")
			if !ok {
				return false
			}
			for k, v := range want {
				got, ok := docs[k]
				if !ok {
					return false
				}
				require.JSONEq(t, v, got, "key %s on %s", k, n.HTTPAddr)
			}
			return true
		})
	}
}
