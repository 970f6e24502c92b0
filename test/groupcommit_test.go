package test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// kill -9 while 8 clients write at once, so their Puts share commits
// (group commit): after restart every write that got a 200 is present with
// its acknowledged value, and a key all of them overwrite holds a version
// no older than the newest one acknowledged.
func TestKill9UnderConcurrentWritersKeepsEveryAcknowledgedWrite(t *testing.T) {
	n := newNode(t, nodeSpec{NodeID: "group-durable"})
	n.start()

	const writers = 8
	var acked sync.Map // key → body
	var count atomic.Int64
	var hotMu sync.Mutex
	hot := map[domain.Timestamp]string{} // acknowledged versions of the shared key → body
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Its own connection, as a separate program would have.
			node := client.New(n.HTTPAddr, client.WithKey(n.AdminKey()),
				client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, body := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
				if i%4 == 3 {
					key = "hot"
				}
				version, err := node.Put(context.Background(), "load", key, []byte(body))
				var gone *client.UnreachableError
				if errors.As(err, &gone) {
					return
				}
				if err != nil {
					continue // not acknowledged: nothing promised
				}
				count.Add(1)
				if key != "hot" {
					acked.Store(key, body)
					continue
				}
				v, err := domain.ParseTimestamp(version)
				if err != nil {
					t.Errorf("version %q of an acknowledged Put: %v", version, err)
					return
				}
				hotMu.Lock()
				hot[v] = body
				hotMu.Unlock()
			}
		}()
	}
	eventually(t, 30*time.Second, "400 acknowledged writes", func() bool { return count.Load() >= 400 })
	n.kill()
	close(stop)
	wg.Wait()

	n.start()
	missing := 0
	acked.Range(func(k, v any) bool {
		status, body, _ := n.httpDo(http.MethodGet, client.DocPath("load", k.(string)), nil)
		if status != http.StatusOK {
			missing++
			return true
		}
		require.JSONEq(t, v.(string), string(body), k)
		return true
	})
	require.Zero(t, missing, "acknowledged writes lost after kill -9 (of %d)", count.Load())

	require.NotEmpty(t, hot, "some overwrites of the shared key were acknowledged")
	var newest domain.Timestamp
	for v := range hot {
		if v.After(newest) {
			newest = v
		}
	}
	doc, err := n.Client().Get(context.Background(), "load", "hot")
	require.NoError(t, err)
	stored, err := domain.ParseTimestamp(doc.Version)
	require.NoError(t, err)
	require.False(t, newest.After(stored), "the shared key is at %s, older than the acknowledged %s", stored, newest)
	if body, ok := hot[stored]; ok {
		require.JSONEq(t, body, string(doc.Data), "the shared key holds the body of its version")
	}
}
