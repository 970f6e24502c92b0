package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// allDocs returns key → JSON body of every document in a collection.
func (p *nodeProc) allDocs(collection string) (map[string]string, bool) {
	resp, err := http.Get("http://" + p.httpAddr + "/v1/collections/" + collection + "/docs")
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var out struct {
		Documents []struct {
			Key  string          `json:"key"`
			Data json.RawMessage `json:"data"`
		} `json:"documents"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil, false
	}
	docs := make(map[string]string, len(out.Documents))
	for _, d := range out.Documents {
		docs[d.Key] = string(d.Data)
	}
	return docs, true
}

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
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 3000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("n%d-%d", w, i)
				body := fmt.Sprintf(`{"writer":%d,"i":%d}`, w, i)
				req, _ := http.NewRequest(http.MethodPut, "http://"+nodes[w].httpAddr+"/v1/collections/load/docs/"+key, strings.NewReader(body))
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
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
	require.NoError(t, nodes[1].cmd.Process.Kill())
	<-nodes[1].done
	nodes[1].done <- nil
	eventually(t, 20*time.Second, "writes while node 1 is down", func() bool { return ackedCount() >= 300 })
	nodes[1].start()
	eventually(t, 20*time.Second, "writes after node 1 is back", func() bool { return ackedCount() >= 500 })
	close(stop)
	wg.Wait()

	mu.Lock()
	want := acked
	mu.Unlock()
	for _, n := range nodes {
		eventually(t, 30*time.Second, n.httpAddr+" holds every acknowledged write", func() bool {
			docs, ok := n.allDocs("load")
			if !ok {
				return false
			}
			for k, v := range want {
				got, ok := docs[k]
				if !ok {
					return false
				}
				require.JSONEq(t, v, got, "key %s on %s", k, n.httpAddr)
			}
			return true
		})
	}
}
